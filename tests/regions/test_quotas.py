"""Accelerator quotas: the stack's accelerators at max nodes per (region, accelerator) stay within
each, failover takers included; a quota that cannot be met is named with the least that works."""

from __future__ import annotations

import pytest

from regions.diagnosis import PlacementError, describe, stack_audience
from regions.placement import place_fleet
from regions.quotas import AcceleratorQuota
from regions.settings import PlacementSettings
from tests.helpers import offering, profile, region, spec, tiny_catalog

EAST = region("aws", "east", 40.7, -74.0, 400.0, "US")
WEST = region("aws", "west", 37.8, -122.4, 300.0, "US")
CATALOG = tiny_catalog(
    [EAST, WEST],
    [
        offering("aws", "east", "l4.east", "L4", 1, 1.00),
        offering("aws", "east", "l4x4.east", "L4", 4, 3.00),
        offering("aws", "west", "l4.west", "L4", 1, 1.50),
    ],
    [spec("L4")],
)
# 10 rps per one-L4 replica, steady 25 and peak 60 rps: 3 nodes desired, 6 at peak (6 L4s) on the
# one-L4 shape; on the four-L4 shape 1 node desired, 2 at peak (8 L4s) at $3/h against $3/h.
WIDE = {"slo": {"p95_latency_ms": 5000}}


def _usage(plan, key):
    return sum(
        c.nodes_max * c.option.offering.accelerator_count
        for w in plan.workloads
        for column in w.columns
        for c in column.choices
        if (column.region.key, c.option.offering.accelerator) == key
    )


def _settings(*quotas):
    return PlacementSettings(objective="cost", quotas=tuple(AcceleratorQuota(*q) for q in quotas))


def test_without_quotas_the_cheapest_shape_in_the_cheapest_region_wins():
    plan = place_fleet([profile(**WIDE)], CATALOG, _settings())
    (column,) = plan.workloads[0].columns
    assert column.region.key == "aws:east"
    assert _usage(plan, ("aws:east", "L4")) in (6, 8)


def test_a_quota_below_the_peak_moves_capacity_elsewhere_and_never_overruns():
    plan = place_fleet([profile(**WIDE)], CATALOG, _settings(("aws:east", "L4", 5)))
    (column,) = plan.workloads[0].columns
    assert column.region.key == "aws:west"  # 6 L4s at peak do not fit 5 in east
    assert _usage(plan, ("aws:east", "L4")) == 0


def test_a_quota_shared_by_two_workloads_caps_their_sum():
    """Each alone fits 8 L4s in east; together they need 12, so one goes west."""
    a, b = profile(name="a", **WIDE), profile(name="b", **WIDE)
    plan = place_fleet([a, b], CATALOG, _settings(("aws:east", "L4", 8)))
    assert _usage(plan, ("aws:east", "L4")) <= 8
    assert sorted(w.columns[0].region.key for w in plan.workloads) == ["aws:east", "aws:west"]


def test_a_workload_a_quota_shuts_out_is_told_the_least_quota_that_works():
    only_east = profile(placement={"allowed_regions": ["aws:east"]}, **WIDE)
    with pytest.raises(PlacementError) as error:
        place_fleet([only_east], CATALOG, _settings(("aws:east", "L4", 4)))
    first = error.value.diagnoses[0]
    assert (first.constraint, first.current, first.nearest) == ("quota", 4, 6)
    assert place_fleet([only_east], CATALOG, _settings(("aws:east", "L4", 6))).workloads
    with pytest.raises(PlacementError):
        place_fleet([only_east], CATALOG, _settings(("aws:east", "L4", 5)))


def test_workloads_feasible_alone_but_not_together_name_the_shared_quota():
    a = profile(name="a", placement={"allowed_regions": ["aws:east"]}, **WIDE)
    b = profile(name="b", placement={"allowed_regions": ["aws:east"]}, **WIDE)
    with pytest.raises(PlacementError) as error:
        place_fleet([a, b], CATALOG, _settings(("aws:east", "L4", 8)))
    (first,) = error.value.diagnoses
    assert (first.constraint, first.workload, first.nearest) == ("quota", None, 12)
    text = describe(error.value, stack_audience("dev", {}))
    assert "tensorfleet:quotas (in stacks/Pulumi.dev.yaml) = 8 accelerators for L4 in aws:east" in text
    assert "raise it to at least 12" in text


def test_a_failover_taker_reserves_the_quota_its_takeover_needs():
    """At 99.9 % across east and west, each region must hold all users' peak when the other fails:
    6 L4s at peak each. A quota of 5 in west rules west out as a taker, so no plan exists and the
    diagnosis asks for 6; at 6 the plan's raised max nodes fit."""
    users = [
        {"name": "ny", "latitude": 40.7, "longitude": -74.0, "share": 0.5},
        {"name": "sf", "latitude": 37.8, "longitude": -122.4, "share": 0.5},
    ]
    ha = profile(
        slo={"p95_latency_ms": 5000, "availability": 0.999},
        placement={"users": users, "min_regions": 2},
    )
    with pytest.raises(PlacementError) as error:
        place_fleet([ha], CATALOG, _settings(("aws:west", "L4", 5)))
    first = error.value.diagnoses[0]
    assert (first.constraint, first.nearest) == ("quota", 6)
    plan = place_fleet([ha], CATALOG, _settings(("aws:west", "L4", 6)))
    assert _usage(plan, ("aws:west", "L4")) == 6
    assert "moves to aws:west" in plan.workloads[0].failover["aws:east"]


def test_a_stack_config_quota_of_zero_moves_every_workload_off_that_region_and_accelerator():
    from tests.regions.test_failover import _stack_plan

    plan = _stack_plan("prod")
    used = {
        (column.region.key, c.option.offering.accelerator)
        for w in plan.workloads
        for column in w.columns
        for c in column.choices
    }
    key = sorted(used)[0]
    constrained = _stack_plan("prod", quotas=[{"region": key[0], "accelerator": key[1], "limit": 0}])
    assert _usage(constrained, key) == 0


def test_a_quota_of_zero_on_the_only_allowed_region_is_named():
    only_east = profile(placement={"allowed_regions": ["aws:east"]}, **WIDE)
    with pytest.raises(PlacementError) as error:
        place_fleet([only_east], CATALOG, _settings(("aws:east", "L4", 0)))
    first = error.value.diagnoses[0]
    assert (first.constraint, first.current, first.nearest) == ("quota", 0, 6)
