"""Great-circle distances and round-trip estimates."""

import pytest

from regions.geo import FIBRE_GROUP_INDEX, LIGHT_KM_PER_MS, LatencyModel, great_circle_km


def test_zero_distance():
    assert great_circle_km(10, 20, 10, 20) == 0


def test_quarter_meridian():
    # Equator to pole along a meridian is a quarter of the circumference: pi/2 x R.
    assert great_circle_km(0, 0, 90, 0) == pytest.approx(3.141592653589793 / 2 * 6371.0088)


def test_london_to_new_york():
    # Heathrow (51.47, -0.4543) to JFK (40.6413, -73.7781): about 5,540 km by great circle.
    assert great_circle_km(51.47, -0.4543, 40.6413, -73.7781) == pytest.approx(5540, rel=0.01)


def test_rtt_is_twice_the_stretched_distance_in_fibre():
    model = LatencyModel(path_stretch=1.5)
    expected = 2 * 1000 * 1.5 * FIBRE_GROUP_INDEX / LIGHT_KM_PER_MS  # 14.69 ms for 1,000 km
    assert model.rtt_ms(1000) == pytest.approx(expected)
    assert expected == pytest.approx(14.69, abs=0.01)
