"""Options: every way to run one stage in one region, after the filters that do not depend on traffic.

Built from the catalog (cheapest shape per accelerator count and capacity type), the sizing model
and the stack's power assumptions; :mod:`regions.columns` sizes them for traffic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from regions.catalog import Catalog, Offering, Region
from regions.settings import HOURS_PER_MONTH, CapacityType, PlacementSettings, carbon_counts
from regions.sizing import OperatingPoint, llm_operating_points, measured_operating_points
from workloads.profiles import CascadeStage, LlmModel, MeasuredModel, WorkloadProfile

__all__ = [
    "Option",
    "OptionTable",
    "cheapest_shapes",
    "eligible_regions",
    "option_table",
    "power_watts",
    "priced_shapes",
]


@dataclass(frozen=True, slots=True)
class Option:
    """One way to run one stage in one region: an offering, a capacity type and an operating point."""

    offering: Offering
    capacity: CapacityType
    point: OperatingPoint
    usd_per_node_hour: float
    kg_per_node_month: float | None
    """kgCO2 per node-month; None where the chip's power or the grid intensity is unknown."""


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


# --- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionTable:
    """Every option of one stage across the candidate regions, as parallel arrays (one row each).

    Rows are grouped by region (``starts[i]:starts[i + 1]`` belong to region ``i``), so that the
    per-region work is slicing, not searching. ``Option`` objects are made only for the rows that
    end up in a column.
    """

    stage: CascadeStage
    shapes: list[tuple[Offering, CapacityType, float, float | None]]
    """(offering, capacity, USD per node-hour, kgCO2 per node-month) per priced shape."""
    points: list[OperatingPoint]
    shape: np.ndarray
    point: np.ndarray
    starts: np.ndarray
    price_month: np.ndarray
    """USD per node-month."""
    kg_node: np.ndarray
    """kgCO2 per node-month; NaN where unknown."""
    service: np.ndarray
    replica_rps: np.ndarray
    per_node: np.ndarray

    def option(self, row: int) -> Option:
        offering, capacity, hourly, kg = self.shapes[int(self.shape[row])]
        return Option(offering, capacity, self.points[int(self.point[row])], hourly, kg)

    def rows(self, region: int) -> slice:
        return slice(int(self.starts[region]), int(self.starts[region + 1]))


def option_table(
    stage: CascadeStage,
    profile: WorkloadProfile,
    catalog: Catalog,
    regions: list[Region],
    settings: PlacementSettings,
    exclude_accelerator: str | None = None,
) -> OptionTable:
    """The stage's options in each region after every filter that does not depend on traffic."""
    capacities: list[CapacityType] = []
    if profile.capacity.on_demand:
        capacities.append("on-demand")
    if profile.capacity.spot:
        capacities.append("spot")
    exclude_unknown_carbon = carbon_counts(profile, settings)
    points_by_key: dict[tuple[str, int], list[int]] = {}
    points: list[OperatingPoint] = []
    shapes: list[tuple[Offering, CapacityType, float, float | None]] = []
    shape_rows: list[int] = []
    point_rows: list[int] = []
    starts = [0]
    priced = priced_shapes(catalog, settings.assumed_power_watts, settings.power_utilisation)
    for region in regions:
        for priced_shape in priced.get(region.key, ()):
            offering, capacity, _, kg = priced_shape
            accelerator = offering.accelerator
            if capacity not in capacities or accelerator == exclude_accelerator:
                continue
            if kg is None and exclude_unknown_carbon:
                continue
            key = (accelerator, offering.accelerator_count)
            if key not in points_by_key:
                found = _points(stage, profile, catalog, accelerator, offering.accelerator_count, settings)
                points_by_key[key] = list(range(len(points), len(points) + len(found)))
                points.extend(found)
            if not points_by_key[key]:
                continue
            shapes.append(priced_shape)
            shape_rows.extend([len(shapes) - 1] * len(points_by_key[key]))
            point_rows.extend(points_by_key[key])
        starts.append(len(shape_rows))
    shape = np.array(shape_rows, dtype=np.int64)
    point = np.array(point_rows, dtype=np.int64)
    shape_price = np.array([s[2] for s in shapes] or [0.0]) * HOURS_PER_MONTH
    shape_kg = np.array([np.nan if s[3] is None else s[3] for s in shapes] or [0.0])
    return OptionTable(
        stage=stage,
        shapes=shapes,
        points=points,
        shape=shape,
        point=point,
        starts=np.array(starts, dtype=np.int64),
        price_month=shape_price[shape] if shape.size else np.zeros(0),
        kg_node=shape_kg[shape] if shape.size else np.zeros(0),
        service=np.array([points[i].service_ms for i in point_rows]),
        replica_rps=np.array([points[i].replica_rps for i in point_rows]),
        per_node=np.array([points[i].replicas_per_node for i in point_rows], dtype=np.int64),
    )


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
        return [] if spec is None else list(llm_operating_points(model, profile.slo, spec, count, settings.sizing))
    if isinstance(model, MeasuredModel):
        found: list[OperatingPoint] = []
        for measured in model.throughput:
            if catalog.canonical_accelerator(measured.accelerator) == accelerator:
                found.extend(measured_operating_points(measured, count))
        return [p for p in found if p.service_ms <= profile.slo.p95_latency_ms]
    return []


def power_watts(catalog: Catalog, accelerator: str, assumed_power_watts: Mapping[str, float]) -> float | None:
    """Per-chip power: the spec sheet's TDP, else the stack's stated assumption, else unknown."""
    spec = catalog.spec(accelerator)
    if spec is not None and spec.tdp_watts is not None:
        return spec.tdp_watts
    return assumed_power_watts.get(accelerator)


def priced_shapes(
    catalog: Catalog, assumed_power_watts: Mapping[str, float], power_utilisation: float
) -> dict[str, list[tuple[Offering, CapacityType, float, float | None]]]:
    """Per region key: (offering, capacity, USD per node-hour, kgCO2 per node-month) of each shape.

    Cached per catalog and power assumptions, since every workload of a stack shares them.
    """
    return _priced_shapes(catalog, tuple(sorted(assumed_power_watts.items())), power_utilisation)


@functools.lru_cache(maxsize=8)
def _priced_shapes(
    catalog: Catalog, assumed_power_watts: tuple[tuple[str, float], ...], power_utilisation: float
) -> dict[str, list[tuple[Offering, CapacityType, float, float | None]]]:
    assumed = dict(assumed_power_watts)
    result: dict[str, list[tuple[Offering, CapacityType, float, float | None]]] = {}
    for key, shapes in cheapest_shapes(catalog).items():
        region = catalog.regions[key]
        rows = result.setdefault(key, [])
        for (_, _, capacity), offering in shapes.items():
            hourly = offering.usd_per_hour if capacity == "on-demand" else offering.spot_usd_per_hour
            if hourly is None:  # cheapest_shapes only indexes priced capacity; kept for the type checker
                continue
            watts = power_watts(catalog, offering.accelerator, assumed)
            rows.append((offering, capacity, hourly, _kg_per_node_month(offering, region, watts, power_utilisation)))
    return result


def _kg_per_node_month(offering: Offering, region: Region, watts: float | None, utilisation: float) -> float | None:
    """accelerators x power (kW) x utilisation x PUE x hours x grid gCO2/kWh / 1000."""
    if watts is None or region.grid_gco2_per_kwh is None:
        return None
    kwh = offering.accelerator_count * watts / 1000 * utilisation * region.pue * HOURS_PER_MONTH
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
