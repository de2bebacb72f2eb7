"""What the rules need to know about a tensorfleet stack, read from its resources and the catalog.

Prices and grid-carbon factors come from regions/ (the planner's catalog): one source of truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyProviderResource, PolicyResource

from components.fleet.usage import USAGE_TYPE, usage_from_inputs
from regions.bill import NODE_POOL_TYPES, PLACEMENT_TYPE, BilledResource, BillLine, bill, offerings_index
from regions.catalog import Catalog, Offering, load_catalog
from regions.pricing import UsageAssumptions, load_price_book, node_hourly_usd, node_monthly_usd

EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
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
    return provider.props.get("region")


def pools(resources: Iterable[PolicyResource], catalog: Catalog | None = None) -> list[Pool]:
    """Every accelerator pool of the stack."""
    catalog = catalog or load_catalog()
    index = offerings_index(catalog)
    found = []
    for resource in resources:
        if resource.resource_type != EKS_NODE_GROUP:
            continue
        props = resource.props
        instance_types = props.get("instanceTypes") or []
        if not instance_types:
            continue
        region = provider_region(resource.provider)
        scaling = props.get("scalingConfig") or {}
        tags = props.get("tags") or {}
        found.append(
            Pool(
                resource=resource,
                cloud="aws",
                region=region,
                instance_type=instance_types[0],
                desired_nodes=int(scaling.get("desiredSize") or 0),
                spot=props.get("capacityType") == "SPOT",
                workload=tags.get("workload"),
                offering=index.get(("aws", region or "", instance_types[0])),
            )
        )
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


def stack_bill(resources: Iterable[PolicyResource], catalog: Catalog | None = None) -> list[BillLine]:
    """The whole bill of the resources under review: the same lines as the plan's ``bill``."""
    resources = list(resources)
    usage = next((usage_from_inputs(r.props) for r in resources if r.resource_type == USAGE_TYPE), UsageAssumptions())
    billed = []
    for r in resources:
        own = r.props if r.resource_type == PLACEMENT else {}
        cloud = own.get("cloud") or r.resource_type.split(":", 1)[0]
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
