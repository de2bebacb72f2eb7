"""Columns of the placement MILP: one region serving one set of user geographies, sized optimally.

For a fixed region and served set the best offering, operating point and node count of every
stage is found by enumeration (vectorised over every region and served set of a workload at
once), so the MILP in :mod:`regions.placement` only decides which columns to combine.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from regions.catalog import Catalog, Region
from regions.failover import failover_required, nodes_at_load
from regions.footprint import footprint_of
from regions.options import Option, OptionTable, option_table
from regions.pricing import node_monthly_usd
from regions.settings import PlacementSettings, carbon_price, objective_value
from workloads.profiles import UserGeography, WorkloadProfile

__all__ = ["Column", "StageChoice", "build_columns"]


@dataclass(frozen=True, slots=True)
class StageChoice:
    """An option with its node counts in one column."""

    stage: str
    option: Option
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    takeover_nodes: int = 0
    """On-demand nodes (min and desired 0) beside spot ones, up to this many, that take over what a
    failure elsewhere sends here: spot capacity may be reclaimed just when it is needed."""

    @property
    def monthly_usd(self) -> float:
        return node_monthly_usd(self.option.usd_per_node_hour, self.nodes_desired)

    @property
    def monthly_kgco2(self) -> float | None:
        kg = self.option.kg_per_node_month
        return None if kg is None else self.nodes_desired * kg


@dataclass(frozen=True, slots=True)
class Column:
    """One region serving a set of geographies, with the best stage choices for it."""

    region: Region
    served: frozenset[str]
    """Names of the user geographies this region serves; empty for a standby region."""
    choices: tuple[StageChoice, ...]
    monthly_usd: float
    monthly_kgco2: float | None
    objective: float
    weighted_rtt_ms: float
    """Sum over served geographies of traffic share x RTT: the tie-breaker between equal plans."""
    quota_use: tuple[tuple[int, int], ...] = ()
    """(position in ``settings.quotas``, accelerators) the column may run at peak against each quota
    its region and accelerators fall under."""
    takeover_share: float = math.inf
    """Share of all users this column may take over when another region fails; finite where its
    region's quota holds only room for that much (each such level is a column of its own)."""


# --- columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subsets:
    """Every (region, served set) pair to evaluate, as parallel arrays plus the member tuples."""

    region: np.ndarray
    served: np.ndarray
    """Bit mask of the served geographies (bit i: the profile's i-th user geography)."""
    weight: np.ndarray
    budget_ms: np.ndarray
    weighted_rtt: np.ndarray
    members: list[tuple[UserGeography, ...]]


def build_columns(
    profile: WorkloadProfile,
    catalog: Catalog,
    settings: PlacementSettings,
    regions: list[Region],
    rtt: dict[tuple[str, str], float],
    served_only: frozenset[str] | None = None,
    exclude: tuple[str, str] | None = None,
    max_open: int | None = None,
) -> tuple[list[Column], int]:
    """Every Pareto-optimal column over ``regions``, and how many options passed the static filters.

    Args:
        max_open: the most regions an optimal plan needs; columns that cannot be needed are then
            dropped (see :func:`_needed`). Default: keep every Pareto-optimal column.
        served_only: only columns serving exactly this set (runner-up questions).
        exclude: ``(stage, accelerator)`` to leave out of that stage (runner-up questions).
    """
    tables = [
        option_table(s, profile, catalog, regions, settings, exclude[1] if exclude and exclude[0] == s.name else None)
        for s in profile.stages
    ]
    considered = sum(int(t.shape.size) for t in tables)
    subsets = _subsets(profile, regions, tables, rtt, served_only)
    if subsets.region.size == 0:
        return [], considered
    price = carbon_price(profile, settings)
    pairs = [_pairs(profile, settings, price, table, subsets) for table in tables]
    if len(tables) == 1:
        candidates = [(pairs[0].subset, np.arange(pairs[0].subset.size))]  # already grouped by subset
    else:
        # Where failover counts, a replica's throughput is room to take over users: a figure too, up
        # to what holds every user's peak within max_replicas (beyond that, more tells nothing).
        failover = failover_required(profile)
        room = [
            np.minimum(t.replica_rps[p.row], t.stage.share * profile.slo.peak_rps / profile.scaling.max_replicas)
            if failover
            else None
            for p, t in zip(pairs, tables, strict=True)
        ]
        candidates = [_fronts3(p, r) for p, r in zip(pairs, room, strict=True)]
    footprint = footprint_of(catalog, settings.fleet)
    opening = np.array([footprint.region_fixed(r.key) + footprint.cloud_fixed(r.cloud) for r in regions] or [0.0])
    in_usd = settings.objective != "carbon"
    reach = _Reach.of(profile, regions, rtt) if failover_required(profile) else None
    limits = np.array([q.limit for q in settings.quotas], dtype=float)
    columns = _columns(regions, tables, subsets, pairs, candidates, max_open, opening, in_usd, limits, reach)
    return columns, considered


@dataclass(frozen=True)
class _Reach:
    """What deciding which region can take a geography over needs (:mod:`regions.failover`), as arrays."""

    rtt: np.ndarray
    """[region position, geography] round trip, ms."""
    max_rtt: np.ndarray
    share: np.ndarray
    p95: float
    peak_rps: float
    max_replicas: int

    @classmethod
    def of(cls, profile: WorkloadProfile, regions: list[Region], rtt: dict[tuple[str, str], float]) -> _Reach:
        users = profile.placement.users
        return cls(
            np.array([[rtt[(u.name, r.key)] for u in users] for r in regions]).reshape(len(regions), len(users)),
            np.array([np.inf if u.max_rtt_ms is None else u.max_rtt_ms for u in users]),
            np.array([u.share for u in users]),
            profile.slo.p95_latency_ms,
            profile.slo.peak_rps,
            profile.scaling.max_replicas,
        )

    def reach(self, region: np.ndarray, served: np.ndarray, service: np.ndarray) -> np.ndarray:
        """Bit mask, per column, of the geographies it could also serve (bit i: the i-th geography):
        within each one's network budget and, with its service time, the p95 (as regions.failover)."""
        mask = np.zeros(region.size, dtype=np.int64)
        for g in range(self.share.size):
            distance = self.rtt[region, g]
            ok = ((served >> g) & 1 == 0) & (distance <= self.max_rtt[g]) & (distance + service <= self.p95 + 1e-9)
            mask |= ok.astype(np.int64) << g
        return mask

    def spare(self, weight: np.ndarray, stages: list[tuple[float, np.ndarray]]) -> np.ndarray:
        """Share of all users' peak each column could take on top of its own within max_replicas."""
        room = np.full(weight.size, np.inf)
        for stage_share, replica_rps in stages:
            demand = stage_share * self.peak_rps
            if demand > 0:
                room = np.minimum(room, (self.max_replicas + 1e-9) * replica_rps / demand)
        # No failure sends a region more than every other user: room beyond that tells nothing.
        return np.minimum(room - weight, 1.0 - weight)


def _subsets(
    profile: WorkloadProfile,
    regions: list[Region],
    tables: list[OptionTable],
    rtt: dict[tuple[str, str], float],
    served_only: frozenset[str] | None,
) -> _Subsets:
    users = profile.placement.users
    p95 = profile.slo.p95_latency_ms
    region_idx: list[int] = []
    served_mask: list[int] = []
    bit = {u.name: 1 << i for i, u in enumerate(users)}
    weight: list[float] = []
    budget: list[float] = []
    weighted: list[float] = []
    members: list[tuple[UserGeography, ...]] = []
    for i, region in enumerate(regions):
        slices = [t.service[t.rows(i)] for t in tables]
        if any(s.size == 0 for s in slices):
            continue
        min_service = sum(float(s.min()) for s in slices)
        distance = {u.name: rtt[(u.name, region.key)] for u in users}
        reachable = [
            u
            for u in users
            if distance[u.name] + min_service <= p95 and (u.max_rtt_ms is None or distance[u.name] <= u.max_rtt_ms)
        ]
        if not reachable:
            continue
        nearest = min(distance.values())
        for size in range(len(reachable) + 1):
            for served in itertools.combinations(reachable, size):
                if served_only is not None and frozenset(u.name for u in served) != served_only:
                    continue
                region_idx.append(i)
                served_mask.append(sum(bit[u.name] for u in served))
                weight.append(sum(u.share for u in served))
                # A standby must still reach its nearest geography within the SLO after a failover.
                budget.append(p95 - (max(distance[u.name] for u in served) if served else nearest))
                weighted.append(sum(u.share * distance[u.name] for u in served))
                members.append(served)
    return _Subsets(
        np.array(region_idx, dtype=np.int64),
        np.array(served_mask, dtype=np.int64),
        np.array(weight),
        np.array(budget),
        np.array(weighted),
        members,
    )


@dataclass(frozen=True)
class _Pairs:
    """Feasible (subset, option row) pairs of one stage with their sizing and figures."""

    subset: np.ndarray
    row: np.ndarray
    nodes_min: np.ndarray
    nodes_desired: np.ndarray
    nodes_max: np.ndarray
    usd: np.ndarray
    kg: np.ndarray
    objective: np.ndarray
    service: np.ndarray
    quota: np.ndarray
    """Position of the quota the pair's accelerators count against; -1: none."""
    use: np.ndarray
    """Accelerators at max nodes (what the quota counts); 0 where no quota applies."""
    chips: np.ndarray
    node_rps: np.ndarray
    """Requests per second one node serves: with ``chips``, how fast taking over users adds to ``use``."""


def _pairs(
    profile: WorkloadProfile, settings: PlacementSettings, price: float, table: OptionTable, subsets: _Subsets
) -> _Pairs:
    """Sizes every option of each subset's region for that subset's traffic, vectorised."""
    counts = table.starts[subsets.region + 1] - table.starts[subsets.region]
    subset = np.repeat(np.arange(subsets.region.size), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    row = np.arange(int(counts.sum())) - first + np.repeat(table.starts[subsets.region], counts)
    scaling = profile.scaling
    share = table.stage.share * subsets.weight[subset]
    replica_rps = table.replica_rps[row]
    per_node = table.per_node[row]
    eps = 1e-9  # keeps exact multiples from rounding up
    peak_replicas = np.ceil(share * profile.slo.peak_rps / replica_rps - eps).clip(min=0)
    feasible = (table.service[row] <= subsets.budget_ms[subset]) & (peak_replicas <= scaling.max_replicas)
    subset, row, peak_replicas, replica_rps, per_node, share = (
        a[feasible] for a in (subset, row, peak_replicas, replica_rps, per_node, share)
    )
    # Replicas first, then nodes: a replica that spans nodes (per_node = 1/n, exact for n a power of
    # two) takes whole groups of n nodes.
    nodes_min = np.ceil(scaling.min_replicas / per_node - eps)
    steady_replicas = np.ceil(share * profile.slo.steady_rps / replica_rps - eps)
    nodes_desired = np.maximum(nodes_min, np.ceil(steady_replicas / per_node - eps))
    nodes_max = np.maximum.reduce(
        [
            nodes_desired,
            np.ceil(np.maximum(peak_replicas, scaling.min_replicas) / per_node),
            np.ones_like(nodes_desired),
        ]
    )
    usd = nodes_desired * table.price_month[row] + table.storage_month[subsets.region[subset]]
    kg = nodes_desired * table.kg_node[row]
    return _Pairs(
        subset=subset,
        row=row,
        nodes_min=nodes_min,
        nodes_desired=nodes_desired,
        nodes_max=nodes_max,
        usd=usd,
        kg=kg,
        objective=objective_value(settings.objective, usd, np.nan_to_num(kg), price),
        service=table.service[row],
        quota=table.quota[row],
        use=np.where(table.quota[row] >= 0, nodes_max * table.chips[row], 0),
        chips=table.chips[row],
        node_rps=replica_rps * per_node,
    )


def _choice(table: OptionTable, pairs: _Pairs, j: int) -> StageChoice:
    return StageChoice(
        table.stage.name,
        table.option(int(pairs.row[j])),
        int(pairs.nodes_min[j]),
        int(pairs.nodes_desired[j]),
        int(pairs.nodes_max[j]),
    )


def _columns(
    regions: list[Region],
    tables: list[OptionTable],
    subsets: _Subsets,
    pairs: list[_Pairs],
    candidates: list[tuple[np.ndarray, np.ndarray]],
    max_open: int | None,
    opening: np.ndarray,
    in_usd: bool,
    limits: np.ndarray,
    reach: _Reach | None = None,
) -> list[Column]:
    """Per subset, every combination of the stages' candidates that fits the latency budget,
    reduced to its (USD, objective) Pareto front and to what an optimal plan can need; all
    subsets at once."""
    subset, picks = _ragged_product(candidates, subsets.region.size)
    if subset.size == 0:
        return []
    service = sum((p.service[k] for p, k in zip(pairs, picks, strict=True)), np.zeros(subset.size))
    fits = np.flatnonzero(service <= subsets.budget_ms[subset] + 1e-9)
    if fits.size == 0:
        return []
    subset, service, picks = subset[fits], service[fits], [k[fits] for k in picks]
    usd = sum((p.usd[k] for p, k in zip(pairs, picks, strict=True)), np.zeros(subset.size))
    objective = sum((p.objective[k] for p, k in zip(pairs, picks, strict=True)), np.zeros(subset.size))
    quotas = np.unique(np.concatenate([p.quota[k] for p, k in zip(pairs, picks, strict=True)]))
    quotas = quotas[quotas >= 0]
    use = np.zeros((subset.size, quotas.size))
    for p, k in zip(pairs, picks, strict=True):
        counted = np.flatnonzero(p.quota[k] >= 0)
        use[counted, np.searchsorted(quotas, p.quota[k][counted])] += p.use[k][counted]
    combo = np.arange(subset.size)
    able = np.zeros(subset.size, dtype=np.int64)
    room = np.zeros(subset.size)
    level = np.full(subset.size, np.inf)
    if reach is not None:
        # Which geographies each combination could take over when another region fails, and how much
        # peak it has room for: a faster or roomier but dearer combination can be the one that does,
        # so the front is kept per reach and counts room as a figure.
        stages = [(t.stage.share, t.replica_rps[p.row[k]]) for t, p, k in zip(tables, pairs, picks, strict=True)]
        able = reach.reach(subsets.region[subset], subsets.served[subset], service)
        room = reach.spare(subsets.weight[subset], stages)
        if quotas.size:
            combo, level, use = _takeover_levels(reach, subsets, subset, tables, pairs, picks, quotas, able, room, use)
            able, room = able[combo], np.minimum(room[combo], level)
    if quotas.size:  # what runs more accelerators than a quota allows can never be part of a plan
        within = (use <= limits[quotas] + 1e-9).all(axis=1)
        combo, level, use, able, room = combo[within], level[within], use[within], able[within], room[within]
        if combo.size == 0:
            return []
    figures = [usd[combo], objective[combo], *use.T]
    order = np.lexsort((figures[1], figures[0], subset[combo]))
    group, goal, mask, spare = subset[combo][order], figures[1][order], able[order], room[order]
    used = use[order]
    same_group = np.concatenate(([False], group[1:] == group[:-1]))
    # Sorted by USD within each subset, a combination is dropped when a cheaper one is no worse on
    # the objective and, where failover counts, reaches all it reaches with as much room, and under
    # a quota counts no more accelerators. Checked against the cheaper ones best on each figure:
    # what survives is a superset of the front.
    beaten = np.zeros(order.size, dtype=bool)
    reach_size = np.array([int(m).bit_count() for m in mask.tolist()]) if reach is not None else np.zeros(order.size)
    values = [goal, *used.T] + ([] if reach is None else [-reach_size, -spare])
    for value in values:
        best = _segmented_prefix_argmin(value, group)
        previous = np.maximum(np.concatenate(([-1], best[:-1])), 0)
        beaten |= (
            same_group
            & (goal[previous] <= goal + 1e-9)
            & ((mask[previous] & mask) == mask)
            & (spare[previous] >= spare - 1e-9)
            & (used[previous] <= used + 1e-9).all(axis=1)
        )
    front = order[~beaten]  # positions among the variants
    j_combo = combo[front]
    if max_open is not None:
        keep = _needed(
            subsets.served[subset[j_combo]],
            subsets.region[subset[j_combo]],
            # One more than an optimum needs, so the best runner-up of each served set survives for
            # the explanation ("compute once": explain reads these columns).
            np.column_stack([usd[j_combo], objective[j_combo], subsets.weighted_rtt[subset[j_combo]], use[front]]),
            max_open + 1,
            opening[subsets.region[subset[j_combo]]],
            in_usd,
            (able[front], room[front]) if reach is not None else None,
        )
        front, j_combo = front[keep], j_combo[keep]
    columns: list[Column] = []
    for v, j in zip(front.tolist(), j_combo.tolist(), strict=True):
        s = int(subset[j])
        choices = tuple(_choice(t, p, int(k[j])) for t, p, k in zip(tables, pairs, picks, strict=True))
        kgs = [c.monthly_kgco2 for c in choices]
        columns.append(
            Column(
                regions[int(subsets.region[s])],
                frozenset(u.name for u in subsets.members[s]),
                choices,
                float(usd[j]),
                None if any(x is None for x in kgs) else sum(x for x in kgs if x is not None),
                float(objective[j]),
                float(subsets.weighted_rtt[s]),
                tuple((int(q), round(n)) for q, n in zip(quotas.tolist(), use[v].tolist(), strict=True) if n),
                float(level[v]),
            )
        )
    return columns


def _takeover_levels(
    reach: _Reach,
    subsets: _Subsets,
    subset: np.ndarray,
    tables: list[OptionTable],
    pairs: list[_Pairs],
    picks: list[np.ndarray],
    quotas: np.ndarray,
    able: np.ndarray,
    room: np.ndarray,
    own_use: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Under a quota, what a region may take over costs accelerators it must be allowed to launch, so
    each combination becomes one variant per level of takeover it reserves: the share of a set of
    geographies it could take (or none), with the accelerators at max nodes that level needs.
    Returns, per variant, its combination, its level and its use per quota; of the levels that use
    the same accelerators only the largest is kept. Combinations under no quota keep one variant
    that may take over all its room allows."""
    touched = np.logical_or.reduce([p.quota[k] >= 0 for p, k in zip(pairs, picks, strict=True)])
    rows_combo = [np.flatnonzero(~touched)]
    rows_level = [np.full(rows_combo[0].size, np.inf)]
    rows_use = [own_use[~touched]]
    candidates = np.flatnonzero(touched)
    weight = subsets.weight[subset[candidates]]
    n_users = reach.share.size
    levels = [(0, 0.0)] + [
        (m, float(sum(reach.share[g] for g in range(n_users) if m >> g & 1))) for m in range(1, 1 << n_users)
    ]
    for m, share in levels:
        ok = ((able[candidates] & m) == m) & (share <= room[candidates] + 1e-9)
        chosen = candidates[ok]
        use = np.zeros((chosen.size, quotas.size))
        for t, p, k in zip(tables, pairs, picks, strict=True):
            j = k[chosen]
            nodes = np.maximum(
                p.nodes_max[j],
                nodes_at_load(
                    t.stage.share, reach.peak_rps, weight[ok] + share, t.replica_rps[p.row[j]], t.per_node[p.row[j]]
                ),
            )
            counted = p.quota[j] >= 0
            use[np.flatnonzero(counted), np.searchsorted(quotas, p.quota[j][counted])] += (
                nodes[counted] * p.chips[j][counted]
            )
        rows_combo.append(chosen)
        rows_level.append(np.full(chosen.size, share))
        rows_use.append(use)
    combo = np.concatenate(rows_combo)
    level = np.concatenate(rows_level)
    use = np.concatenate(rows_use)
    # Per combination and use, the largest level.
    order = np.lexsort((-level, *use.T[::-1], combo))
    combo, level, use = combo[order], level[order], use[order]
    first = np.concatenate(([True], (combo[1:] != combo[:-1]) | (use[1:] != use[:-1]).any(axis=1)))
    return combo[first], level[first], use[first]


def _needed(
    served: np.ndarray,
    region: np.ndarray,
    figures: np.ndarray,
    max_open: int,
    opening: np.ndarray | None = None,
    in_usd: bool = True,
    able: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Mask of the columns an optimal plan can need; the others are dropped without changing any optimum.

    Costs are non-negative, so some optimal plan opens at most ``max_open`` regions (one per
    geography, or ``min_regions``). If ``max_open`` columns in distinct other regions serve the same
    set and each is no worse than column ``c`` on every figure (USD, objective, weighted RTT) and
    better on one, at least one of them sits in a region the rest of the workload's plan leaves
    free, and swapping it in for ``c`` keeps the plan feasible and no worse. A swap may open that
    region (and its cloud): ``opening`` is what that costs, counted against the dominating column
    in USD (and in the objective when ``in_usd``), so that the swap stays no worse even when no
    other workload shares the region. Where failover is required the dominating column must also be
    able to take over every geography ``c`` could, with as much room (``able``: reach masks and
    spare shares), so no failure loses its cover. The relation is a strict order, so repeated swaps
    end on kept columns. Identical columns never drop each other: every equally good region stays,
    for the explanation to name. Figures beyond the third are accelerators against each quota: a
    column in another region dominates only if it counts no more against any quota, so a swap never
    breaks one.
    """
    keep = np.ones(served.size, dtype=bool)
    for group in np.unique(served).tolist():
        members = np.flatnonzero(served == group)
        if members.size <= max_open:
            continue
        m = figures[members]
        # Only a column that counts against no quota can dominate one in another region: a quota
        # belongs to one region, and the other column counts nothing against it.
        free = np.flatnonzero((m[:, 3:] <= 0).all(axis=1))
        if free.size < max_open:
            continue
        paid = m[free].copy()  # a dominating column's figures with its region's opening cost
        if opening is not None:
            paid[:, 0] += opening[members[free]]
            if in_usd:
                paid[:, 1] += opening[members[free]]
        regions, local = np.unique(region[members], return_inverse=True)
        one_hot = np.zeros((free.size, regions.size), dtype=np.int64)
        one_hot[np.arange(free.size), local[free]] = 1
        if able is not None:
            mask, room = able[0][members], able[1][members]
        # Dominated columns b in blocks, so that the [a, b] comparisons stay within a few million cells.
        block = max(1, _CELLS // free.size)
        for first in range(0, members.size, block):
            b = np.arange(first, min(first + block, members.size))
            no_worse = (paid[:, None, :] <= m[None, b, :] + 1e-9).all(axis=2)  # [a, b]: a no worse than b
            if able is not None:
                no_worse &= (mask[free, None] & mask[None, b]) == mask[None, b]  # a reaches all that b reaches
                no_worse &= room[free, None] >= room[None, b] - 1e-9
            better = (paid[:, None, :] < m[None, b, :] - 1e-9).any(axis=2)
            dominates = no_worse & better
            dominating = (dominates.T.astype(np.int64) @ one_hot) > 0  # [b, r]: some column in r dominates b
            dominating[np.arange(dominating.shape[0]), local[b]] = False  # its own region cannot host the swap
            keep[members[b]] = dominating.sum(axis=1) < max_open
    return keep


_CELLS = 4_000_000


def _ragged_product(
    candidates: list[tuple[np.ndarray, np.ndarray]], subsets: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per subset, the cartesian product of each stage's candidates (each given grouped by subset).

    Returns the subset of every combination and, per stage, the pair index it picks.
    """
    subset, first = candidates[0]
    picks = [first]
    for stage_subset, stage_pairs in candidates[1:]:
        counts = np.bincount(stage_subset, minlength=subsets)
        starts = np.cumsum(counts) - counts
        repeats = counts[subset]
        position = np.arange(int(repeats.sum())) - np.repeat(np.cumsum(repeats) - repeats, repeats)
        subset = np.repeat(subset, repeats)
        picks = [np.repeat(p, repeats) for p in picks]
        picks.append(stage_pairs[starts[subset] + position])
    return subset, picks


def _fronts3(pairs: _Pairs, replica_rps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs per subset: a superset of those not beaten on (service, USD, objective), and
    on replica throughput too when given (failover room).

    Within each subset, in order of service time, a pair is dropped when the cheapest earlier
    pair, or the earlier pair best on the objective (or on throughput), is no dearer, no worse on
    the objective and no slower: such a pair is beaten, so dropping it loses no optimum. What
    survives may still hold a few beaten pairs; the Pareto filter on the stage combinations removes
    them. Returns the subsets and pair indices of the survivors, grouped by subset.
    """
    order = np.lexsort((pairs.objective, pairs.usd, pairs.service, pairs.subset))
    subset, usd, objective = pairs.subset[order], pairs.usd[order], pairs.objective[order]
    rps = np.zeros(order.size) if replica_rps is None else replica_rps[order]
    quota, use, chips, node_rps = (a[order] for a in (pairs.quota, pairs.use, pairs.chips, pairs.node_rps))
    limited = bool((quota >= 0).any())
    same_group = np.concatenate(([False], subset[1:] == subset[:-1]))
    beaten = np.zeros(subset.size, dtype=bool)
    figures = [usd, objective] + ([] if replica_rps is None else [-rps]) + ([use] if limited else [])
    for values in figures:
        if values.size == 0:
            break
        best = _segmented_prefix_argmin(values, subset)
        previous = np.concatenate(([0], best[:-1]))  # the best strictly before each pair
        no_worse = same_group & (usd[previous] <= usd) & (objective[previous] <= objective) & (rps[previous] >= rps)
        if limited:
            # Under a quota, the earlier pair counts no more accelerators: it falls under no quota, or
            # the same one with no more at max nodes and, where it may take over users, no more chips
            # per node nor less throughput per node (so no more at any load).
            same = (quota[previous] == quota) & (use[previous] <= use)
            if replica_rps is not None:
                same &= (chips[previous] <= chips) & (node_rps[previous] >= node_rps - 1e-9)
            no_worse &= (quota[previous] < 0) | same
        beaten |= no_worse
    return subset[~beaten], order[~beaten]


def _segmented_prefix_argmin(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For each position, the index of the smallest value so far within its (contiguous) group.

    Shifting each group's values below every earlier group's lets one cumulative minimum restart
    at each group boundary; ties keep the earlier index.
    """
    span = float(values.max() - values.min()) + 1.0
    rank = np.concatenate(([0], np.cumsum(groups[1:] != groups[:-1])))
    key = values - rank * span
    running = np.minimum.accumulate(key)
    previous = np.concatenate(([np.inf], running[:-1]))
    marker = np.where(key < previous, np.arange(key.size), -1)
    return np.maximum.accumulate(marker)
