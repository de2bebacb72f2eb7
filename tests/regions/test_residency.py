"""Data residency: country and group data, expansion, eligibility and explanations."""

from __future__ import annotations

import pytest

from regions.catalog import load_catalog
from regions.explain import explain
from regions.options import eligible_regions
from regions.placement import place_fleet
from regions.residency import NON_ISO_CODES, countries, country_groups, expand_residency
from regions.settings import PlacementSettings
from tests.helpers import profile

# Eurostat, "Glossary:Country codes" (Greece as ISO GR, not the EU's EL).
EU_27 = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"}
EU_27 |= {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}


def test_every_catalog_region_lies_in_a_known_country():
    assert {r.country_code for r in load_catalog().regions.values()} <= set(countries())


def test_groups_hold_their_members():
    groups = country_groups()
    assert set(groups["EU"]) == EU_27
    assert set(groups["EEA"]) - set(groups["EU"]) == {"IS", "LI", "NO"}
    assert all(set(members) <= set(countries()) for members in groups.values())
    assert not set(groups) & set(countries())  # a group name is never also a country code


def test_non_iso_codes_are_not_countries_and_point_at_ones_that_are():
    assert not set(NON_ISO_CODES) & set(countries())
    assert {iso for iso, _ in NON_ISO_CODES.values()} <= set(countries())


def test_expansion_keeps_countries_groups_and_regions_apart():
    residency = expand_residency(["EEA", "CH", "aws:us-east-1"])
    assert residency.countries == EU_27 | {"IS", "LI", "NO", "CH"}
    assert residency.regions == {"aws:us-east-1"}
    assert residency.describe().startswith("EEA (30 countries: AT, BE, BG,")
    assert residency.describe().endswith("SI, SK), CH, aws:us-east-1")


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param(["US"], {"US"}, id="a-country-as-before"),
        pytest.param(["EU"], EU_27, id="eu"),
        pytest.param(["EEA"], EU_27 | {"IS", "LI", "NO"}, id="eea"),
        pytest.param(["EU", "GB"], EU_27 | {"GB"}, id="eu-and-a-country"),
    ],
)
def test_eligible_regions_are_those_in_the_expanded_countries(entries, expected):
    catalog = load_catalog()
    eligible = eligible_regions(profile(compliance={"data_residency": entries}), catalog, PlacementSettings())
    assert {r.key for r in eligible} == {r.key for r in catalog.regions.values() if r.country_code in expected}


def test_a_region_entry_allows_that_region_only():
    request = profile(compliance={"data_residency": ["aws:eu-west-2"]})
    assert [r.key for r in eligible_regions(request, load_catalog(), PlacementSettings())] == ["aws:eu-west-2"]


def test_explanation_spells_out_the_group():
    frankfurt = [{"name": "frankfurt", "latitude": 50.11, "longitude": 8.68, "share": 1.0}]
    request = profile(
        slo={"p95_latency_ms": 5000}, placement={"users": frankfurt}, compliance={"data_residency": ["EU"]}
    )
    plan = place_fleet([request], load_catalog(), PlacementSettings(objective="cost")).workloads[0]
    (row,) = plan.rows
    assert row.region.country_code in EU_27
    reason = explain(plan)[(row.region.key, "main")]
    assert f"in {row.region.country_code}, within data residency EU (27 countries: AT, BE, BG, CY," in reason
