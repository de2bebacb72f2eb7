"""What the rules need to know about a tensorfleet stack, read from its resources and the catalog.

Prices and grid-carbon factors come from regions/ (the planner's catalog): one source of truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyProviderResource, PolicyResource

from components.fleet.labels import SYSTEM_POOL_LABEL
from components.fleet.usage import USAGE_TYPE, usage_from_inputs
from props import get
from regions.bill import (
    NODE_POOL_TYPES,
    PACKAGE_CLOUDS,
    PLACEMENT_TYPE,
    BilledResource,
    BillLine,
    bill,
    gke_pool_nodes,
    offerings_index,
)
from regions.catalog import Catalog, Offering, load_catalog
from regions.gke import catalog_instance_type
from regions.pricing import UsageAssumptions, load_price_book, node_hourly_usd, node_monthly_usd

EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
AKS_AGENT_POOL = "azure-native:containerservice:AgentPool"
WORKLOAD = "tensorfleet:fleet:Workload"
PLACEMENT = PLACEMENT_TYPE
ACCELERATOR_POOL_TYPES = tuple(NODE_POOL_TYPES)
"""Accelerator node pools as cloud resources."""
REALISED_CLOUDS = tuple(sorted(set(NODE_POOL_TYPES.values())))
"""Clouds whose placements become node pools; elsewhere a placement record stands for its pool."""


@dataclass(frozen=True, slots=True)
class Pool:
    """One accelerator node pool as deployed: where, what, how many, for whom, and what it costs."""

    resource: PolicyResource
    cloud: str
    region: str | None
    instance_type: str
    desired_nodes: int
    spot: bool
    workload: str | None
    offering: Offering | None
    """The catalog row of the instance type in the region; None if the catalog does not know it."""

    @property
    def monthly_usd(self) -> float | None:
        if self.offering is None:
            return None
        hourly = node_hourly_usd(self.offering, "spot" if self.spot else "on-demand")
        return None if hourly is None else node_monthly_usd(hourly, self.desired_nodes)


def provider_region(provider: PolicyProviderResource | None) -> str | None:
    """The region a resource is deployed to, from its explicit provider's configuration."""
    if provider is None:
        return None
    return provider.props.get("region") or provider.props.get("location")


def pools(resources: Iterable[PolicyResource], catalog: Catalog | None = None) -> list[Pool]:
    """Every accelerator pool of the stack."""
    catalog = catalog or load_catalog()
    index = offerings_index(catalog)
    found = []
    for resource in resources:
        reader = _POOL_READERS.get(resource.resource_type)
        pool = reader(resource, index) if reader is not None else None
        if pool is not None:
            found.append(pool)
    # Placements on clouds whose pools are not cloud resources yet still cost money once deployed.
    for resource in resources:
        props = resource.props
        if resource.resource_type != PLACEMENT or props.get("cloud") in REALISED_CLOUDS:
            continue
        found.append(
            Pool(
                resource=resource,
                cloud=props["cloud"],
                region=props["region"],
                instance_type=props["instanceType"],
                desired_nodes=int(props["nodes"]["desired"]),
                spot=props.get("capacityType") == "spot",
                workload=props["workload"],
                offering=index.get((props["cloud"], props["region"], props["instanceType"])),
            )
        )
    return found


def pool_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The cost-allocation tags (AWS, Azure) or resource labels (GCP) of an accelerator pool's own inputs."""
    if resource_type == GKE_NODE_POOL:
        return get(props, "nodeConfig", "resourceLabels")
    return get(props, "tags")


def _eks_pool(resource: PolicyResource, index: Mapping[tuple[str, str, str], Offering]) -> Pool | None:
    props = resource.props
    instance_types = props.get("instanceTypes") or []
    if not instance_types or _system(props.get("labels")):
        return None
    region = provider_region(resource.provider)
    scaling = props.get("scalingConfig") or {}
    tags = props.get("tags") or {}
    return Pool(
        resource=resource,
        cloud="aws",
        region=region,
        instance_type=instance_types[0],
        desired_nodes=int(scaling.get("desiredSize") or 0),
        spot=props.get("capacityType") == "SPOT",
        workload=tags.get("workload"),
        offering=index.get(("aws", region or "", instance_types[0])),
    )


def _gke_pool(resource: PolicyResource, index: Mapping[tuple[str, str, str], Offering]) -> Pool | None:
    """A GKE node pool priced as its catalog offering: a multi-host TPU slice counts once per slice."""
    props = resource.props
    config = props.get("nodeConfig") or {}
    machine_type = config.get("machineType")
    if not isinstance(machine_type, str) or _system(config.get("labels")):
        return None
    region = provider_region(resource.provider)
    instance_type, hosts = catalog_instance_type(machine_type, (props.get("placementPolicy") or {}).get("tpuTopology"))
    return Pool(
        resource=resource,
        cloud="gcp",
        region=region,
        instance_type=instance_type,
        desired_nodes=gke_pool_nodes(props) // hosts,
        spot=bool(config.get("spot") or config.get("preemptible")),
        workload=(config.get("resourceLabels") or {}).get("workload"),
        offering=index.get(("gcp", region or "", instance_type)),
    )


def _aks_pool(resource: PolicyResource, index: Mapping[tuple[str, str, str], Offering]) -> Pool | None:
    props = resource.props
    vm_size = props.get("vmSize")
    if not isinstance(vm_size, str):
        return None
    region = provider_region(resource.provider) or props.get("location")
    return Pool(
        resource=resource,
        cloud="azure",
        region=region,
        instance_type=vm_size,
        desired_nodes=int(props.get("count") or 0),
        spot=props.get("scaleSetPriority") == "Spot",
        workload=(props.get("tags") or {}).get("workload"),
        offering=index.get(("azure", region or "", vm_size)),
    )


def _system(labels: Any) -> bool:
    """A cluster's system pool: general-purpose nodes, no accelerator capacity to judge."""
    return isinstance(labels, Mapping) and labels.get(SYSTEM_POOL_LABEL) == "system"


def is_system_pool(resource_type: str, props: Mapping[str, Any]) -> bool:
    """True for an EKS or GKE system pool (its Kubernetes labels say so)."""
    labels = get(props, "nodeConfig", "labels") if resource_type == GKE_NODE_POOL else get(props, "labels")
    return _system(labels)


_POOL_READERS = {EKS_NODE_GROUP: _eks_pool, GKE_NODE_POOL: _gke_pool, AKS_AGENT_POOL: _aks_pool}
"""One reader per cloud's pool resource, from the pool's own inputs."""


def stack_bill(resources: Iterable[PolicyResource], catalog: Catalog | None = None) -> list[BillLine]:
    """The whole bill of the resources under review: the same lines as the plan's ``bill``."""
    resources = list(resources)
    usage = next((usage_from_inputs(r.props) for r in resources if r.resource_type == USAGE_TYPE), UsageAssumptions())
    billed = []
    for r in resources:
        own = r.props if r.resource_type == PLACEMENT else {}
        package = r.resource_type.split(":", 1)[0]
        cloud = own.get("cloud") or PACKAGE_CLOUDS.get(package, package)
        billed.append(
            BilledResource(
                r.urn,
                r.resource_type,
                cloud,
                own.get("region") or provider_region(r.provider),
                inputs=r.props,
                parent=r.parent.urn if r.parent is not None else None,
            )
        )
    return bill(billed, catalog or load_catalog(), load_price_book(), usage)


def workloads(resources: Iterable[PolicyResource]) -> dict[str, Mapping[str, Any]]:
    """The Workload components' recorded facts (budget, HIPAA flag, carbon cap) by workload name."""
    return {r.name: r.props for r in resources if r.resource_type == WORKLOAD}
