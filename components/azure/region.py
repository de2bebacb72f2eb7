"""Everything tensorfleet runs in one Azure region, composed: resource group, key vault, network,
AKS cluster, artifact storage, GPU agent pools, and each workload's own identity."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

from components.azure.agentpool import AksAgentPool, AksAgentPoolArgs
from components.azure.cluster import AksCluster, AksClusterArgs
from components.azure.keyvault import RegionKeyVault, RegionKeyVaultArgs
from components.azure.network import AzureNetwork, AzureNetworkArgs
from components.azure.roles import CONTRIBUTOR, STORAGE_BLOB_DATA_READER, grant
from components.azure.storage import SecureStorageAccount, SecureStorageAccountArgs
from components.fleet.identity import WorkloadIdentity
from components.fleet.pool import PoolSpec
from components.naming import digest_key

__all__ = ["AgentPoolSpec", "AzureRegionFleet", "AzureRegionFleetArgs", "global_name"]


@dataclass(frozen=True, kw_only=True)
class AgentPoolSpec(PoolSpec):
    """One placement row to run in this region, on an AKS VM size."""

    vm_size: str


@dataclass(frozen=True, kw_only=True)
class AzureRegionFleetArgs:
    """Region, sizes and counts shape the resource graph and stay plain."""

    subscription_id: str
    tenant_id: str
    region: str
    stack: str
    agent_pools: tuple[AgentPoolSpec, ...]
    production: bool = False
    """Private cluster; vault key, cluster and storage protected. Default: no."""
    node_cidr: str = "10.80.0.0/16"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/16"
    public_access_cidrs: tuple[str, ...] = ()
    """Outside production: CIDRs allowed to reach a public API server. Default: none (private)."""
    admin_group_object_ids: tuple[str, ...] = ()
    tags: dict[str, pulumi.Input[str]] = field(default_factory=dict)


def global_name(prefix: str, args: AzureRegionFleetArgs, length: int) -> str:
    """A name unique across Azure (key vaults, storage accounts) yet stable for the subscription,
    region and stack: lowercase letters and digits."""
    digest = digest_key(f"{args.subscription_id}/{args.region}/{args.stack}")
    stack = "".join(ch for ch in args.stack.lower() if ch.isalnum())
    return f"{prefix}{stack[: length - len(prefix) - len(digest)]}{digest}"


class AzureRegionFleet(pulumi.ComponentResource):
    """One region's serving fleet on Azure."""

    resource_group: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    """``https://<API server FQDN>``, as kubeconfigs name it."""
    oidc_issuer_url: pulumi.Output[str]
    storage_account: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    agent_pool_names: dict[str, pulumi.Output[str]]
    system_pool: pulumi.Resource
    """The cluster, whose System pool the add-ons run on: what the Kubernetes layer waits for."""
    workload_identities: dict[str, WorkloadIdentity]
    """Per workload: how its service account and pods take on its managed identity."""

    def __init__(self, name: str, args: AzureRegionFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:azure:RegionFleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        base = f"tensorfleet-{args.stack}-{args.region}"
        group = azure_native.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=base, location=args.region, tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )  # fmt: skip
        keys = RegionKeyVault(
            f"{name}-keys",
            RegionKeyVaultArgs(
                subscription_id=args.subscription_id, tenant_id=args.tenant_id, resource_group=group.name,
                region=args.region, vault_name=global_name("tf-", args, 24), production=args.production,
                tags=args.tags,
            ),
            child,
        )  # fmt: skip
        network = AzureNetwork(
            f"{name}-network",
            AzureNetworkArgs(resource_group=group.name, region=args.region, name=base, node_cidr=args.node_cidr,
                             tags=args.tags),
            child,
        )  # fmt: skip
        private = args.production or not args.public_access_cidrs
        cluster = AksCluster(
            f"{name}-cluster",
            AksClusterArgs(
                subscription_id=args.subscription_id,
                tenant_id=args.tenant_id,
                resource_group=group.name,
                region=args.region,
                name=base,
                subnet_id=network.subnet_id,
                vault_id=keys.vault_id,
                key_id=keys.key_id,
                disk_encryption_set_id=keys.disk_encryption_set_id,
                pod_cidr=args.pod_cidr,
                service_cidr=args.service_cidr,
                private=private,
                public_access_cidrs=() if private else args.public_access_cidrs,
                egress_cidr=network.egress_cidr,
                admin_group_object_ids=args.admin_group_object_ids,
                production=args.production,
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=keys.grants),
        )
        storage = SecureStorageAccount(
            f"{name}-artifacts",
            SecureStorageAccountArgs(
                resource_group=group.name, region=args.region, account_name=global_name("tf", args, 24),
                vault_uri=keys.vault_uri, key_name=keys.key_name, identity_id=keys.identity_id,
                production=args.production, tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=keys.grants),
        )  # fmt: skip
        self.agent_pool_names = {}
        for spec in args.agent_pools:
            pool_name = f"{name}-{spec.key.replace('/', '-')}"
            proximity = (
                azure_native.compute.ProximityPlacementGroup(
                    f"{pool_name}-proximity",
                    resource_group_name=group.name,
                    location=args.region,
                    proximity_placement_group_type="Standard",
                    tags=args.tags,
                    opts=child,
                )
                if spec.compact
                else None
            )
            proximity_id: pulumi.Input[str] | None = None
            if proximity is not None:
                allowed = grant(
                    f"{pool_name}-proximity-grant", args.subscription_id, CONTRIBUTOR,
                    cluster.identity_principal_id, proximity.id, child,
                )  # fmt: skip
                # The pool names the group through the grant, so it is created only once AKS may use it.
                proximity_id = allowed.scope
            pool = AksAgentPool(
                pool_name,
                AksAgentPoolArgs(
                    resource_group=group.name,
                    cluster_name=cluster.name,
                    key=spec.key,
                    vm_size=spec.vm_size,
                    accelerator=spec.accelerator,
                    capacity=spec.capacity,
                    nodes_min=spec.nodes_min,
                    nodes_desired=spec.nodes_desired,
                    nodes_max=spec.nodes_max,
                    workload=spec.workload,
                    tenant=spec.tenant,
                    subnet_id=network.subnet_id,
                    driver=spec.driver,
                    gpu_slices=spec.gpu_slices,
                    disk_gib=spec.disk_gib,
                    proximity_placement_group_id=proximity_id,
                    takeover=spec.takeover,
                    tags=args.tags,
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
            )
            self.agent_pool_names[spec.key] = pool.agent_pool_name
        self.workload_identities = {
            workload: _workload_identity(f"{name}-{workload}", workload, tenant, args, group, cluster, storage, child)
            for workload, tenant in sorted({(spec.workload, spec.tenant) for spec in args.agent_pools})
        }
        self.system_pool = cluster
        self.resource_group = group.name
        self.cluster_name = cluster.name
        self.endpoint = cluster.fqdn.apply(lambda fqdn: f"https://{fqdn}")
        self.oidc_issuer_url = cluster.oidc_issuer_url
        self.storage_account = storage.account_name
        self.kubeconfig = cluster.kubeconfig
        self.register_outputs(
            {
                "resource_group": self.resource_group,
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "storage_account": self.storage_account,
                "kubeconfig": self.kubeconfig,
                "agent_pool_names": self.agent_pool_names,
            }
        )


def _workload_identity(
    name: str,
    workload: str,
    tenant: str,
    args: AzureRegionFleetArgs,
    group: azure_native.resources.ResourceGroup,
    cluster: AksCluster,
    storage: SecureStorageAccount,
    opts: pulumi.ResourceOptions,
) -> WorkloadIdentity:
    """The workload's own managed identity, federated with Kubernetes service account
    ``<workload>`` in namespace ``<tenant>``: it reads only ``artifacts/<workload>/`` blobs."""
    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-identity", resource_group_name=group.name, location=args.region, tags=args.tags, opts=opts
    )
    azure_native.managedidentity.FederatedIdentityCredential(
        f"{name}-federation",
        resource_group_name=group.name,
        resource_name_=identity.name,
        issuer=cluster.oidc_issuer_url,
        subject=f"system:serviceaccount:{tenant}:{workload}",
        audiences=["api://AzureADTokenExchange"],
        opts=opts,
    )
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    prefix = f"'{workload}/'"
    # Reading a blob is checked on its path; listing (the same action, sub-operation Blob.List) on
    # the requested prefix, which a list request carries instead of a path.
    condition = (
        f"((!(ActionMatches{{'{blobs}/read'}} AND NOT SubOperationMatches{{'Blob.List'}})) "
        f"OR (@Resource[{blobs}:path] StringStartsWith {prefix})) AND "
        f"((!(ActionMatches{{'{blobs}/read'}} AND SubOperationMatches{{'Blob.List'}})) "
        f"OR (@Request[{blobs}:prefix] StringStartsWith {prefix}))"
    )
    grant(
        f"{name}-artifacts", args.subscription_id, STORAGE_BLOB_DATA_READER, identity.principal_id,
        storage.container_id, opts, condition=condition,
    )  # fmt: skip
    return WorkloadIdentity(
        annotations={"azure.workload.identity/client-id": identity.client_id},
        pod_labels={"azure.workload.identity/use": "true"},
    )
