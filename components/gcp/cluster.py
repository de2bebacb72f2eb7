"""A GKE Standard cluster per region: private nodes, Workload Identity, secrets encrypted with the
region key, shielded nodes, control-plane logs and managed Prometheus, a release channel."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.naming import digest_key

__all__ = ["LOGGED_COMPONENTS", "NODE_ROLES", "GkeCluster", "GkeClusterArgs", "kubeconfig"]

LOGGED_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS")
"""Control-plane and workload logs sent to Cloud Logging (APISERVER carries the audit trail)."""
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
"""The least a node's own service account needs (GKE hardening guide), instead of the default
Compute Engine account's project editor."""


@dataclass(frozen=True, kw_only=True)
class GkeClusterArgs:
    project: pulumi.Input[str]
    region: str
    name: str
    """Cluster name, unique in the project and region."""
    network: pulumi.Input[str]
    subnetwork: pulumi.Input[str]
    pod_range: str
    service_range: str
    key_id: pulumi.Input[str]
    """Cloud KMS key in the cluster's region for application-layer secrets encryption."""
    release_channel: str = "REGULAR"
    private_endpoint: bool = True
    """Serve the control plane only on its private endpoint. Default: yes (always in production)."""
    public_access_cidrs: tuple[pulumi.Input[str], ...] = ()
    """With a public endpoint, the only CIDRs allowed to reach it."""
    production: bool = False
    """Protect the cluster and turn on GKE deletion protection. Default: no."""
    labels: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class GkeCluster(pulumi.ComponentResource):
    """Control plane and the node service account of one region."""

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    workload_pool: pulumi.Output[str]
    """Workload Identity pool, ``<project>.svc.id.goog``."""
    kubeconfig: pulumi.Output[str]
    """Authenticates with ``gke-gcloud-auth-plugin``; a Pulumi secret."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__("tensorfleet:gcp:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=f"tf-nodes-{_short(args.name)}",
            display_name=f"GKE nodes of {args.name}",
            project=args.project,
            opts=child,
        )
        roles = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.rsplit('/', 1)[1].replace('.', '-')}",
                project=args.project,
                role=role,
                member=account.email.apply(lambda email: f"serviceAccount:{email}"),
                opts=child,
            )
            for role in NODE_ROLES
        ]
        workload_pool = pulumi.Output.from_input(args.project).apply(lambda project: f"{project}.svc.id.goog")
        cluster = gcp.container.Cluster(
            f"{name}-gke",
            name=args.name,
            project=args.project,
            location=args.region,
            network=args.network,
            subnetwork=args.subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pod_range, services_secondary_range_name=args.service_range
            ),
            # Node pools are tensorfleet's own: the default pool goes as soon as the cluster exists.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=gcp.container.ClusterNodeConfigArgs(
                service_account=account.email,
                shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True, enable_private_endpoint=args.private_endpoint
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr)
                    for cidr in args.public_access_cidrs
                ],
                gcp_public_cidrs_access_enabled=False,
            ),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool=workload_pool),
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=args.key_id),
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                )
            ),
            logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=list(LOGGED_COMPONENTS)),
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"],
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
            ),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel),
            resource_labels=args.labels,
            deletion_protection=args.production,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production, depends_on=[*roles, *_depends(opts)]),
        )
        _webhook_firewall(name, args, cluster, account.email, pulumi.ResourceOptions(parent=self))
        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.node_service_account = account.email
        self.workload_pool = workload_pool
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
                lambda values: kubeconfig(*values)
            )
        )
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "workload_pool": workload_pool,
            }
        )


WEBHOOK_PORTS = ("6443", "9443")
"""Ports the control plane calls on private nodes beyond GKE's own (443, 10250): KEDA's metrics API
server (6443) and the admission webhooks of KEDA and LeaderWorkerSet (9443). Without them the
autoscalers read no metrics and no LeaderWorkerSet can be created."""


def _webhook_firewall(
    name: str, args: GkeClusterArgs, cluster: gcp.container.Cluster, nodes: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
) -> gcp.compute.Firewall:  # fmt: skip
    """Admits the control plane (its private endpoint: the cluster reaches its private nodes through
    Private Service Connect, as no peering range is set) to the add-ons' webhook ports on the
    cluster's nodes only (they run as the cluster's own node service account)."""
    # The private endpoint, or the endpoint itself where only one is reported (a private-endpoint cluster).
    source = pulumi.Output.all(cluster.private_cluster_config.private_endpoint, cluster.endpoint).apply(
        lambda ips: f"{ips[0] or ips[1]}/32"
    )
    return gcp.compute.Firewall(
        f"{name}-webhooks",
        project=args.project,
        network=args.network,
        direction="INGRESS",
        source_ranges=[source],
        target_service_accounts=[nodes],
        allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=list(WEBHOOK_PORTS))],
        description="GKE control plane to add-on webhooks and the KEDA metrics API on private nodes",
        opts=opts,
    )


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str) -> str:
    """A kubeconfig for the cluster that gets short-lived tokens from ``gke-gcloud-auth-plugin``."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": certificate_authority},
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "gke-gcloud-auth-plugin",
                        "provideClusterInfo": True,
                    }
                },
            }
        ],
    }
    return json.dumps(document)


def _depends(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The caller's dependencies (children do not inherit them): the key grants the cluster needs."""
    depends = opts.depends_on if opts else None
    if depends is None:
        return []
    return list(depends) if isinstance(depends, list) else [depends]  # type: ignore[list-item]


def _short(name: str) -> str:
    """Service account IDs hold 6-30 characters: the name's tail, kept unique by a digest."""
    return f"{name[-10:].strip('-')}-{digest_key(name)[:8]}"


def _validate(args: GkeClusterArgs) -> None:
    if not args.private_endpoint and not args.public_access_cidrs:
        raise pulumi.InputPropertiesError(
            "GkeCluster inputs are invalid",
            errors=[
                {
                    "property_path": "public_access_cidrs",
                    "reason": "a public endpoint needs the CIDRs allowed to reach it",
                }
            ],
        )
