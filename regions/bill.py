"""The whole monthly bill of a stack: one line per billable item of every resource it registers.

A line prices one resource's item (a node group's node-hours, a launch template's disks, a
cluster's control plane and its logs, a NAT gateway's hours and traffic, an address, a key, a
bucket's storage) with :mod:`regions.pricing`. The report reads the resources from the program's
registrations, the policy pack from the resources under review; both call :func:`bill`, so the
plan and the pack judge the same figure.

Resource types that cost nothing by themselves (VPCs, subnets, route tables, IAM, access entries,
EKS add-ons, S3 gateway endpoints, ordinary AWS Budgets) have no line. Placements on a cloud
whose fleet the stack does not build yet are billed from their placement records with what that
fleet needs (:mod:`regions.footprint`), so that the bill is the planner's whole cost everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regions.catalog import Catalog, Offering
from regions.footprint import (
    AKS_DISK_ITEMS,
    GENERAL_PURPOSE_ITEMS,
    ROOT_DISK_GIB,
    FleetLayout,
    cloud_items,
    node_items,
    region_items,
    stage_items,
)
from regions.gke import catalog_instance_type
from regions.pricing import HOURS_PER_MONTH, PriceBook, UnpricedItem, UsageAssumptions, node_hourly_usd

__all__ = [
    "NODE_POOL_TYPES",
    "PACKAGE_CLOUDS",
    "PLACEMENT_TYPE",
    "BillLine",
    "BilledResource",
    "bill",
    "gke_pool_nodes",
    "offerings_index",
    "total_usd",
]

PLACEMENT_TYPE = "tensorfleet:fleet:WorkloadPlacement"
_GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
_AKS_AGENT_POOL = "azure-native:containerservice:AgentPool"
NODE_POOL_TYPES = {"aws:eks/nodeGroup:NodeGroup": "aws", _GKE_NODE_POOL: "gcp", _AKS_AGENT_POOL: "azure"}
"""Accelerator node pools as cloud resources, and their cloud."""
PACKAGE_CLOUDS = {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}
"""The cloud of each Pulumi provider package (a resource type's first part)."""
_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@dataclass(frozen=True, slots=True)
class BilledResource:
    """What the bill needs to know of one registered resource (inputs in their wire form)."""

    urn: str
    type: str
    cloud: str | None
    region: str | None
    inputs: Mapping[str, Any]
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class BillLine:
    """One priced item of one resource."""

    urn: str
    type: str
    item: str
    cloud: str
    region: str
    quantity: float
    unit: str
    unit_usd: float | None
    """None when no source prices the item (the line then has no monthly figure)."""
    monthly_usd: float | None
    source: str
    assumption: str | None = None
    """The usage the quantity rests on, for usage-priced items; None for fixed ones."""
    workload: str | None = None
    """The workload the line serves alone (node capacity); None for shared regional resources."""


@functools.lru_cache(maxsize=8)
def offerings_index(catalog: Catalog) -> dict[tuple[str, str, str], Offering]:
    """(cloud, region, instance type) -> catalog row, built once per catalog."""
    return {(o.cloud, o.region, o.instance_type): o for o in catalog.offerings}


def bill(
    resources: Sequence[BilledResource], catalog: Catalog, prices: PriceBook, usage: UsageAssumptions
) -> list[BillLine]:
    """Every billable line of ``resources``, in the order given."""
    context = _Context(resources, catalog, prices, usage)
    lines: list[BillLine] = []
    for resource in resources:
        rule = _RULES.get(resource.type)
        if rule is not None and resource.cloud and resource.region:
            lines.extend(rule(context, resource))
    return lines


class _Context:
    def __init__(
        self,
        resources: Sequence[BilledResource],
        catalog: Catalog,
        prices: PriceBook,
        usage: UsageAssumptions,
    ) -> None:
        self.catalog = catalog
        self.offerings = offerings_index(catalog)
        self.prices = prices
        self.usage = usage
        self.pools_by_parent: dict[str | None, list[BilledResource]] = {}
        self.built_clouds = {NODE_POOL_TYPES[r.type] for r in resources if r.type in NODE_POOL_TYPES}
        self.weights_gb: dict[tuple[str, str], dict[tuple[str, str], float]] = {}
        # Placements on clouds the stack does not build: the first record of each region and cloud
        # carries what opening them costs (regions/footprint.py), so the bill is whole regardless.
        planned = sorted(
            (r for r in resources if r.type == PLACEMENT_TYPE and r.inputs["cloud"] not in self.built_clouds),
            key=lambda r: r.urn,
        )
        self.opens_region = {
            r.urn for r in {(r.inputs["cloud"], r.inputs["region"]): r for r in reversed(planned)}.values()
        }
        self.opens_cloud = {r.urn for r in {r.inputs["cloud"]: r for r in reversed(planned)}.values()}
        self.gke_nodes: dict[str | None, int] = {}
        """Nodes of the GKE pools per region: each is a VM behind the region's Cloud NAT."""
        for r in resources:
            if r.type == _GKE_NODE_POOL:
                self.gke_nodes[r.region] = self.gke_nodes.get(r.region, 0) + gke_pool_nodes(r.inputs)
            if r.type in NODE_POOL_TYPES:
                self.pools_by_parent.setdefault(r.parent, []).append(r)
            elif r.type == PLACEMENT_TYPE and r.inputs.get("weightsGb") is not None:
                stages = self.weights_gb.setdefault((r.inputs["cloud"], r.inputs["region"]), {})
                stages[(r.inputs["workload"], r.inputs["stage"])] = float(r.inputs["weightsGb"])

    def line(
        self,
        resource: BilledResource,
        item: str,
        quantity: float,
        assumption: str | None = None,
        workload: str | None = None,
    ) -> BillLine:
        """A line priced from the price book."""
        assert resource.cloud is not None and resource.region is not None
        try:
            price = self.prices.price(resource.cloud, resource.region, item)
        except UnpricedItem as missing:
            return BillLine(
                resource.urn, resource.type, item, resource.cloud, resource.region, quantity, "",
                None, None, str(missing), assumption, workload,
            )  # fmt: skip
        return BillLine(
            urn=resource.urn,
            type=resource.type,
            item=item,
            cloud=resource.cloud,
            region=resource.region,
            quantity=quantity,
            unit=price.unit,
            unit_usd=price.usd,
            monthly_usd=quantity * price.usd,
            source=price.basis(resource.region),
            assumption=assumption,
            workload=workload,
        )

    def machines(
        self, resource: BilledResource, machine_type: str, count: int, capacity: str, workload: str | None
    ) -> BillLine:
        """Node-hours of a pool: a general-purpose machine type (a system pool) from the price list,
        an accelerator type from the catalog."""
        item = GENERAL_PURPOSE_ITEMS.get(machine_type)
        if item is not None and capacity == "on-demand":
            return self.line(resource, item, count * HOURS_PER_MONTH, f"{count} node(s)", workload)
        return self.nodes(resource, machine_type, count, capacity, workload)

    def nodes(
        self, resource: BilledResource, instance_type: str, desired: int, capacity: str, workload: str | None
    ) -> BillLine:
        """Node-hours of a pool, priced from the accelerator catalog."""
        assert resource.cloud is not None and resource.region is not None
        offering = self.offerings.get((resource.cloud, resource.region, instance_type))
        hourly = None if offering is None else node_hourly_usd(offering, "spot" if capacity == "spot" else "on-demand")
        if offering is None or hourly is None:
            source = f"{instance_type} {capacity} in {resource.cloud}:{resource.region} is not in the catalog"
        else:
            source = offering.price_source if capacity != "spot" else f"{offering.spot_basis}"
        hours = desired * HOURS_PER_MONTH
        return BillLine(
            urn=resource.urn,
            type=resource.type,
            item=f"{instance_type} {capacity}",
            cloud=resource.cloud,
            region=resource.region,
            quantity=hours,
            unit="node-hour",
            unit_usd=hourly,
            monthly_usd=None if hourly is None else hours * hourly,
            source=source,
            workload=workload,
        )


# --- rules, one per billable resource type -----------------------------------------------------


def _eks_node_group(context: _Context, resource: BilledResource) -> list[BillLine]:
    inputs = resource.inputs
    instance_types = inputs.get("instanceTypes") or []
    if not instance_types:
        return []
    desired = int((inputs.get("scalingConfig") or {}).get("desiredSize") or 0)
    capacity = "spot" if inputs.get("capacityType") == "SPOT" else "on-demand"
    workload = (inputs.get("tags") or {}).get("workload")
    return [context.machines(resource, instance_types[0], desired, capacity, workload)]


def _launch_template(context: _Context, resource: BilledResource) -> list[BillLine]:
    """Root disks of the nodes of the pools beside the template (same parent component)."""
    pools = context.pools_by_parent.get(resource.parent, [])
    nodes = sum(int((p.inputs.get("scalingConfig") or {}).get("desiredSize") or 0) for p in pools)
    workloads = {(p.inputs.get("tags") or {}).get("workload") for p in pools}
    lines = []
    for mapping in resource.inputs.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        if ebs.get("volumeSize"):
            gb = float(ebs["volumeSize"]) * nodes
            workload = next(iter(workloads)) if len(workloads) == 1 else None
            lines.append(context.line(resource, f"ebs_{ebs.get('volumeType', 'gp2')}_storage", gb, workload=workload))
    return lines


def _eks_cluster(context: _Context, resource: BilledResource) -> list[BillLine]:
    lines = [context.line(resource, "eks_control_plane", HOURS_PER_MONTH)]
    if resource.inputs.get("enabledClusterLogTypes"):
        gb = context.usage.control_plane_log_gb_per_cluster_month
        lines.append(
            context.line(
                resource, "cloudwatch_logs_ingestion", gb, f"{gb:g} GB of control-plane logs per cluster-month"
            )
        )
    return lines


def _nat_gateway(context: _Context, resource: BilledResource) -> list[BillLine]:
    gb = context.usage.nat_gb_per_gateway_month
    return [
        context.line(resource, "nat_gateway", HOURS_PER_MONTH),
        context.line(resource, "nat_gateway_data", gb, f"{gb:g} GB processed per gateway-month"),
    ]


def _public_ipv4(context: _Context, resource: BilledResource) -> list[BillLine]:
    return [context.line(resource, "public_ipv4", HOURS_PER_MONTH)]


def _kms_key(context: _Context, resource: BilledResource) -> list[BillLine]:
    return [context.line(resource, "kms_key", 1.0)]


def _s3_bucket(context: _Context, resource: BilledResource) -> list[BillLine]:
    """The model weights of every stage placed in the bucket's region, in as many versions as kept."""
    return _artifact_storage(context, resource, "s3_standard_storage")


def _artifact_storage(context: _Context, resource: BilledResource, item: str) -> list[BillLine]:
    assert resource.cloud is not None and resource.region is not None
    stages = context.weights_gb.get((resource.cloud, resource.region), {})
    versions = context.usage.artifact_versions
    gb = sum(stages.values()) * versions
    assumption = f"weights of {len(stages)} model(s) placed in the region, {versions} version(s) each"
    return [context.line(resource, item, gb, assumption)]


def gke_pool_nodes(inputs: Mapping[str, Any]) -> int:
    """Nodes a GKE pool starts with: ``initialNodeCount`` (or a fixed pool's ``nodeCount``) is per
    zone of ``nodeLocations``."""
    per_zone = inputs.get("initialNodeCount") or inputs.get("nodeCount") or 0
    return int(per_zone) * max(1, len(inputs.get("nodeLocations") or ()))


def _gke_node_pool(context: _Context, resource: BilledResource) -> list[BillLine]:
    """The pool's nodes (a multi-host TPU slice priced whole, shared by its hosts) and their boot disks."""
    inputs = resource.inputs
    config = inputs.get("nodeConfig") or {}
    machine_type = config.get("machineType")
    if not machine_type:
        return []
    topology = (inputs.get("placementPolicy") or {}).get("tpuTopology")
    instance_type, hosts = catalog_instance_type(machine_type, topology)
    nodes = gke_pool_nodes(inputs)
    capacity = "spot" if config.get("spot") or config.get("preemptible") else "on-demand"
    workload = (config.get("resourceLabels") or {}).get("workload")
    lines = [context.machines(resource, instance_type, nodes // hosts, capacity, workload)]
    disk = _GKE_DISK_ITEMS.get(str(config.get("diskType", "pd-balanced")))
    if disk is not None:
        gb = float(config.get("diskSizeGb") or 100) * nodes
        lines.append(context.line(resource, disk, gb, workload=workload))
    return lines


_GKE_DISK_ITEMS = {"pd-balanced": "pd_balanced", "pd-ssd": "pd_ssd"}
"""Boot disk types with a priced item (GKE's default size is 100 GB)."""


def _gke_cluster(context: _Context, resource: BilledResource) -> list[BillLine]:
    lines = [context.line(resource, "gke_cluster_management", HOURS_PER_MONTH)]
    if (resource.inputs.get("loggingConfig") or {}).get("enableComponents"):
        gb = context.usage.control_plane_log_gb_per_cluster_month
        lines.append(
            context.line(resource, "cloud_logging_ingestion", gb, f"{gb:g} GB of control-plane logs per cluster-month")
        )
    return lines


def _cloud_nat(context: _Context, resource: BilledResource) -> list[BillLine]:
    """Data the gateway processes, and the hourly charge of each node VM behind it (every GKE node
    of the region: Cloud NAT caps that charge at 32 VMs, so counting each is an upper bound)."""
    gb = context.usage.nat_gb_per_gateway_month
    nodes = context.gke_nodes.get(resource.region, 0)
    return [
        context.line(resource, "cloud_nat_data", gb, f"{gb:g} GB processed per gateway-month"),
        context.line(resource, "cloud_nat_gateway", nodes * HOURS_PER_MONTH, f"{nodes} node VM(s) behind the gateway"),
    ]


def _gcp_kms_key(context: _Context, resource: BilledResource) -> list[BillLine]:
    return [context.line(resource, "kms_key_version", 1.0)]


def _gcs_bucket(context: _Context, resource: BilledResource) -> list[BillLine]:
    """The model weights of every stage placed in the bucket's region, in as many versions as kept."""
    return _artifact_storage(context, resource, "gcs_standard_storage")


def _aks_nodes(context: _Context, resource: BilledResource, pool: Mapping[str, Any]) -> list[BillLine]:
    """An AKS pool's VMs (accelerator sizes from the catalog, others from the price list) and OS disks."""
    vm_size = pool.get("vmSize")
    if not vm_size:
        return []
    nodes = int(pool.get("count") or 0)
    capacity = "spot" if pool.get("scaleSetPriority") == "Spot" else "on-demand"
    workload = (pool.get("tags") or {}).get("workload")
    lines = [context.machines(resource, vm_size, nodes, capacity, workload)]
    if pool.get("osDiskType", "Managed") == "Managed":
        size = int(pool.get("osDiskSizeGB") or 128)
        disk = AKS_DISK_ITEMS.get(size, f"managed_disk_premium_ssd_{size}_gib")
        lines.append(context.line(resource, disk, nodes, f"{nodes} OS disk(s) of {size} GiB", workload))
    return lines


def _aks_agent_pool(context: _Context, resource: BilledResource) -> list[BillLine]:
    return _aks_nodes(context, resource, resource.inputs)


def _aks_cluster(context: _Context, resource: BilledResource) -> list[BillLine]:
    """The Standard tier's uptime SLA, and the pools declared with the cluster (its System pool)."""
    inputs = resource.inputs
    lines = []
    if (inputs.get("sku") or {}).get("tier") == "Standard":
        lines.append(context.line(resource, "aks_standard_tier", HOURS_PER_MONTH))
    for pool in inputs.get("agentPoolProfiles") or []:
        lines += _aks_nodes(context, resource, pool)
    return lines


def _azure_diagnostics(context: _Context, resource: BilledResource) -> list[BillLine]:
    """Control-plane logs sent to Log Analytics (the stack sends only the AKS clusters')."""
    if not any(log.get("enabled") for log in resource.inputs.get("logs") or []):
        return []
    gb = context.usage.control_plane_log_gb_per_cluster_month
    return [context.line(resource, "log_analytics_ingestion", gb, f"{gb:g} GB of control-plane logs per cluster-month")]


def _azure_public_ip(context: _Context, resource: BilledResource) -> list[BillLine]:
    if (resource.inputs.get("sku") or {}).get("name") != "Standard":
        return []
    return [context.line(resource, "public_ip_standard", HOURS_PER_MONTH)]


def _azure_storage(context: _Context, resource: BilledResource) -> list[BillLine]:
    """The model weights of every stage placed in the account's region, in as many versions as kept."""
    return _artifact_storage(context, resource, "blob_hot_lrs_storage")


def _placement(context: _Context, resource: BilledResource) -> list[BillLine]:
    """A placement on a cloud the stack does not build yet: its nodes, what each node adds, its
    model's storage, and (on the region's and cloud's first record) what opening them costs."""
    inputs = resource.inputs
    cloud, region = inputs["cloud"], inputs["region"]
    if cloud in context.built_clouds:
        return []
    capacity = str(inputs.get("capacityType", "on-demand"))
    desired = int(inputs["nodes"]["desired"])
    workload = inputs["workload"]
    lines = [context.nodes(resource, inputs["instanceType"], desired, capacity, workload)]
    planned = f"not built by the stack yet: what a {cloud} fleet here needs"
    for item in node_items(cloud, int(inputs.get("diskGib") or ROOT_DISK_GIB)):
        lines.append(context.line(resource, item.item, item.quantity * desired, planned, workload))
    for item in stage_items(cloud, inputs.get("weightsGb"), context.usage):
        lines.append(context.line(resource, item.item, item.quantity, f"{item.assumption}; {planned}"))
    if resource.urn in context.opens_region:
        layout = FleetLayout(usage=context.usage)
        for item in region_items(context.catalog, cloud, region, layout):
            note = f"{item.assumption}; {planned}" if item.assumption else planned
            lines.append(context.line(resource, item.item, item.quantity, note))
    if resource.urn in context.opens_cloud:
        lines += [context.line(resource, item.item, item.quantity, planned) for item in cloud_items(cloud)]
    return lines


_RULES: dict[str, Callable[[_Context, BilledResource], list[BillLine]]] = {
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    _LAUNCH_TEMPLATE: _launch_template,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _public_ipv4,
    "aws:kms/key:Key": _kms_key,
    "aws:s3/bucket:Bucket": _s3_bucket,
    _GKE_NODE_POOL: _gke_node_pool,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:compute/routerNat:RouterNat": _cloud_nat,
    "gcp:kms/cryptoKey:CryptoKey": _gcp_kms_key,
    "gcp:storage/bucket:Bucket": _gcs_bucket,
    _AKS_AGENT_POOL: _aks_agent_pool,
    "azure-native:containerservice:ManagedCluster": _aks_cluster,
    "azure-native:monitor:DiagnosticSetting": _azure_diagnostics,
    "azure-native:network:NatGateway": _nat_gateway,
    "azure-native:network:PublicIPAddress": _azure_public_ip,
    "azure-native:storage:StorageAccount": _azure_storage,
    PLACEMENT_TYPE: _placement,
}


def total_usd(lines: Iterable[BillLine]) -> float:
    """The bill's sum over priced lines."""
    return sum(line.monthly_usd or 0.0 for line in lines)
