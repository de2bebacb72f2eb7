"""Columns of the placement MILP: one region serving one set of user geographies, sized optimally.

For a fixed region and served set the best offering, operating point and node count of every
stage is found by enumeration (vectorised over every served set of the region at once), so the
MILP in :mod:`regions.placement` only decides which columns to combine.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from regions.catalog import Catalog, Offering, Region
from regions.settings import (
    HOURS_PER_MONTH,
    CapacityType,
    PlacementSettings,
    carbon_counts,
    carbon_price,
    objective_value,
)
from regions.sizing import OperatingPoint, llm_operating_points, measured_operating_points
from workloads.profiles import CascadeStage, LlmModel, MeasuredModel, UserGeography, WorkloadProfile

__all__ = ["Column", "Option", "StageChoice", "eligible_regions", "region_columns", "stage_options"]


@dataclass(frozen=True, slots=True)
class Option:
    """One way to run one stage in one region: an offering, a capacity type and an operating point."""

    offering: Offering
    capacity: CapacityType
    point: OperatingPoint
    usd_per_node_hour: float
    kg_per_node_month: float | None
    """kgCO2 per node-month; None where the chip's power or the grid intensity is unknown."""


@dataclass(frozen=True, slots=True)
class StageChoice:
    """An option with its node counts in one column."""

    stage: str
    option: Option
    nodes_min: int
    nodes_desired: int
    nodes_max: int

    @property
    def monthly_usd(self) -> float:
        return self.nodes_desired * self.option.usd_per_node_hour * HOURS_PER_MONTH

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


# --- static filters -------------------------------------------------------------------------


def eligible_regions(profile: WorkloadProfile, catalog: Catalog, settings: PlacementSettings) -> list[Region]:
    """Regions allowed by clouds, allow/deny lists, residency, HIPAA clouds and the carbon cap."""
    clouds = set(profile.placement.clouds)
    if profile.compliance.hipaa:
        clouds &= set(settings.hipaa_clouds)
    allowed = profile.placement.allowed_regions
    denied = profile.placement.denied_regions
    residency = profile.compliance.data_residency
    cap = profile.carbon.max_gco2_per_kwh
    eligible = []
    for region in catalog.regions.values():
        if region.cloud not in clouds:
            continue
        if allowed and not _matches(region, allowed):
            continue
        if denied and _matches(region, denied):
            continue
        if residency and not (region.country_code in residency or _matches(region, residency)):
            continue
        if cap is not None and (region.grid_gco2_per_kwh is None or region.grid_gco2_per_kwh > cap):
            continue
        eligible.append(region)
    return eligible


def _matches(region: Region, patterns: Iterable[str]) -> bool:
    return any(p in (region.code, region.key) for p in patterns)


def stage_options(
    stage: CascadeStage,
    profile: WorkloadProfile,
    catalog: Catalog,
    regions: list[Region],
    settings: PlacementSettings,
) -> dict[str, list[Option]]:
    """Options per region key for one stage after every filter that does not depend on traffic.

    Options that another option of the same region beats whatever the traffic (no slower, no
    dearer, no dirtier, at least as much throughput per node and per replica, no larger minimum)
    are dropped: they can never be part of an optimal plan.
    """
    capacities: list[CapacityType] = []
    if profile.capacity.on_demand:
        capacities.append("on-demand")
    if profile.capacity.spot:
        capacities.append("spot")
    exclude_unknown_carbon = carbon_counts(profile, settings)
    points: dict[tuple[str, int], list[OperatingPoint]] = {}
    shapes = cheapest_shapes(catalog)
    result: dict[str, list[Option]] = {}
    for region in regions:
        options: list[Option] = []
        for (accelerator, count, capacity), offering in shapes.get(region.key, {}).items():
            if capacity not in capacities:
                continue
            kg = _kg_per_node_month(catalog, offering, region, settings)
            if kg is None and exclude_unknown_carbon:
                continue
            key = (accelerator, count)
            if key not in points:
                points[key] = _points(stage, profile, catalog, accelerator, count, settings)
            price = offering.usd_per_hour if capacity == "on-demand" else offering.spot_usd_per_hour
            if price is None:  # cheapest_shapes only indexes priced capacity; kept for the type checker
                continue
            options.extend(Option(offering, capacity, p, price, kg) for p in points[key])
        kept = _undominated(options, profile.scaling.min_replicas)
        if kept:
            result[region.key] = kept
    return result


def _points(
    stage: CascadeStage,
    profile: WorkloadProfile,
    catalog: Catalog,
    accelerator: str,
    count: int,
    settings: PlacementSettings,
) -> list[OperatingPoint]:
    model = stage.model
    if isinstance(model, LlmModel):
        spec = catalog.spec(accelerator)
        return [] if spec is None else llm_operating_points(model, profile.slo, spec, count, settings.sizing)
    if isinstance(model, MeasuredModel):
        found: list[OperatingPoint] = []
        for measured in model.throughput:
            if catalog.canonical_accelerator(measured.accelerator) == accelerator:
                found.extend(measured_operating_points(measured, count))
        return [p for p in found if p.service_ms <= profile.slo.p95_latency_ms]
    return []


def power_watts(catalog: Catalog, accelerator: str, settings: PlacementSettings) -> float | None:
    """Per-chip power: the spec sheet's TDP, else the stack's stated assumption, else unknown."""
    spec = catalog.spec(accelerator)
    if spec is not None and spec.tdp_watts is not None:
        return spec.tdp_watts
    return settings.assumed_power_watts.get(accelerator)


def _kg_per_node_month(
    catalog: Catalog, offering: Offering, region: Region, settings: PlacementSettings
) -> float | None:
    """accelerators x power (kW) x utilisation x PUE x hours x grid gCO2/kWh / 1000."""
    watts = power_watts(catalog, offering.accelerator, settings)
    if watts is None or region.grid_gco2_per_kwh is None:
        return None
    kwh = offering.accelerator_count * watts / 1000 * settings.power_utilisation * region.pue * HOURS_PER_MONTH
    return kwh * region.grid_gco2_per_kwh / 1000


@functools.lru_cache(maxsize=4)
def cheapest_shapes(catalog: Catalog) -> dict[str, dict[tuple[str, int, CapacityType], Offering]]:
    """Per region key, the cheapest offering of each (accelerator, count, capacity type).

    Offerings with the same accelerators deliver the same operating points and draw the same
    power, so only the cheaper can be optimal (host CPU and RAM are not part of the model).
    Ties go to the alphabetically first instance type, so plans are deterministic.
    """
    best: dict[str, dict[tuple[str, int, CapacityType], tuple[float, str, Offering]]] = {}
    for offering in catalog.offerings:
        by_shape = best.setdefault(f"{offering.cloud}:{offering.region}", {})
        priced: list[tuple[CapacityType, float | None]] = [
            ("on-demand", offering.usd_per_hour),
            ("spot", offering.spot_usd_per_hour),
        ]
        for capacity, price in priced:
            if price is None:
                continue
            key = (offering.accelerator, offering.accelerator_count, capacity)
            candidate = (price, offering.instance_type, offering)
            if key not in by_shape or candidate[:2] < by_shape[key][:2]:
                by_shape[key] = candidate
    return {region: {k: v[2] for k, v in shapes.items()} for region, shapes in best.items()}


def _undominated(options: list[Option], min_replicas: int) -> list[Option]:
    if len(options) < 2:
        return options
    nan = float("nan")
    # Columns: service (lower better), price, kg, min nodes (lower), node rps, replica rps (higher).
    m = np.array(
        [
            [
                o.point.service_ms,
                o.usd_per_node_hour,
                nan if o.kg_per_node_month is None else o.kg_per_node_month,
                -(-min_replicas // o.point.replicas_per_node),
                -o.point.node_rps,
                -o.point.replica_rps,
            ]
            for o in options
        ]
    )
    m[np.isnan(m)] = np.inf  # unknown carbon never dominates a known figure
    no_worse = (m[:, None, :] <= m[None, :, :]).all(axis=2)  # [a, b]: a is no worse than b everywhere
    better = (m[:, None, :] < m[None, :, :]).any(axis=2)
    dominated = (no_worse & better).any(axis=0)
    # Identical options: keep the first of each group only.
    identical = no_worse & no_worse.T
    first_of_group = ~np.triu(identical, k=1).any(axis=0)
    keep = np.asarray(~dominated & first_of_group, dtype=bool)
    return [o for o, kept in zip(options, keep.tolist(), strict=True) if kept]


# --- columns ------------------------------------------------------------------------------


def region_columns(
    profile: WorkloadProfile,
    settings: PlacementSettings,
    region: Region,
    per_stage: list[list[Option]],
    rtt: dict[tuple[str, str], float],
    served_only: frozenset[str] | None = None,
) -> list[Column]:
    """Every Pareto-optimal column of one region: each served set of reachable geographies.

    ``served_only`` limits the enumeration to that one served set (for runner-up questions).
    """
    users = profile.placement.users
    slo = profile.slo
    min_service = sum(min(o.point.service_ms for o in opts) for opts in per_stage)
    reachable = [u for u in users if rtt[(u.name, region.key)] + min_service <= slo.p95_latency_ms]
    if not reachable:
        return []
    subsets: list[tuple[UserGeography, ...]] = [
        combo
        for size in range(len(reachable) + 1)
        for combo in itertools.combinations(reachable, size)
        if served_only is None or frozenset(u.name for u in combo) == served_only
    ]
    if not subsets:
        return []
    nearest = min(rtt[(u.name, region.key)] for u in users)
    weight = np.array([sum(u.share for u in s) for s in subsets])
    # A standby must still reach its nearest geography within the SLO after a failover.
    budget = np.array(
        [slo.p95_latency_ms - (max(rtt[(u.name, region.key)] for u in s) if s else nearest) for s in subsets]
    )
    price = carbon_price(profile, settings)
    tables = [
        _stage_table(stage, opts, profile, weight, budget, settings, price)
        for stage, opts in zip(profile.stages, per_stage, strict=True)
    ]
    single = len(tables) == 1
    columns: list[Column] = []
    for i, served in enumerate(subsets):
        fronts = [_stage_front(table, i, single) for table in tables]
        if any(front.size == 0 for front in fronts):
            continue
        served_rtt = sum(u.share * rtt[(u.name, region.key)] for u in served)
        columns.extend(
            _combine(region, served, profile, per_stage, tables, fronts, i, budget[i], settings, price, served_rtt)
        )
    return columns


@dataclass(frozen=True)
class _StageTable:
    """Per (served set, option) arrays for one stage in one region."""

    feasible: np.ndarray
    nodes_min: np.ndarray
    nodes_desired: np.ndarray
    nodes_max: np.ndarray
    usd: np.ndarray
    kg: np.ndarray
    """NaN where carbon is unknown."""
    objective: np.ndarray
    service: np.ndarray


def _stage_table(
    stage: CascadeStage,
    options: list[Option],
    profile: WorkloadProfile,
    weight: np.ndarray,
    budget: np.ndarray,
    settings: PlacementSettings,
    price: float,
) -> _StageTable:
    scaling = profile.scaling
    service = np.array([o.point.service_ms for o in options])
    replica_rps = np.array([o.point.replica_rps for o in options])
    per_node = np.array([o.point.replicas_per_node for o in options])
    node_price = np.array([o.usd_per_node_hour for o in options]) * HOURS_PER_MONTH
    node_kg = np.array([np.nan if o.kg_per_node_month is None else o.kg_per_node_month for o in options])
    steady = (stage.share * profile.slo.steady_rps * weight)[:, None]
    peak = (stage.share * profile.slo.peak_rps * weight)[:, None]
    eps = 1e-9  # keeps exact multiples from rounding up
    peak_replicas = np.ceil(peak / replica_rps - eps).clip(min=0)
    nodes_min = np.broadcast_to(-(-scaling.min_replicas // per_node), peak_replicas.shape)
    nodes_desired = np.maximum(nodes_min, np.ceil(steady / (replica_rps * per_node) - eps).clip(min=0))
    nodes_max = np.maximum.reduce(
        [
            nodes_desired,
            np.ceil(np.maximum(peak_replicas, scaling.min_replicas) / per_node),
            np.ones_like(nodes_desired),
        ]
    )
    feasible = (service[None, :] <= budget[:, None]) & (peak_replicas <= scaling.max_replicas)
    usd = nodes_desired * node_price
    kg = nodes_desired * node_kg
    return _StageTable(
        feasible=feasible,
        nodes_min=nodes_min,
        nodes_desired=nodes_desired,
        nodes_max=nodes_max,
        usd=usd,
        kg=kg,
        objective=objective_value(settings.objective, usd, np.nan_to_num(kg), price),
        service=np.broadcast_to(service, usd.shape),
    )


def _stage_front(table: _StageTable, row: int, single: bool) -> np.ndarray:
    """Option indices for one served set not beaten on (service, USD, objective).

    With one stage the service time no longer matters once it fits, so the front is 2-D.
    """
    idx = np.flatnonzero(table.feasible[row])
    if idx.size == 0:
        return idx
    usd, obj = table.usd[row, idx], table.objective[row, idx]
    service = np.zeros(idx.size) if single else table.service[row, idx]
    order = np.lexsort((service, obj, usd))
    service, obj = service[order], obj[order]
    # j is beaten when an earlier candidate (no dearer) is no slower and no worse on the objective.
    beaten = np.triu((service[:, None] <= service[None, :]) & (obj[:, None] <= obj[None, :]), k=1).any(axis=0)
    return idx[order[~beaten]]


def _combine(
    region: Region,
    served: tuple[UserGeography, ...],
    profile: WorkloadProfile,
    per_stage: list[list[Option]],
    tables: list[_StageTable],
    fronts: list[np.ndarray],
    row: int,
    budget_ms: float,
    settings: PlacementSettings,
    price: float,
    served_rtt: float,
) -> list[Column]:
    """Columns from every combination of the stages' fronts that fits the latency budget, Pareto in (USD, objective)."""
    grids = np.meshgrid(*fronts, indexing="ij")
    picks = [g.ravel() for g in grids]
    service = sum(t.service[row, p] for t, p in zip(tables, picks, strict=True))
    usd = sum(t.usd[row, p] for t, p in zip(tables, picks, strict=True))
    obj = sum(t.objective[row, p] for t, p in zip(tables, picks, strict=True))
    fits = np.flatnonzero(service <= budget_ms + 1e-9)
    order = fits[np.lexsort((obj[fits], usd[fits]))]
    names = frozenset(u.name for u in served)
    columns: list[Column] = []
    best_obj = np.inf
    for j in order:
        if obj[j] >= best_obj - 1e-9:
            continue
        best_obj = obj[j]
        choices = tuple(
            StageChoice(
                stage.name,
                opts[int(p[j])],
                int(t.nodes_min[row, p[j]]),
                int(t.nodes_desired[row, p[j]]),
                int(t.nodes_max[row, p[j]]),
            )
            for stage, opts, t, p in zip(profile.stages, per_stage, tables, picks, strict=True)
        )
        kgs = [c.monthly_kgco2 for c in choices]
        kg = None if any(k is None for k in kgs) else sum(k for k in kgs if k is not None)
        columns.append(Column(region, names, choices, float(usd[j]), kg, float(obj[j]), served_rtt))
    return columns
