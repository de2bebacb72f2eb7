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
from regions.footprint import ROOT_DISK_GIB, footprint_of, node_disk_gib, node_disk_limit_gib
from regions.pricing import HOURS_PER_MONTH, node_hourly_usd, node_monthly_usd
from regions.quotas import quota_index
from regions.residency import expand_residency
from regions.settings import CapacityType, PlacementSettings, carbon_counts
from regions.sizing import (
    OperatingPoint,
    gpu_share,
    llm_operating_points,
    measured_operating_points,
    shared_operating_points,
)
from workloads.profiles import CascadeStage, LlmModel, MeasuredModel, WorkloadProfile, weights_gb

__all__ = [
    "Option",
    "OptionTable",
    "cheapest_shapes",
    "eligible_regions",
    "matches",
    "option_table",
    "power_watts",
    "priced_shapes",
    "stage_points",
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
    disk_gib: int = ROOT_DISK_GIB
    """What the node's disk holds, GiB: the OS, images and every replica's model cache; on EKS and
    GKE the root disk's size, on AKS what the OS or temporary disk holds
    (``regions.footprint.node_disk_gib``)."""


def _node_disks(
    regions: list[Region], points: list[OperatingPoint], row_position: np.ndarray, point: np.ndarray,
    weights: float | None,
) -> np.ndarray:  # fmt: skip
    """Each row's node disk, GiB: computed per cloud and operating point, then looked up per row."""
    clouds = sorted({r.cloud for r in regions})
    table = np.array(
        [[node_disk_gib(c, weights, p.replicas_per_node, p.nodes_per_replica) for p in points] for c in clouds]
    ).reshape(len(clouds), len(points))
    cloud_of = np.array([clouds.index(r.cloud) for r in regions], dtype=np.int64)
    return table[cloud_of[row_position], point] if point.size else np.zeros(0, dtype=np.int64)


def eligible_regions(profile: WorkloadProfile, catalog: Catalog, settings: PlacementSettings) -> list[Region]:
    """Regions allowed by clouds, allow/deny lists, residency, HIPAA clouds and the carbon cap."""
    clouds = set(profile.placement.clouds)
    if profile.compliance.hipaa:
        clouds &= set(settings.hipaa_clouds)
    allowed = profile.placement.allowed_regions
    denied = profile.placement.denied_regions
    residency = expand_residency(profile.compliance.data_residency)
    cap = profile.carbon.max_gco2_per_kwh
    eligible = []
    for region in catalog.regions.values():
        if region.cloud not in clouds:
            continue
        if allowed and not matches(region, allowed):
            continue
        if denied and matches(region, denied):
            continue
        if residency and not residency.allows(region):
            continue
        if cap is not None and (region.grid_gco2_per_kwh is None or region.grid_gco2_per_kwh > cap):
            continue
        eligible.append(region)
    return eligible


def matches(region: Region, patterns: Iterable[str]) -> bool:
    """True when a ``cloud:region`` key or bare region code of ``patterns`` names ``region``."""
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
    """USD per node-month: the node's price and what each node adds (root disk; see regions/footprint.py)."""
    disk_gib: np.ndarray
    """Each row's node disk, GiB (``regions.footprint.node_disk_gib``)."""
    storage_month: np.ndarray
    """USD per month of storing the stage's model in each region (by region position)."""
    kg_node: np.ndarray
    """kgCO2 per node-month; NaN where unknown."""
    service: np.ndarray
    replica_rps: np.ndarray
    per_node: np.ndarray
    chips: np.ndarray
    """Accelerators per node."""
    quota: np.ndarray
    """Position in ``settings.quotas`` of the quota each row's accelerators count against; -1: none."""

    def option(self, row: int) -> Option:
        offering, capacity, hourly, kg = self.shapes[int(self.shape[row])]
        return Option(offering, capacity, self.points[int(self.point[row])], hourly, kg, int(self.disk_gib[row]))

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
    index = _shape_index(catalog, tuple(sorted(settings.assumed_power_watts.items())), settings.power_utilisation)
    # The candidate shapes, region by region in the order of ``regions``.
    spans = [index.spans.get(region.key, (0, 0)) for region in regions]
    selected = np.concatenate([np.arange(a, b) for a, b in spans]) if spans else np.zeros(0, dtype=np.int64)
    position = np.repeat(np.arange(len(regions)), [b - a for a, b in spans]) if spans else selected
    keep = np.ones(selected.size, dtype=bool)
    if not profile.capacity.on_demand:
        keep &= index.spot[selected]
    if not profile.capacity.spot:
        keep &= ~index.spot[selected]
    if settings.known_carbon_only or carbon_counts(profile, settings):
        keep &= ~np.isnan(index.kg[selected])
    if exclude_accelerator is not None:
        keep &= index.accelerator[selected] != exclude_accelerator
    if profile.placement.accelerators:
        keep &= np.isin(index.accelerator[selected], profile.placement.accelerators)
    selected, position = selected[keep], position[keep]
    # Operating points depend only on the (accelerator, count) shape: computed once per key.
    points: list[OperatingPoint] = []
    first = np.zeros(len(index.keys), dtype=np.int64)
    count = np.zeros(len(index.keys), dtype=np.int64)
    for key_id in np.unique(index.key[selected]).tolist():
        accelerator, accelerators = index.keys[key_id]
        # A replica that spans nodes is sized on the slowest known network among this shape's nodes.
        networks = index.network[selected[index.key[selected] == key_id]]
        slowest = float(np.nanmin(networks)) if not np.isnan(networks).all() else None
        found = stage_points(stage, profile, catalog, accelerator, accelerators, settings, slowest)
        first[key_id], count[key_id] = len(points), len(found)
        points.extend(found)
    per_shape = count[index.key[selected]]
    shape = np.repeat(selected, per_shape)
    offset = np.arange(shape.size) - np.repeat(np.cumsum(per_shape) - per_shape, per_shape)
    point = np.repeat(first[index.key[selected]], per_shape) + offset
    row_position = np.repeat(position, per_shape)
    spans_nodes = np.array([p.nodes_per_replica > 1 for p in points] or [False])
    # ...and runs only on nodes whose network is documented.
    usable = ~(spans_nodes[point] & np.isnan(index.network[shape])) if shape.size else np.ones(0, dtype=bool)
    # Every replica caches the model's weights on its node's disk: a larger disk where they need one,
    # on nodes that can have it.
    weights = weights_gb(stage.model)
    disk = _node_disks(regions, points, row_position, point, weights)
    usable &= disk <= index.disk_limit[shape]
    # ...and as many model servers as the node may run pods beside its own.
    sizing = settings.sizing
    pods = np.where(np.isnan(index.max_pods[shape]), sizing.kubelet_max_pods, index.max_pods[shape])
    servers = np.array([p.replicas_per_node for p in points] or [0])[point]
    usable &= servers <= pods - sizing.node_system_pods
    shape, point, row_position, disk = shape[usable], point[usable], row_position[usable], disk[usable]
    rows_per_region = np.bincount(row_position, minlength=len(regions))
    service = np.array([p.service_ms for p in points] or [0.0])
    footprint = footprint_of(catalog, settings.fleet)
    # What a node adds grows linearly with its disk (a price per GiB-month): each region's charge at
    # the default disk and per GiB more.
    base = np.array([footprint.per_node(r.key) for r in regions] or [0.0])
    per_gib = np.array(
        [footprint.per_node(r.key, ROOT_DISK_GIB + 1) - footprint.per_node(r.key) for r in regions] or [0.0]
    )
    node_extra = base[row_position] + per_gib[row_position] * (disk - ROOT_DISK_GIB)
    replica_rps = np.array([p.replica_rps for p in points] or [0.0])
    per_node = np.array([p.per_node for p in points] or [1.0])
    quota = np.full(selected.size, -1, dtype=np.int64)
    if settings.quotas:
        keys = np.array([r.key for r in regions], dtype=object)[position]
        for (key, accelerator), i in quota_index(settings.quotas).items():
            quota[(keys == key) & (index.accelerator[selected] == accelerator)] = i
    return OptionTable(
        stage=stage,
        shapes=index.shapes,
        points=points,
        shape=shape,
        point=point,
        starts=np.concatenate(([0], np.cumsum(rows_per_region))).astype(np.int64),
        price_month=node_monthly_usd(index.hourly[shape], 1) + node_extra,
        disk_gib=disk,
        storage_month=np.array([footprint.per_stage(r.key, weights) for r in regions] or [0.0]),
        kg_node=index.kg[shape],
        service=service[point],
        replica_rps=replica_rps[point],
        per_node=per_node[point],
        chips=np.array([count for _, count in index.keys], dtype=np.int64)[index.key[shape]]
        if index.keys
        else np.zeros(0, dtype=np.int64),
        quota=np.repeat(quota, per_shape)[usable],
    )


@dataclass(frozen=True)
class _ShapeIndex:
    """Every priced shape of the catalog as arrays, grouped by region (``spans``)."""

    shapes: list[tuple[Offering, CapacityType, float, float | None]]
    spans: dict[str, tuple[int, int]]
    """Region key -> [first, last) shape positions."""
    spot: np.ndarray
    hourly: np.ndarray
    kg: np.ndarray
    """kgCO2 per node-month; NaN where unknown."""
    key: np.ndarray
    """Index into ``keys`` of each shape's (accelerator, count)."""
    keys: list[tuple[str, int]]
    accelerator: np.ndarray
    network: np.ndarray
    """Documented node-to-node network, Gbit/s; NaN where unknown."""
    disk_limit: np.ndarray
    """The most disk a node of the shape can have for images and model caches, GiB."""
    max_pods: np.ndarray
    """The pods a node of the shape runs at most where its instance type states it; NaN elsewhere."""


@functools.lru_cache(maxsize=8)
def _shape_index(
    catalog: Catalog, assumed_power_watts: tuple[tuple[str, float], ...], power_utilisation: float
) -> _ShapeIndex:
    priced = priced_shapes(catalog, dict(assumed_power_watts), power_utilisation)
    shapes: list[tuple[Offering, CapacityType, float, float | None]] = []
    spans: dict[str, tuple[int, int]] = {}
    for region_key, region_shapes in priced.items():
        spans[region_key] = (len(shapes), len(shapes) + len(region_shapes))
        shapes.extend(region_shapes)
    keys = sorted({(offering.accelerator, offering.accelerator_count) for offering, *_ in shapes})
    key_ids = {key: i for i, key in enumerate(keys)}
    return _ShapeIndex(
        shapes=shapes,
        spans=spans,
        spot=np.array([capacity == "spot" for _, capacity, _, _ in shapes], dtype=bool),
        hourly=np.array([hourly for _, _, hourly, _ in shapes]),
        kg=np.array([np.nan if kg is None else kg for _, _, _, kg in shapes]),
        key=np.array([key_ids[(o.accelerator, o.accelerator_count)] for o, *_ in shapes], dtype=np.int64),
        keys=keys,
        accelerator=np.array([o.accelerator for o, *_ in shapes], dtype=object),
        network=np.array([catalog.node_networks.get((o.cloud, o.instance_type), np.nan) for o, *_ in shapes]),
        disk_limit=np.array(
            [node_disk_limit_gib(o.cloud, catalog.temp_disks.get(o.instance_type)) for o, *_ in shapes]
        ),
        max_pods=np.array([catalog.max_pods.get((o.cloud, o.instance_type), np.nan) for o, *_ in shapes]),
    )


def stage_points(
    stage: CascadeStage,
    profile: WorkloadProfile,
    catalog: Catalog,
    accelerator: str,
    count: int,
    settings: PlacementSettings,
    node_network_gbps: float | None = None,
) -> list[OperatingPoint]:
    """Every point within the SLO at which a node of ``count`` ``accelerator`` chips runs the stage
    (with ``node_network_gbps``, also a replica that spans several such nodes)."""
    model = stage.model
    if isinstance(model, LlmModel):
        spec = catalog.spec(accelerator)
        if spec is None:
            return []
        if model.gpu_sharing is not None:
            slices = None if model.gpu_sharing.mig is None else int(model.gpu_sharing.mig[0])
            share = gpu_share(model.gpu_sharing, spec, catalog.mig_profiles.get((accelerator, slices or 0)))
            if share is None:
                return []
            return list(shared_operating_points(model, profile.slo, spec, count, share, settings.sizing))
        return list(llm_operating_points(model, profile.slo, spec, count, settings.sizing, node_network_gbps))
    if isinstance(model, MeasuredModel):
        found: list[OperatingPoint] = []
        for measured in model.throughput:
            if measured.accelerator == accelerator:  # canonical since profile validation
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
            hourly = node_hourly_usd(offering, capacity)
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
        capacities: tuple[CapacityType, ...] = ("on-demand", "spot")
        for capacity in capacities:
            price = node_hourly_usd(offering, capacity)
            if price is None:
                continue
            key = (offering.accelerator, offering.accelerator_count, capacity)
            candidate = (price, offering.instance_type, offering)
            if key not in by_shape or candidate[:2] < by_shape[key][:2]:
                by_shape[key] = candidate
    return {region: {k: v[2] for k, v in shapes.items()} for region, shapes in best.items()}
