"""Region and residency names in profiles: unknown ones are refused with the field path and close matches."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regions.catalog import load_catalog
from regions.names import check_profile_names
from tests.helpers import profile
from workloads.loading import load_profile

EXAMPLES = sorted((Path(__file__).parents[2] / "workloads" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _problems(catalog, **overrides):
    return check_profile_names(profile(**overrides), catalog)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_profiles_name_only_known_regions(path, catalog):
    assert check_profile_names(load_profile(path), catalog) == []


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param(["aws:us-east-1", "us-east1", "westeurope"], id="keys-and-bare-codes-on-every-cloud"),
        pytest.param(["US", "DE", "EU", "EEA", "gcp:europe-west4"], id="countries-groups-and-regions"),
    ],
)
def test_known_names_pass(catalog, entries):
    regions = [e for e in entries if len(e) > 3]
    assert _problems(catalog, placement={"allowed_regions": regions, "denied_regions": regions}) == []
    assert _problems(catalog, compliance={"data_residency": entries}) == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param(
            {"placement": {"clouds": ["aws"], "allowed_regions": ["us-east1"]}},
            "placement.allowed_regions.0",
            "no aws region 'us-east1' (gcp:us-east1 exists, but placement.clouds is aws); did you mean 'us-east-1'",
            id="a-gcp-code-on-an-aws-only-profile",
        ),
        pytest.param(
            {"placement": {"allowed_regions": ["aws:us-eest-1"]}},
            "placement.allowed_regions.0",
            "unknown aws region 'us-eest-1'; did you mean 'aws:us-west-1', 'aws:us-east-1'",
            id="a-mistyped-key",
        ),
        pytest.param(
            {"placement": {"denied_regions": ["us-east-1", "eu-west-9"]}},
            "placement.denied_regions.1",
            "unknown region 'eu-west-9'; did you mean 'eu-west-3', 'eu-west-2', 'eu-west-1'?",
            id="a-denied-region-that-does-not-exist",
        ),
        pytest.param(
            {"placement": {"denied_regions": ["US-EAST-2"]}},
            "placement.denied_regions.0",
            "unknown region 'US-EAST-2'; did you mean 'us-east-2'",
            id="case-differs",
        ),
        pytest.param(
            {"compliance": {"data_residency": ["US", "eu-west-9"]}},
            "compliance.data_residency.1",
            "unknown region 'eu-west-9': residency entries are ISO countries ('US'), groups (EEA, EU) or regions; "
            "did you mean 'eu-west-3'",
            id="residency-region",
        ),
        pytest.param(
            {"compliance": {"data_residency": ["UK"]}},
            "compliance.data_residency.0",
            "'UK' is not an ISO 3166-1 alpha-2 code; did you mean 'GB'? ISO 3166 codes the United Kingdom 'GB'",
            id="uk-is-gb",
        ),
        pytest.param(
            {"compliance": {"data_residency": ["EL"]}},
            "compliance.data_residency.0",
            "did you mean 'GR'?",
            id="el-is-gr",
        ),
        pytest.param(
            {"compliance": {"data_residency": ["us"]}},
            "compliance.data_residency.0",
            "unknown country 'us': expected an ISO 3166-1 alpha-2 code such as 'US' or 'DE'; did you mean 'US'?",
            id="lower-case-country",
        ),
        pytest.param(
            {"compliance": {"data_residency": ["XQ"]}},
            "compliance.data_residency.0",
            "unknown country 'XQ'",
            id="not-a-country",
        ),
        pytest.param(
            {"compliance": {"data_residency": ["eea"]}},
            "compliance.data_residency.0",
            "unknown country group 'eea'; the groups are EEA, EU, in upper case",
            id="lower-case-group",
        ),
    ],
)
def test_unknown_names_are_refused_with_their_field_and_close_matches(catalog, overrides, field, message):
    problems = dict(_problems(catalog, **overrides))
    assert list(problems) == [field]
    assert message in problems[field]


def test_a_hostile_name_gives_a_bounded_message(catalog):
    problems = _problems(catalog, placement={"allowed_regions": ["x" * 100_000]})
    ((field, message),) = problems
    assert field == "placement.allowed_regions.0"
    assert len(message) < 100 and "..." in message


def test_a_list_of_unknown_names_gives_a_bounded_list_of_problems(catalog):
    problems = _problems(catalog, placement={"allowed_regions": [f"nowhere-{i}" for i in range(200)]})
    assert len(problems) == 11
    assert problems[-1] == ("placement.allowed_regions", "190 more unknown entries not listed")


@settings(max_examples=100, deadline=None)
@given(entry=st.text(max_size=30))
def test_any_residency_entry_is_accepted_or_refused_with_one_message(entry):
    problems = check_profile_names(profile(compliance={"data_residency": [entry]}), load_catalog())
    assert problems == [] or [field for field, _ in problems] == ["compliance.data_residency.0"]
