"""A VPC per region: private subnets in every zone, one public subnet per zone for NAT, an S3 gateway endpoint."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

__all__ = ["RegionNetwork", "RegionNetworkArgs", "subnet_plan"]


@dataclass(frozen=True, kw_only=True)
class RegionNetworkArgs:
    region: str
    """AWS region code, e.g. ``us-east-1`` (names the S3 endpoint service)."""
    zone_ids: tuple[str, ...]
    """Availability-zone IDs to span (2 to 6). Subnet names carry the zone ID, so adding a zone renames nothing."""
    cidr_block: pulumi.Input[str] = "10.64.0.0/16"
    """VPC range. Default 10.64.0.0/16: a /19 private subnet per zone, /24 public subnets from the last /19.
    A plain range is checked here; a secret (Output) one cannot be read before deployment, so the
    caller validates it (the subnets derived from it stay secret)."""
    nat_per_zone: bool = False
    """A NAT gateway in every zone, which survives a zone outage but costs one gateway per zone.
    Default: one shared NAT gateway."""


def subnet_plan(cidr_block: str, zone_ids: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Zone ID -> (private /19, public /24) carved deterministically from a /16."""
    network = ipaddress.IPv4Network(cidr_block)
    if network.prefixlen != 16:
        raise ValueError(f"cidr_block must be a /16, got a /{network.prefixlen}")
    blocks = list(network.subnets(new_prefix=19))
    publics = list(blocks[-1].subnets(new_prefix=24))
    return {zone: (str(blocks[i]), str(publics[i])) for i, zone in enumerate(zone_ids)}


def _ranges_of(zone: str, which: int) -> Callable[[dict[str, tuple[str, str]]], str]:
    """Picks a zone's private (0) or public (1) range from a subnet plan."""
    return lambda plan: plan[zone][which]


class RegionNetwork(pulumi.ComponentResource):
    """Private networking for one region's cluster."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: dict[str, pulumi.Output[str]]
    """Private subnet ID per availability-zone ID."""

    def __init__(self, name: str, args: RegionNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problems: list[pulumi.InputPropertyErrorDetails] = []
        if not 2 <= len(args.zone_ids) <= 6:
            problems.append(
                {"property_path": "zone_ids", "reason": f"needs 2 to 6 zones (EKS needs two), got {len(args.zone_ids)}"}
            )
        if isinstance(args.cidr_block, str):
            try:
                subnet_plan(args.cidr_block, args.zone_ids)
            except ValueError as exc:
                problems.append({"property_path": "cidr_block", "reason": str(exc)})
        if problems:
            raise pulumi.InputPropertiesError("RegionNetwork inputs are invalid", errors=problems)
        super().__init__("tensorfleet:aws:RegionNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = pulumi.Output.from_input(args.cidr_block).apply(lambda cidr: subnet_plan(cidr, args.zone_ids))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=args.cidr_block, enable_dns_hostnames=True, enable_dns_support=True, opts=child
        )
        # The default security group allows all traffic between its members; take every rule away.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )
        nats: dict[str, aws.ec2.NatGateway] = {}
        private_route_tables = []
        self.private_subnet_ids = {}
        for index, zone in enumerate(args.zone_ids):
            # The subnets' ranges derive from the VPC's: a secret range keeps them secret.
            private_cidr, public_cidr = plan.apply(_ranges_of(zone, 0)), plan.apply(_ranges_of(zone, 1))
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                availability_zone_id=zone,
                cidr_block=public_cidr,
                tags={"kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=public.id, route_table_id=public_routes.id, opts=child
            )
            if args.nat_per_zone or index == 0:
                address = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", opts=child)
                nats[zone] = aws.ec2.NatGateway(
                    f"{name}-nat-{zone}", allocation_id=address.id, subnet_id=public.id, opts=child
                )
            nat = nats.get(zone) or next(iter(nats.values()))
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone_id=zone,
                cidr_block=private_cidr,
                tags={"kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            routes = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=private.id, route_table_id=routes.id, opts=child
            )
            private_route_tables.append(routes.id)
            self.private_subnet_ids[zone] = private.id
        # Model weights come from S3: a gateway endpoint keeps that traffic off the NAT (no per-GB charge).
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            vpc_endpoint_type="Gateway",
            service_name=f"com.amazonaws.{args.region}.s3",
            route_table_ids=private_route_tables,
            opts=child,
        )
        self.vpc_id = vpc.id
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids})
