"""The performance model against published serving measurements (regions/data/serving_measurements.csv)."""

from __future__ import annotations

import math

import pytest

from regions.calibration import (
    BORROWED,
    CHIP_FAMILIES,
    NOT_FOR_LLMS,
    fit_families,
    load_efficiencies,
    load_points,
    predict,
)
from regions.catalog import load_catalog

TOLERANCE = 2.0
"""Every published figure is predicted within a factor of two (README: the model's measured error)."""
FAMILY_GEOMETRIC_MEAN = 1.4
"""Per family, the geometric mean of |predicted / measured| stays within 40 %."""


@pytest.fixture(scope="module")
def points():
    return load_points()


@pytest.fixture(scope="module")
def stored():
    return load_efficiencies()


def test_the_set_is_broad_enough(points):
    assert len(points) >= 30
    measured_both = {p.family for p in points if p.output_tokens_per_s and (p.ttft_s or p.tpot_s or p.e2e_s)}
    assert len(measured_both) >= 5, "five chip families need both throughput and latency figures"
    assert all(p.source and p.tokens_in > 0 and p.tokens_out > 0 for p in points)


def test_the_stored_fit_is_the_fit_of_the_stored_data(points, stored):
    """Editing the measurements, the links or the model without refitting fails here."""
    refit = fit_families(points)
    assert set(refit) == set(stored)
    for family, fit in refit.items():
        mine, theirs = fit.efficiency, stored[family].efficiency
        for name in ("bandwidth", "compute", "step_overhead_s", "allreduce_latency_s"):
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), rel=1e-4), (family, name)
        assert (fit.points, fit.borrowed_from) == (stored[family].points, stored[family].borrowed_from)


def test_every_point_is_predicted_within_the_tolerance(points, stored):
    misses = []
    for point in points:
        for metric, (predicted, measured) in predict(point, stored[point.family].efficiency).items():
            if not 1 / TOLERANCE <= predicted / measured <= TOLERANCE:
                misses.append((point.line, point.accelerator, point.hardware.chips, point.load, metric,
                               round(predicted, 4), measured))  # fmt: skip
    assert not misses


def test_every_family_is_close_on_average(points, stored):
    for family in {p.family for p in points}:
        logs = [abs(math.log(p / m)) for point in points if point.family == family
                for p, m in predict(point, stored[family].efficiency).values()]  # fmt: skip
        assert math.exp(sum(logs) / len(logs)) <= FAMILY_GEOMETRIC_MEAN, family


def test_every_llm_chip_of_the_catalog_has_efficiencies(stored):
    for name in load_catalog().specs:
        family = CHIP_FAMILIES[name]
        assert family in NOT_FOR_LLMS or family in stored, name
    assert all(stored[f].borrowed_from == source for f, source in BORROWED.items() if stored[f].points == 0)
    assert CHIP_FAMILIES["Inferentia"] in NOT_FOR_LLMS
