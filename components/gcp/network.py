"""A VPC network per region for one GKE cluster: a private subnetwork with pod and service ranges,
and Cloud NAT so private nodes reach image and model registries."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

__all__ = ["POD_RANGE", "SERVICE_RANGE", "ExistingGcpNetwork", "GcpNetwork", "GcpNetworkArgs"]

POD_RANGE = "pods"
SERVICE_RANGE = "services"


@dataclass(frozen=True, kw_only=True)
class ExistingGcpNetwork:
    """A network the platform team already runs; tensorfleet then creates none."""

    network: pulumi.Input[str]
    """Self link or ID of the VPC network (may be a secret)."""
    subnetwork: pulumi.Input[str]
    """Self link or ID of the subnetwork in the region."""
    pod_range: str
    """Name of the subnetwork's secondary range for pods."""
    service_range: str
    """Name of the subnetwork's secondary range for services."""


@dataclass(frozen=True, kw_only=True)
class GcpNetworkArgs:
    project: pulumi.Input[str]
    region: str
    name: str
    """Network name, unique in the project, e.g. ``tensorfleet-prod-us-central1``."""
    node_cidr: pulumi.Input[str] = "10.64.0.0/20"
    pod_cidr: pulumi.Input[str] = "10.68.0.0/14"
    service_cidr: pulumi.Input[str] = "10.72.0.0/20"


class GcpNetwork(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        network = gcp.compute.Network(
            f"{name}-vpc", name=args.name, project=args.project, auto_create_subnetworks=False,
            routing_mode="REGIONAL", opts=child,
        )  # fmt: skip
        subnetwork = gcp.compute.Subnetwork(
            f"{name}-nodes",
            name=f"{args.name}-nodes",
            project=args.project,
            region=args.region,
            network=network.id,
            ip_cidr_range=args.node_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=POD_RANGE, ip_cidr_range=args.pod_cidr),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICE_RANGE, ip_cidr_range=args.service_cidr),
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_MIN", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
            ),
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router", name=f"{args.name}-router", project=args.project, region=args.region,
            network=network.id, opts=child,
        )  # fmt: skip
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=f"{args.name}-nat",
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                gcp.compute.RouterNatSubnetworkArgs(
                    name=subnetwork.self_link, source_ip_ranges_to_nats=["ALL_IP_RANGES"]
                )
            ],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )
        self.network_id = network.id
        self.subnetwork_id = subnetwork.id
        self.register_outputs({"network_id": self.network_id, "subnetwork_id": self.subnetwork_id})
