"""Everything tensorfleet runs in one AWS region, composed: key, network, cluster, bucket, node groups."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.bucket import SecureBucket, SecureBucketArgs
from components.aws.cluster import EksCluster, EksClusterArgs
from components.aws.kms import RegionKey, RegionKeyArgs
from components.aws.network import RegionNetwork, RegionNetworkArgs
from components.aws.nodegroup import (
    AcceleratorNodeGroup,
    AcceleratorNodeGroupArgs,
    SystemNodeGroup,
    SystemNodeGroupArgs,
)
from components.aws.policies import (
    CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
    artifact_reader_policy,
    cluster_autoscaler_policy,
    pod_identity_trust_policy,
)
from components.fleet.identity import WorkloadIdentity
from components.fleet.pool import PoolSpec

__all__ = ["AwsRegionFleet", "AwsRegionFleetArgs", "ExistingNetwork", "NodeGroupSpec"]


@dataclass(frozen=True, kw_only=True)
class NodeGroupSpec(PoolSpec):
    """One placement row to run in this region, on an EC2 instance type."""

    instance_type: str
    zone_ids: tuple[str, ...]
    """Availability-zone IDs that offer the instance type."""
    capacity_reservation_id: pulumi.Input[str] | None = None
    """A Capacity Block for ML to launch into (may be a secret). Default: none."""
    accelerator_count: int = 0
    """Accelerators per node; the autoscaler's template for scaling Neuron groups up from zero."""


@dataclass(frozen=True, kw_only=True)
class ExistingNetwork:
    """A VPC the platform team already runs; tensorfleet then creates no network."""

    vpc_id: pulumi.Input[str]
    private_subnet_ids: Mapping[str, pulumi.Input[str]]
    """Private subnet ID (may be a secret) per availability-zone ID (plain: it shapes the node groups),
    two zones at least."""


@dataclass(frozen=True, kw_only=True)
class AwsRegionFleetArgs:
    """Values that only flow into resource inputs may be secrets (``pulumi.Output.secret``); region and
    zone codes, counts and booleans shape the resource graph and stay plain."""

    region: str
    account_id: pulumi.Input[str]
    """The account that administers the region key (12 digits)."""
    stack: str
    zone_ids: tuple[str, ...]
    """Zones the network spans (every zone of the region the catalog knows)."""
    node_groups: tuple[NodeGroupSpec, ...]
    production: bool = False
    """Private API endpoint only, and key, cluster and bucket protected. Default: no."""
    kubernetes_version: pulumi.Input[str] = "1.33"
    vpc_cidr: pulumi.Input[str] = "10.64.0.0/16"
    """A /16; a secret range is the caller's to validate (see RegionNetworkArgs.cidr_block)."""
    nat_per_zone: bool = False
    public_access_cidrs: tuple[pulumi.Input[str], ...] = ()
    """Outside production: CIDRs allowed to reach a public API endpoint. Default: none (endpoint private)."""
    admin_principals: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Cluster-admin principal ARNs under stable keys (see EksClusterArgs.admin_principals)."""
    existing_network: ExistingNetwork | None = None
    """Bring your own VPC. Default: tensorfleet creates one."""
    tags: dict[str, str] = field(default_factory=dict)


class AwsRegionFleet(pulumi.ComponentResource):
    """One region's serving fleet on AWS."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    artifact_bucket: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """A Pulumi secret."""
    key_arn: pulumi.Output[str]
    node_group_names: dict[str, pulumi.Output[str]]
    """Node group name per ``workload/stage``."""
    system_pool: pulumi.Resource
    """The untainted nodes the cluster add-ons run on: what the Kubernetes layer waits for."""
    workload_identities: dict[str, WorkloadIdentity]
    """Per workload: nothing to carry, as EKS Pod Identity names the service account itself."""

    def __init__(self, name: str, args: AwsRegionFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:aws:RegionFleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The key's policy may name roles that must exist first (the caller's depends_on).
        key_opts = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        key = RegionKey(
            f"{name}-key",
            RegionKeyArgs(
                account_id=args.account_id, alias=f"tensorfleet-{args.stack}-{args.region}", production=args.production
            ),
            key_opts,
        )
        if args.existing_network is not None:
            subnets: dict[str, pulumi.Input[str]] = dict(args.existing_network.private_subnet_ids)
        else:
            network = RegionNetwork(
                f"{name}-network",
                RegionNetworkArgs(
                    region=args.region, zone_ids=args.zone_ids, cidr_block=args.vpc_cidr, nat_per_zone=args.nat_per_zone
                ),
                child,
            )
            subnets = dict(network.private_subnet_ids)
        cluster = EksCluster(
            f"{name}-cluster",
            EksClusterArgs(
                subnet_ids=list(subnets.values()),
                key_arn=key.arn,
                kubernetes_version=args.kubernetes_version,
                private_endpoint_only=args.production or not args.public_access_cidrs,
                public_access_cidrs=() if args.production else args.public_access_cidrs,
                admin_principals=args.admin_principals,
                production=args.production,
                tags=args.tags,
            ),
            child,
        )
        bucket = SecureBucket(f"{name}-artifacts", SecureBucketArgs(key_arn=key.arn, production=args.production), child)
        self.system_pool = SystemNodeGroup(
            f"{name}-system",
            SystemNodeGroupArgs(
                cluster_name=cluster.name, node_role_arn=cluster.node_role_arn, subnet_ids=list(subnets.values()),
                key_arn=key.arn, tags=args.tags,
            ),
            child,
        )  # fmt: skip
        self.node_group_names = {}
        for spec in args.node_groups:
            group = AcceleratorNodeGroup(
                f"{name}-{spec.key.replace('/', '-')}",
                AcceleratorNodeGroupArgs(
                    cluster_name=cluster.name,
                    node_role_arn=cluster.node_role_arn,
                    subnet_ids=_pool_subnets(spec, subnets),
                    key_arn=key.arn,
                    instance_type=spec.instance_type,
                    accelerator=spec.accelerator,
                    capacity=spec.capacity,
                    nodes_min=spec.nodes_min,
                    nodes_desired=spec.nodes_desired,
                    nodes_max=spec.nodes_max,
                    workload=spec.workload,
                    tenant=spec.tenant,
                    capacity_reservation_id=spec.capacity_reservation_id,
                    accelerator_count=spec.accelerator_count,
                    compact=spec.compact,
                    gpu_slices=spec.gpu_slices,
                    **({"disk_size_gib": spec.disk_gib} if spec.disk_gib is not None else {}),
                    tags=args.tags,
                ),
                child,
            )
            self.node_group_names[spec.key] = group.node_group_name
        self.workload_identities = {}
        for workload, tenant in sorted({(spec.workload, spec.tenant) for spec in args.node_groups}):
            _workload_identity(f"{name}-{workload}", workload, tenant, cluster.name, bucket, key.arn, child)
            self.workload_identities[workload] = WorkloadIdentity()
        _autoscaler_identity(f"{name}-autoscaler", cluster.name, child)
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.artifact_bucket = bucket.bucket_name
        self.kubeconfig = cluster.kubeconfig
        self.key_arn = key.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
                "artifact_bucket": self.artifact_bucket,
                "kubeconfig": self.kubeconfig,
                "node_group_names": self.node_group_names,
            }
        )


def _workload_identity(
    name: str,
    workload: str,
    tenant: str,
    cluster_name: pulumi.Input[str],
    bucket: SecureBucket,
    key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """The workload's own IAM role, bound through EKS Pod Identity to service account ``<workload>`` in
    namespace ``<tenant>``: it reads only ``s3://<artifacts>/<workload>/`` and decrypts only with the key."""
    role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps(pod_identity_trust_policy()), opts=opts)
    aws.iam.RolePolicy(
        f"{name}-artifacts",
        role=role.id,
        policy=pulumi.Output.all(bucket.arn, key_arn).apply(
            lambda values: json.dumps(artifact_reader_policy(values[0], workload, values[1]))
        ),
        opts=opts,
    )
    aws.eks.PodIdentityAssociation(
        f"{name}-identity", cluster_name=cluster_name, namespace=tenant, service_account=workload,
        role_arn=role.arn, opts=opts,
    )  # fmt: skip


def _autoscaler_identity(name: str, cluster_name: pulumi.Output[str], opts: pulumi.ResourceOptions) -> None:
    """The Cluster Autoscaler's IAM role, bound through EKS Pod Identity to its service account: it
    resizes only this cluster's node groups (EKS tags their Auto Scaling groups as the cluster's)."""
    role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps(pod_identity_trust_policy()), opts=opts)
    aws.iam.RolePolicy(
        f"{name}-scaling",
        role=role.id,
        policy=cluster_name.apply(lambda cluster: json.dumps(cluster_autoscaler_policy(cluster))),
        opts=opts,
    )
    namespace, service_account = CLUSTER_AUTOSCALER_SERVICE_ACCOUNT
    aws.eks.PodIdentityAssociation(
        f"{name}-identity", cluster_name=cluster_name, namespace=namespace, service_account=service_account,
        role_arn=role.arn, opts=opts,
    )  # fmt: skip


def _pool_subnets(spec: NodeGroupSpec, subnets: Mapping[str, pulumi.Input[str]]) -> list[pulumi.Input[str]]:
    """Subnets of the zones that offer the instance type; only the first of them for a compact group
    (a cluster placement group lives in one zone)."""
    offered = [subnets[zone] for zone in spec.zone_ids if zone in subnets]
    return offered[:1] if spec.compact else offered
