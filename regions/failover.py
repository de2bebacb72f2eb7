"""High availability as capacity: losing any one region, the others serve its users' peak within the SLO.

Required of a workload whose availability target is at least ``HA_AVAILABILITY`` (99.9 %): for
every region the plan opens, another opened region of the workload must be able to take over all
the geographies it serves: reach each within its network budget (``max_rtt_ms``) and within the
p95 with that region's service time, and hold their peak on top of its own within
``max_replicas``. The MILP states that as one row per served set; the plan then raises the
surviving regions' max nodes to what each single-region failure sends them (the nearest able
region takes the failed region's users), and the explanation says what happens when each region
fails. Splitting one failed region's users over several survivors is not modelled: one survivor
takes them all, which may ask for more than the least a split would.

Spot capacity can be reclaimed all at once in a region, which for the workload is that region
failing: its users move to their taker as above. Where a workload allows spot, its own steady and
peak capacity may run on spot, and what a taker must add for a failure elsewhere is an on-demand
floor beside it (a node group with min and desired 0, max the nodes the takeover needs), since
spot may be short just when it is needed. Failures are single: two regions at once, or spot
reclaimed in two regions at once, are not covered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from workloads.profiles import HA_AVAILABILITY, WorkloadProfile

if TYPE_CHECKING:  # columns import this module for failover_required
    from regions.columns import Column, StageChoice

__all__ = ["Failover", "failover_required", "nodes_at_load", "plan_failover", "reach_mask", "spare_share", "takes_over"]

_EPS = 1e-9  # keeps exact multiples from rounding up


def failover_required(profile: WorkloadProfile) -> bool:
    """Whether the availability target asks that losing a region leave the peak served."""
    return profile.slo.availability >= HA_AVAILABILITY


def _share(profile: WorkloadProfile, names: frozenset[str]) -> float:
    return sum(u.share for u in profile.placement.users if u.name in names)


def nodes_at_load(stage_share: Any, peak_rps: float, load: Any, replica_rps: Any, per_node: Any) -> Any:
    """Nodes of one stage that serve ``load`` (a share of all users) at peak; scalars or arrays."""
    replicas = np.ceil(stage_share * peak_rps * load / replica_rps - _EPS)
    return np.ceil(replicas / per_node - _EPS)


def _stage_shares(profile: WorkloadProfile) -> dict[str, float]:
    return {stage.name: stage.share for stage in profile.stages}


def reach_mask(profile: WorkloadProfile, rtt_ms: dict[tuple[str, str], float], column: Column) -> int:
    """Bits of the geographies (bit i: the profile's i-th) the column could serve besides its own:
    within each one's network budget, and within the p95 with the column's service time."""
    service = sum(c.option.point.service_ms for c in column.choices)
    mask = 0
    for i, user in enumerate(profile.placement.users):
        rtt = rtt_ms[(user.name, column.region.key)]
        if user.name in column.served or (user.max_rtt_ms is not None and rtt > user.max_rtt_ms):
            continue
        if rtt + service <= profile.slo.p95_latency_ms + _EPS:
            mask |= 1 << i
    return mask


def spare_share(profile: WorkloadProfile, column: Column) -> float:
    """The share of all users' peak the column could take on top of its own within ``max_replicas``."""
    shares = _stage_shares(profile)
    room = math.inf
    for choice in column.choices:
        demand = shares[choice.stage] * profile.slo.peak_rps
        if demand > 0:
            room = min(room, (profile.scaling.max_replicas + _EPS) * choice.option.point.replica_rps / demand)
    # A column whose region's accelerator quota holds only so much reserves room for that share alone.
    return min(room - _share(profile, column.served), column.takeover_share)


def takes_over(
    profile: WorkloadProfile, rtt_ms: dict[tuple[str, str], float], column: Column, geographies: frozenset[str]
) -> bool:
    """Whether ``column`` can serve all of ``geographies`` at peak besides its own users."""
    bits = sum(1 << i for i, u in enumerate(profile.placement.users) if u.name in geographies)
    reach = reach_mask(profile, rtt_ms, column)
    return reach & bits == bits and _share(profile, geographies) <= spare_share(profile, column) + _EPS


@dataclass(frozen=True)
class Failover:
    """The plan's columns with max nodes for every single-region failure, and what each failure does."""

    columns: tuple[Column, ...]
    notes: dict[str, str]
    """Region key -> what happens when that region fails."""


def plan_failover(profile: WorkloadProfile, rtt_ms: dict[tuple[str, str], float], chosen: Sequence[Column]) -> Failover:
    """Raises survivors' max nodes to what each single-region failure sends them; notes each failure."""
    if not failover_required(profile) or len(chosen) < 2:
        return Failover(tuple(chosen), {})
    shares = _stage_shares(profile)
    needed: dict[tuple[str, str], int] = {}  # (region key, stage) -> max nodes over failures
    notes: dict[str, str] = {}
    for failed in chosen:
        if not failed.served:
            notes[failed.region.key] = "if this region fails, no users move: it serves none at steady state"
            continue
        survivors = [c for c in chosen if c is not failed]
        able = [c for c in survivors if takes_over(profile, rtt_ms, c, failed.served)]
        if not able:
            notes[failed.region.key] = (
                f"if this region fails, NOT covered: no other region takes {', '.join(sorted(failed.served))}"
            )
            continue
        target = min(able, key=lambda c: (max(rtt_ms[(g, c.region.key)] for g in failed.served), c.region.key))
        spot = any(c.option.capacity == "spot" for c in target.choices)
        load = _share(profile, target.served | failed.served)
        for choice in target.choices:
            point = choice.option.point
            nodes = int(
                nodes_at_load(shares[choice.stage], profile.slo.peak_rps, load, point.replica_rps, point.per_node)
            )
            key = (target.region.key, choice.stage)
            needed[key] = max(needed.get(key, 0), nodes)
        rtts = ", ".join(f"{g} {rtt_ms[(g, target.region.key)]:.0f} ms" for g in sorted(failed.served))
        covered = "whose on-demand takeover nodes cover it" if spot else "whose max nodes cover it"
        notes[failed.region.key] = (
            f"if this region fails, its users' peak moves to {target.region.key} ({rtts}), {covered}"
        )
    columns = tuple(
        replace(column, choices=tuple(_cover(c, needed.get((column.region.key, c.stage), 0)) for c in column.choices))
        for column in chosen
    )
    return Failover(columns, notes)


def _cover(choice: StageChoice, nodes: int) -> StageChoice:
    """The stage choice able to run ``nodes`` when it takes over: on-demand nodes raise its max; beside
    spot nodes, an on-demand group holds the rest (min and desired 0, so it costs nothing until then)."""
    if nodes <= choice.nodes_max:
        return choice
    if choice.option.capacity == "spot":
        return replace(choice, takeover_nodes=nodes - choice.nodes_max)
    return replace(choice, nodes_max=nodes)
