"""An AKS cluster: Entra ID sign-in with Azure RBAC only, etcd secrets encrypted with the region's
key (KMS), CMEK OS disks encrypted at host, CNI overlay with Cilium network policy, NAT egress,
workload identity, control-plane audit logs in Log Analytics, and a small untainted system pool."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from components.azure.roles import KEY_VAULT_CRYPTO_USER, NETWORK_CONTRIBUTOR, READER, grant
from components.fleet.labels import SYSTEM_POOL_LABEL
from regions.footprint import AKS_OS_DISK_GIB, AKS_SYSTEM_VM_SIZE, SYSTEM_NODES

__all__ = [
    "AUDIT_LOG_CATEGORIES",
    "LOG_RETENTION_DAYS",
    "AksCluster",
    "AksClusterArgs",
    "dns_service_ip",
]

AUDIT_LOG_CATEGORIES = ("kube-apiserver", "kube-audit", "guard")
"""API server, audit (every request, reads of secrets included) and Entra ID authentication logs."""
LOG_RETENTION_DAYS = 30
"""Log Analytics keeps 31 days at no charge beyond ingestion."""


@dataclass(frozen=True, kw_only=True)
class AksClusterArgs:
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    resource_group: pulumi.Input[str]
    region: str
    name: str
    subnet_id: pulumi.Input[str]
    vault_id: pulumi.Input[str]
    key_id: pulumi.Input[str]
    """Versioned key URI for KMS etcd encryption."""
    disk_encryption_set_id: pulumi.Input[str]
    pod_cidr: str
    service_cidr: str
    private: bool
    """API server reachable only inside the virtual network (a private cluster)."""
    public_access_cidrs: tuple[pulumi.Input[str], ...] = ()
    egress_cidr: pulumi.Input[str] = ""
    """The NAT gateway's address as a /32: allowed to a public API server beside the CIDRs."""
    admin_group_object_ids: tuple[str, ...] = ()
    production: bool = False
    tags: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class AksCluster(pulumi.ComponentResource):
    """Control-plane identity and its grants, Log Analytics workspace, cluster and its audit logs."""

    name: pulumi.Output[str]
    fqdn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    identity_principal_id: pulumi.Output[str]
    """The control plane's identity, for grants on what it manages beside the cluster."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:azure:AksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_group_name=args.resource_group, location=args.region, tags=args.tags,
            opts=child,
        )  # fmt: skip
        grants = [
            grant(f"{name}-kms", args.subscription_id, KEY_VAULT_CRYPTO_USER, identity.principal_id, args.vault_id,
                  child),
            # AKS reads the disk encryption set it puts on node disks.
            grant(f"{name}-disks", args.subscription_id, READER, identity.principal_id, args.disk_encryption_set_id,
                  child),
            grant(f"{name}-subnet", args.subscription_id, NETWORK_CONTRIBUTOR, identity.principal_id, args.subnet_id,
                  child),
        ]  # fmt: skip
        workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=args.resource_group,
            location=args.region,
            sku=azure_native.operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=LOG_RETENTION_DAYS,
            tags=args.tags,
            opts=child,
        )
        cluster = azure_native.containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=args.name,
            resource_group_name=args.resource_group,
            location=args.region,
            dns_prefix=args.name,
            identity=azure_native.containerservice.ManagedClusterIdentityArgs(
                type=azure_native.containerservice.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[identity.id],
            ),
            sku=azure_native.containerservice.ManagedClusterSKUArgs(name="Base", tier="Standard"),
            auto_upgrade_profile=azure_native.containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel="stable", node_os_upgrade_channel="NodeImage"
            ),
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile=azure_native.containerservice.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                tenant_id=args.tenant_id,
                admin_group_object_ids=list(args.admin_group_object_ids) or None,
            ),
            api_server_access_profile=azure_native.containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=args.private,
                # The nodes reach a public API server from the NAT gateway's address.
                authorized_ip_ranges=None
                if args.private
                else pulumi.Output.all(*args.public_access_cidrs, args.egress_cidr).apply(_ranges),
                disable_run_command=args.production,
            ),
            network_profile=azure_native.containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane="cilium",
                network_policy="cilium",
                pod_cidr=args.pod_cidr,
                service_cidr=args.service_cidr,
                dns_service_ip=dns_service_ip(args.service_cidr),
                outbound_type="userAssignedNATGateway",
                load_balancer_sku="standard",
            ),
            security_profile=azure_native.containerservice.ManagedClusterSecurityProfileArgs(
                azure_key_vault_kms=azure_native.containerservice.AzureKeyVaultKmsArgs(
                    enabled=True, key_id=args.key_id, key_vault_network_access="Public"
                ),
                workload_identity=azure_native.containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(
                    enabled=True
                ),
            ),
            oidc_issuer_profile=azure_native.containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            disk_encryption_set_id=args.disk_encryption_set_id,
            agent_pool_profiles=[
                azure_native.containerservice.ManagedClusterAgentPoolProfileArgs(
                    name="system",
                    mode="System",
                    type="VirtualMachineScaleSets",
                    os_type="Linux",
                    os_sku="AzureLinux",
                    vm_size=AKS_SYSTEM_VM_SIZE,
                    count=SYSTEM_NODES,
                    enable_auto_scaling=False,
                    os_disk_size_gb=AKS_OS_DISK_GIB,
                    os_disk_type="Managed",
                    enable_encryption_at_host=True,
                    enable_node_public_ip=False,
                    vnet_subnet_id=args.subnet_id,
                    upgrade_settings=azure_native.containerservice.AgentPoolUpgradeSettingsArgs(max_surge="1"),
                    node_labels={SYSTEM_POOL_LABEL: "system"},
                    tags=args.tags,
                )
            ],
            tags=args.tags,
            # GPU pools are their own resources: the cluster must not reconcile them away.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=grants, protect=args.production, ignore_changes=["agentPoolProfiles"]
            ),
        )
        azure_native.monitor.DiagnosticSetting(
            f"{name}-audit",
            name="tensorfleet-audit",
            resource_uri=cluster.id,
            workspace_id=workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[
                azure_native.monitor.DiagnosticsLogSettingsArgs(category=category, enabled=True)
                for category in AUDIT_LOG_CATEGORIES
            ],
            opts=child,
        )
        credentials = azure_native.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=args.resource_group,
            resource_name=cluster.name,
            format="exec",
            # An invoke takes the provider of its parent: the region's, not the ambient default.
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.name = cluster.name
        self.identity_principal_id = identity.principal_id
        self.fqdn = cluster.private_fqdn if args.private else cluster.fqdn
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(_issuer_url)
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs.apply(_first_kubeconfig))
        self.register_outputs({"name": self.name, "fqdn": self.fqdn, "kubeconfig": self.kubeconfig})


def _ranges(cidrs: list[Any]) -> list[str]:
    """Authorised ranges without the egress address while it is not known (before the first update)."""
    return [cidr for cidr in cidrs if cidr]


def _issuer_url(profile: Any) -> Any:
    """The OIDC issuer URL; None until the cluster exists."""
    return profile.issuer_url if profile else None


def dns_service_ip(service_cidr: str) -> str:
    """The cluster DNS address: the tenth of the service range, by AKS's convention."""
    return str(ipaddress.ip_network(service_cidr)[10])


def _first_kubeconfig(kubeconfigs: list[Any] | None) -> Any:
    """The user kubeconfig (``kubelogin`` exec, Entra ID sign-in); the API returns it base64-encoded."""
    if not kubeconfigs:
        return None  # not deployed yet
    return base64.b64decode(kubeconfigs[0].value).decode("utf-8")
