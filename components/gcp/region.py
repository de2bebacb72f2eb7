"""Everything tensorfleet runs in one GCP region, composed: key ring, network, GKE cluster, artifact
bucket, node pools, and each workload's own identity."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.fleet.identity import WorkloadIdentity
from components.fleet.pool import PoolSpec
from components.gcp.bucket import SecureGcsBucket, SecureGcsBucketArgs
from components.gcp.cluster import GkeCluster, GkeClusterArgs
from components.gcp.kms import RegionKeyRing, RegionKeyRingArgs
from components.gcp.network import POD_RANGE, SERVICE_RANGE, ExistingGcpNetwork, GcpNetwork, GcpNetworkArgs
from components.gcp.nodepool import GkeNodePool, GkeNodePoolArgs, GkeSystemPool, GkeSystemPoolArgs
from components.naming import digest_key

__all__ = ["GcpRegionFleet", "GcpRegionFleetArgs", "NodePoolSpec"]


@dataclass(frozen=True, kw_only=True)
class NodePoolSpec(PoolSpec):
    """One placement row to run in this region, on a GKE machine type."""

    machine_type: str
    accelerator_count: int
    zones: tuple[str, ...]
    reservation: pulumi.Input[str] | None = None


@dataclass(frozen=True, kw_only=True)
class GcpRegionFleetArgs:
    """Values that only flow into resource inputs may be secrets; region, zones, machine types and
    counts shape the resource graph and stay plain."""

    project: pulumi.Input[str]
    project_number: pulumi.Input[str]
    region: str
    stack: str
    node_pools: tuple[NodePoolSpec, ...]
    production: bool = False
    """Private control-plane endpoint only; key, cluster and bucket protected. Default: no."""
    release_channel: str = "REGULAR"
    node_cidr: pulumi.Input[str] = "10.64.0.0/20"
    pod_cidr: pulumi.Input[str] = "10.68.0.0/14"
    service_cidr: pulumi.Input[str] = "10.72.0.0/20"
    public_access_cidrs: tuple[pulumi.Input[str], ...] = ()
    """Outside production: CIDRs allowed to reach a public endpoint. Default: none (endpoint private)."""
    existing_network: ExistingGcpNetwork | None = None
    labels: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class GcpRegionFleet(pulumi.ComponentResource):
    """One region's serving fleet on GCP."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    """``https://<control-plane address>``, as kubeconfigs name it."""
    workload_pool: pulumi.Output[str]
    artifact_bucket: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_pool_names: dict[str, pulumi.Output[str]]
    system_pool: pulumi.Resource
    """The untainted nodes the cluster add-ons run on: what the Kubernetes layer waits for."""
    workload_identities: dict[str, WorkloadIdentity]
    """Per workload: how its service account takes on its Google service account."""

    def __init__(self, name: str, args: GcpRegionFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:gcp:RegionFleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        base = f"tensorfleet-{args.stack}-{args.region}"
        keys = RegionKeyRing(
            f"{name}-key",
            RegionKeyRingArgs(
                project=args.project, project_number=args.project_number, region=args.region, name=base,
                production=args.production,
            ),
            child,
        )  # fmt: skip
        after_grants = pulumi.ResourceOptions(parent=self, depends_on=keys.grants)
        if args.existing_network is not None:
            network = args.existing_network
        else:
            created = GcpNetwork(
                f"{name}-network",
                GcpNetworkArgs(
                    project=args.project, region=args.region, name=base, node_cidr=args.node_cidr,
                    pod_cidr=args.pod_cidr, service_cidr=args.service_cidr,
                ),
                child,
            )  # fmt: skip
            network = ExistingGcpNetwork(
                network=created.network_id, subnetwork=created.subnetwork_id, pod_range=POD_RANGE,
                service_range=SERVICE_RANGE,
            )  # fmt: skip
        cluster = GkeCluster(
            f"{name}-cluster",
            GkeClusterArgs(
                project=args.project,
                region=args.region,
                name=base,
                network=network.network,
                subnetwork=network.subnetwork,
                pod_range=network.pod_range,
                service_range=network.service_range,
                key_id=keys.key_id,
                release_channel=args.release_channel,
                private_endpoint=args.production or not args.public_access_cidrs,
                public_access_cidrs=() if args.production else args.public_access_cidrs,
                production=args.production,
                labels=args.labels,
            ),
            after_grants,
        )
        bucket = SecureGcsBucket(
            f"{name}-artifacts",
            SecureGcsBucketArgs(
                project=args.project, region=args.region, key_id=keys.key_id, production=args.production,
                labels=args.labels,
            ),
            after_grants,
        )  # fmt: skip
        cluster_id = pulumi.Output.all(args.project, cluster.name).apply(
            lambda values: f"projects/{values[0]}/locations/{args.region}/clusters/{values[1]}"
        )
        self.system_pool = GkeSystemPool(
            f"{name}-system",
            GkeSystemPoolArgs(
                project=args.project, cluster=cluster_id, region=args.region,
                zones=tuple(sorted({zone for spec in args.node_pools for zone in spec.zones})),
                service_account=cluster.node_service_account, key_id=keys.key_id, labels=args.labels,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )  # fmt: skip
        self.node_pool_names = {}
        for spec in args.node_pools:
            pool = GkeNodePool(
                f"{name}-{spec.key.replace('/', '-')}",
                GkeNodePoolArgs(
                    project=args.project,
                    cluster=cluster_id,
                    region=args.region,
                    machine_type=spec.machine_type,
                    accelerator=spec.accelerator,
                    accelerator_count=spec.accelerator_count,
                    zones=spec.zones,
                    capacity=spec.capacity,
                    nodes_min=spec.nodes_min,
                    nodes_desired=spec.nodes_desired,
                    nodes_max=spec.nodes_max,
                    workload=spec.workload,
                    tenant=spec.tenant,
                    service_account=cluster.node_service_account,
                    key_id=keys.key_id,
                    driver=spec.driver,
                    gpu_slices=spec.gpu_slices,
                    **({"disk_size_gib": spec.disk_gib} if spec.disk_gib is not None else {}),
                    reservation=spec.reservation,
                    takeover=spec.takeover,
                    compact=spec.compact,
                    labels=args.labels,
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
            )
            self.node_pool_names[spec.key] = pool.node_pool_name
        self.workload_identities = {
            workload: _workload_identity(f"{name}-{workload}", workload, tenant, args, cluster, bucket, child)
            for workload, tenant in sorted({(spec.workload, spec.tenant) for spec in args.node_pools})
        }
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint.apply(lambda address: f"https://{address}")
        self.workload_pool = cluster.workload_pool
        self.artifact_bucket = bucket.bucket_name
        self.kubeconfig = cluster.kubeconfig
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "artifact_bucket": self.artifact_bucket,
                "kubeconfig": self.kubeconfig,
                "node_pool_names": self.node_pool_names,
            }
        )


def _workload_identity(
    name: str,
    workload: str,
    tenant: str,
    args: GcpRegionFleetArgs,
    cluster: GkeCluster,
    bucket: SecureGcsBucket,
    opts: pulumi.ResourceOptions,
) -> WorkloadIdentity:
    """The workload's own service account, bound through Workload Identity to Kubernetes service
    account ``<workload>`` in namespace ``<tenant>``: it reads only ``gs://<artifacts>/<workload>/``."""
    account = gcp.serviceaccount.Account(
        f"{name}-sa",
        account_id=f"tf-{workload[:16].strip('-')}-{digest_key(name)[:8]}",
        display_name=f"tensorfleet workload {workload}",
        project=args.project,
        opts=opts,
    )
    gcp.serviceaccount.IAMMember(
        f"{name}-wi",
        service_account_id=account.name,
        role="roles/iam.workloadIdentityUser",
        member=cluster.workload_pool.apply(lambda pool: f"serviceAccount:{pool}[{tenant}/{workload}]"),
        opts=opts,
    )
    gcp.storage.BucketIAMMember(
        f"{name}-artifacts",
        bucket=bucket.bucket_name,
        role="roles/storage.objectViewer",
        member=account.email.apply(lambda email: f"serviceAccount:{email}"),
        condition=gcp.storage.BucketIAMMemberConditionArgs(
            title=f"{workload} artifacts only",
            expression=bucket.bucket_name.apply(
                lambda bucket_name: f'resource.name.startsWith("projects/_/buckets/{bucket_name}/objects/{workload}/")'
            ),
        ),
        opts=opts,
    )
    return WorkloadIdentity(annotations={"iam.gke.io/gcp-service-account": account.email})
