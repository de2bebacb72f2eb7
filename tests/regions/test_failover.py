"""High availability as capacity: in the example plans, losing any one region leaves every user's peak served."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from regions.catalog import load_catalog
from regions.diagnosis import PlacementError
from regions.failover import failover_required
from regions.placement import place_fleet
from regions.settings import PlacementSettings
from tensorfleet.engine import read_stack_config
from tensorfleet.program_config import decode_value
from tensorfleet.stack_config import parse_stack_config
from tests.conftest import ENVIRONMENTS
from tests.helpers import offering, profile, region, spec, tiny_catalog
from workloads.loading import load_profile

ROOT = Path(__file__).resolve().parents[2]


def _stack_plan(name: str, **changes):
    """The stack's placement from its config, with top-level keys replaced by ``changes``."""
    config, _ = read_stack_config(name)
    values = {k.removeprefix("tensorfleet:"): v for k, v in config.items() if k.startswith("tensorfleet:")}
    values.update({k: json.dumps(v) for k, v in changes.items()})
    parsed = parse_stack_config({k: decode_value(k, v) for k, v in values.items()}, name)
    catalog = load_catalog()
    profiles = [load_profile(ROOT / ref.profile, ref.overrides) for ref in parsed.workloads]
    return place_fleet(profiles, catalog, parsed.placement_settings(catalog))


def _survives(plan, failed) -> str | None:
    """Which surviving region serves the failed region's users at peak within the SLO, by arithmetic
    on the plan's own figures; None if none does."""
    prof, rtt = plan.profile, plan.problem.rtt_ms
    moved = [u for u in prof.placement.users if u.name in failed.served]
    for survivor in plan.columns:
        if survivor is failed:
            continue
        service = sum(c.option.point.service_ms for c in survivor.choices)
        if any(rtt[(u.name, survivor.region.key)] + service > prof.slo.p95_latency_ms for u in moved):
            continue
        if any(u.max_rtt_ms is not None and rtt[(u.name, survivor.region.key)] > u.max_rtt_ms for u in moved):
            continue
        load = sum(u.share for u in prof.placement.users if u.name in survivor.served) + sum(u.share for u in moved)
        shares = {s.name: s.share for s in prof.stages}
        if all(
            (c.nodes_max + c.takeover_nodes) * c.option.point.replicas_per_node * c.option.point.replica_rps
            >= shares[c.stage] * prof.slo.peak_rps * load - 1e-6
            for c in survivor.choices
        ):
            return survivor.region.key
    return None


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_example_workload_at_99_9_survives_losing_any_region_at_peak(stack):
    plan = _stack_plan(stack)
    checked = 0
    for workload in plan.workloads:
        if not failover_required(workload.profile):
            continue
        assert len(workload.columns) >= 2, workload.profile.name
        for failed in workload.columns:
            if not failed.served:
                continue
            checked += 1
            survivor = _survives(workload, failed)
            assert survivor is not None, (workload.profile.name, failed.region.key)
            note = workload.failover[failed.region.key]
            assert f"moves to {survivor}" in note or "moves to" in note, note
    assert stack == "dev" or checked, "the staging and prod stacks hold 99.9 % workloads"


def test_a_standby_at_99_9_holds_the_peak_it_takes_over():
    """New York's users (60 rps peak, 10 rps per one-L4 replica) served from east; at 99.9 % the
    standby in west must hold their whole peak when east fails, not one node."""
    east = region("aws", "east", 40.7, -74.0, 400.0, "US")
    west = region("aws", "west", 37.8, -122.4, 300.0, "US")
    catalog = tiny_catalog(
        [east, west],
        [offering("aws", "east", "l4.east", "L4", 1, 1.00), offering("aws", "west", "l4.west", "L4", 1, 1.50)],
        [spec("L4")],
    )
    slo = {"p95_latency_ms": 150, "availability": 0.999}  # west is 81 ms from New York: 81 + 50 ms fits
    (plan,) = place_fleet([profile(slo=slo, placement={"min_regions": 2})], catalog, COST).workloads
    by_region = {c.region.code: c for c in plan.columns}
    assert set(by_region) == {"east", "west"} and by_region["east"].served and not by_region["west"].served
    assert by_region["west"].choices[0].nodes_max == math.ceil(60 / 10)
    standby = by_region["west"].choices[0]
    assert standby.nodes_desired == standby.nodes_min  # max nodes are capacity to scale to, not cost at steady state
    assert "moves to aws:west" in plan.failover["aws:east"]
    assert _survives(plan, by_region["east"]) == "aws:west"
    # At 99 % nothing has to survive a loss: the standby keeps one node at most.
    relaxed = profile(slo={**slo, "availability": 0.99}, placement={"min_regions": 2})
    (cheap,) = place_fleet([relaxed], catalog, COST).workloads
    assert next(c for c in cheap.columns if c.region.code == "west").choices[0].nodes_max == 1
    assert not cheap.failover


def test_two_regions_that_cannot_cover_each_other_are_not_highly_available():
    """New York served from east, San Francisco from west: each is 81 ms from the other coast, so
    with a 120 ms p95 (50 ms of service) neither region can take the other's users. At 99 % that
    plan stands; at 99.9 % it would not survive a loss, and the request is infeasible."""
    east = region("aws", "east", 40.7, -74.0, 400.0, "US")
    west = region("aws", "west", 37.8, -122.4, 300.0, "US")
    catalog = tiny_catalog(
        [east, west],
        [offering("aws", "east", "l4.east", "L4", 1, 1.00), offering("aws", "west", "l4.west", "L4", 1, 1.00)],
        [spec("L4")],
    )
    users = [
        {"name": "new-york", "latitude": 40.71, "longitude": -74.01, "share": 0.5},
        {"name": "san-francisco", "latitude": 37.77, "longitude": -122.42, "share": 0.5},
    ]
    placement = {"users": users, "min_regions": 2}
    (plan,) = place_fleet([profile(slo={"p95_latency_ms": 120}, placement=placement)], catalog, COST).workloads
    assert {c.region.code for c in plan.columns if c.served} == {"east", "west"}
    with pytest.raises(PlacementError):
        place_fleet([profile(slo={"p95_latency_ms": 120, "availability": 0.999}, placement=placement)], catalog, COST)
    # With room in the p95 each coast covers the other, and each region's max nodes hold both.
    (covered,) = place_fleet(
        [profile(slo={"p95_latency_ms": 150, "availability": 0.999}, placement=placement)], catalog, COST
    ).workloads
    for column in covered.columns:
        assert column.choices[0].nodes_max == math.ceil(60 / 10)  # the whole peak, both coasts
        assert _survives(covered, column) is not None


COST = PlacementSettings(objective="cost")


def test_spot_carries_its_own_users_and_an_on_demand_floor_takes_over():
    """Both coasts on spot at 99.9 %: each region serves its own users' peak on spot nodes, and when
    the other region fails (or its spot is reclaimed) the users it takes over land on on-demand
    nodes beside them, which cost nothing until then."""
    east = region("aws", "east", 40.7, -74.0, 400.0, "US")
    west = region("aws", "west", 37.8, -122.4, 300.0, "US")
    catalog = tiny_catalog(
        [east, west],
        [
            offering("aws", "east", "l4.east", "L4", 1, 1.00, spot=0.30),
            offering("aws", "west", "l4.west", "L4", 1, 1.00, spot=0.30),
        ],
        [spec("L4")],
    )
    users = [
        {"name": "new-york", "latitude": 40.71, "longitude": -74.01, "share": 0.5},
        {"name": "san-francisco", "latitude": 37.77, "longitude": -122.42, "share": 0.5},
    ]
    ha = profile(
        slo={"p95_latency_ms": 150, "availability": 0.999},
        placement={"users": users, "min_regions": 2},
        capacity={"spot": True},
    )
    (plan,) = place_fleet([ha], catalog, COST).workloads
    for column in plan.columns:
        (choice,) = column.choices
        assert choice.option.capacity == "spot"
        assert choice.nodes_max == math.ceil(30 / 10)  # its own users' peak: half of 60 rps
        assert choice.takeover_nodes == math.ceil(60 / 10) - choice.nodes_max  # the other coast's on top
        assert choice.monthly_usd == pytest.approx(choice.nodes_desired * 0.30 * 730)  # the floor costs nothing idle
        assert _survives(plan, column) is not None
    assert "on-demand takeover nodes cover it" in plan.failover["aws:east"]
