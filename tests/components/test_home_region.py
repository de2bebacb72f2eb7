"""The home region of the stack-wide AWS resources (budget alert topic, its key, the budgets) lies
inside every workload's data residency, whether chosen or pinned."""

from __future__ import annotations

import pulumi
import pytest

from regions.catalog import load_catalog
from regions.residency import expand_residency
from tests.components.aws_mocks import ACCOUNT, run_stack

EU = ["EU"]
EU_SHOWN = f"[{expand_residency(EU).describe()}]"  # "[EU (27 countries: AT, BE, ...)]"
EU_IMAGING = {
    "profile": "workloads/examples/diagnostic-imaging.yaml",
    "overrides": {
        "compliance": {"hipaa": True, "data_residency": EU},
        "placement": {
            "clouds": ["aws"],
            "users": [
                {"name": "frankfurt", "latitude": 50.11, "longitude": 8.68, "share": 0.6},
                {"name": "paris", "latitude": 48.86, "longitude": 2.35, "share": 0.4},
            ],
        },
    },
}


def _triage(*residency: str) -> dict:
    """The gateway-only example workload, restricted to ``residency``."""
    return {
        "profile": "workloads/examples/support-triage.yaml",
        "overrides": {"compliance": {"data_residency": list(residency)}},
    }


US_TRIAGE = _triage("US")


def _run(**changes):
    """The dev stack with only the EU imaging workload, unless ``changes`` say otherwise."""
    config = {"workloads": [EU_IMAGING], "aws": {"account_id": ACCOUNT}, "budgetMonthlyUsd": 200_000, **changes}
    return run_stack("dev", **config)


def _fleet_regions(run):
    return sorted(f.name.removeprefix("aws-") for f in run.registrations if f.type == "tensorfleet:aws:RegionFleet")


def _provider_regions(run):
    """Region of each AWS resource's provider, by the resource's URN."""
    regions = {p.urn: p.inputs["region"] for p in run.registrations if p.type == "pulumi:providers:aws"}
    return {r.urn: regions[r.provider.rsplit("::", 1)[0]] for r in run.registrations if r.type.startswith("aws:")}


def _topic_region(run):
    (topic,) = [r for r in run.registrations if r.type == "aws:sns/topic:Topic"]
    return _provider_regions(run)[topic.urn]


def _alert_keys(run):
    return [k.name for k in run.registrations if k.type == "tensorfleet:aws:RegionKey" and "alerts" in k.name]


@pytest.fixture(scope="module")
def eu_only():
    return _run()


def test_an_eu_only_hipaa_stack_registers_nothing_outside_its_residency(eu_only):
    catalog = load_catalog()
    regions = _provider_regions(eu_only)
    assert regions and {r.type for r in eu_only.registrations if r.urn in regions} >= {
        "aws:sns/topic:Topic",
        "aws:budgets/budget:Budget",
        "aws:kms/key:Key",
    }
    assert "us-east-1" not in set(regions.values())
    assert all(expand_residency(EU).allows(catalog.region("aws", code)) for code in regions.values())


def test_the_chosen_home_is_the_first_allowed_region_with_a_key_of_its_own(eu_only):
    # The default follows residencies only: the first EU region by code, fleet or not.
    assert _topic_region(eu_only) == "eu-central-1"
    assert _alert_keys(eu_only) == ["aws-eu-central-1-alerts-key"]


def test_us_east_1_stays_the_home_where_every_residency_allows_it():
    run = _run(workloads=[{**EU_IMAGING, "overrides": {**EU_IMAGING["overrides"], "compliance": {}}}])
    assert _topic_region(run) == "us-east-1"
    assert _alert_keys(run) == ["aws-us-east-1-alerts-key"]


def test_a_residency_that_excludes_the_others_moves_the_home():
    run = _run(workloads=[EU_IMAGING, _triage("IE")])
    assert "eu-west-1" not in _fleet_regions(run)
    assert _topic_region(run) == "eu-west-1"  # the only region the Irish-only workload allows
    assert _alert_keys(run) == ["aws-eu-west-1-alerts-key"]


def test_the_home_does_not_follow_the_fleets(eu_only):
    """A price refresh that moves fleets must not move (replace) the alert topic or its key."""
    placement = {**EU_IMAGING["overrides"]["placement"], "denied_regions": ["aws:eu-central-1"], "min_regions": 1}
    overrides = {**EU_IMAGING["overrides"], "placement": placement, "slo": {"availability": 0.99}}
    moved = _run(workloads=[{**EU_IMAGING, "overrides": overrides}])
    assert "eu-central-1" in _fleet_regions(eu_only) and "eu-central-1" not in _fleet_regions(moved)
    assert _topic_region(moved) == _topic_region(eu_only) == "eu-central-1"
    assert _alert_keys(moved) == _alert_keys(eu_only)


def test_a_pinned_home_region_is_used():
    run = _run(aws={"account_id": ACCOUNT, "home_region": "eu-west-1"})
    assert _topic_region(run) == "eu-west-1"


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        pytest.param(
            {"aws": {"account_id": ACCOUNT, "home_region": "us-east-1"}},
            [
                "tensorfleet:aws.home_region: 'us-east-1' is outside the compliance.data_residency of workload "
                f"'diagnostic-imaging' ({EU_SHOWN})",
                "regions every workload allows: eu-central-1, eu-north-1, eu-south-1, eu-south-2, eu-west-1, eu-west-3",
            ],
            id="outside-residency",
        ),
        pytest.param(
            {"aws": {"account_id": ACCOUNT, "home_region": "eu-centrl-1"}},
            ["tensorfleet:aws.home_region: unknown aws region 'eu-centrl-1'; did you mean 'eu-central-1'"],
            id="unknown-region",
        ),
        pytest.param(
            {"workloads": [EU_IMAGING, US_TRIAGE]},
            [
                "no AWS region can hold the stack-wide budget alert topic, its key and the AWS budgets",
                f"workloads 'diagnostic-imaging' ({EU_SHOWN}) and 'support-triage' ([US]) share no AWS region",
            ],
            id="no-common-region",
        ),
        pytest.param(
            {"workloads": [EU_IMAGING, US_TRIAGE], "aws": {"account_id": ACCOUNT, "home_region": "eu-west-1"}},
            [
                "tensorfleet:aws.home_region: 'eu-west-1' is outside the compliance.data_residency of workload "
                "'support-triage' ([US])",
                f"no region qualifies: workloads 'diagnostic-imaging' ({EU_SHOWN}) and 'support-triage' ([US]) "
                "share no AWS region",
            ],
            id="pinned-and-no-common-region",
        ),
    ],
)
def test_a_home_region_outside_a_residency_is_one_clean_error(changes, fragments):
    with pytest.raises(pulumi.RunError) as exc_info:
        _run(**changes)
    message = str(exc_info.value)
    assert all(fragment in message for fragment in fragments), message
    assert "Traceback" not in message
