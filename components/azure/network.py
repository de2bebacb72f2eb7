"""A region's virtual network: one node subnet whose egress leaves through a NAT gateway with a
static address (nodes get no public IPs, and the API server sees one stable source)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

__all__ = ["AzureNetwork", "AzureNetworkArgs"]


@dataclass(frozen=True, kw_only=True)
class AzureNetworkArgs:
    resource_group: pulumi.Input[str]
    region: str
    name: str
    node_cidr: pulumi.Input[str]
    """The virtual network's address space, all of it the node subnet (pods use the CNI overlay)."""
    tags: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class AzureNetwork(pulumi.ComponentResource):
    """Virtual network, node subnet, NAT gateway and its public address."""

    subnet_id: pulumi.Output[str]
    nat_gateway_id: pulumi.Output[str]
    egress_cidr: pulumi.Output[str]
    """The NAT gateway's static address as a /32 (known once the address exists)."""

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:azure:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        address = azure_native.network.PublicIPAddress(
            f"{name}-nat-ip",
            resource_group_name=args.resource_group,
            location=args.region,
            sku=azure_native.network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            tags=args.tags,
            opts=child,
        )
        gateway = azure_native.network.NatGateway(
            f"{name}-nat",
            resource_group_name=args.resource_group,
            location=args.region,
            sku=azure_native.network.NatGatewaySkuArgs(name="Standard"),
            public_ip_addresses=[azure_native.network.SubResourceArgs(id=address.id)],
            idle_timeout_in_minutes=4,
            tags=args.tags,
            opts=child,
        )
        vnet = azure_native.network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=args.name,
            resource_group_name=args.resource_group,
            location=args.region,
            address_space=azure_native.network.AddressSpaceArgs(address_prefixes=[args.node_cidr]),
            tags=args.tags,
            # Subnets are their own resources; the network must not reconcile them away.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        subnet = azure_native.network.Subnet(
            f"{name}-nodes",
            subnet_name="nodes",
            resource_group_name=args.resource_group,
            virtual_network_name=vnet.name,
            address_prefix=args.node_cidr,
            nat_gateway=azure_native.network.SubResourceArgs(id=gateway.id),
            default_outbound_access=False,
            service_endpoints=[azure_native.network.ServiceEndpointPropertiesFormatArgs(service="Microsoft.Storage")],
            opts=child,
        )
        self.subnet_id = subnet.id
        self.nat_gateway_id = gateway.id
        self.egress_cidr = address.ip_address.apply(_host_cidr)
        self.register_outputs({"subnet_id": self.subnet_id, "nat_gateway_id": self.nat_gateway_id})


def _host_cidr(ip: str | None) -> Any:
    """``<ip>/32``; None until the address is allocated."""
    return f"{ip}/32" if ip else None
