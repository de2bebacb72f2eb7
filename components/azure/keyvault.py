"""A region's key vault and its key: purge-protected, RBAC-only, the key rotated every 90 days,
with a disk encryption set and the identity that storage and disks use to reach it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from components.azure.roles import KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER, grant

__all__ = ["KEY_ROTATION", "RegionKeyVault", "RegionKeyVaultArgs"]

KEY_ROTATION = "P90D"
"""Rotate the key 90 days after each version is created (ISO 8601 duration)."""
SOFT_DELETE_DAYS = 90


@dataclass(frozen=True, kw_only=True)
class RegionKeyVaultArgs:
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    resource_group: pulumi.Input[str]
    region: str
    vault_name: str
    """Globally unique, 3-24 letters, digits and hyphens."""
    production: bool = False
    tags: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class RegionKeyVault(pulumi.ComponentResource):
    """Key vault, key, encryption identity and disk encryption set of one region."""

    vault_id: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    key_name: pulumi.Output[str]
    key_id: pulumi.Output[str]
    """The key's versioned URI, as AKS's KMS plugin needs it."""
    identity_id: pulumi.Output[str]
    """User-assigned identity that storage accounts use for the key (CMEK at creation needs one)."""
    disk_encryption_set_id: pulumi.Output[str]
    grants: list[pulumi.Resource]
    """What must exist before anything encrypts with the key."""

    def __init__(self, name: str, args: RegionKeyVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:azure:RegionKeyVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.production)
        vault = azure_native.keyvault.Vault(
            f"{name}-vault",
            vault_name=args.vault_name,
            resource_group_name=args.resource_group,
            location=args.region,
            properties=azure_native.keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=azure_native.keyvault.SkuArgs(family="A", name=azure_native.keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=SOFT_DELETE_DAYS,
                enable_purge_protection=True,
                enabled_for_deployment=False,
                enabled_for_template_deployment=False,
                enabled_for_disk_encryption=False,
                # Trusted Azure services (disk encryption, storage, AKS's KMS) pass the firewall.
                network_acls=azure_native.keyvault.NetworkRuleSetArgs(bypass="AzureServices", default_action="Allow"),
            ),
            tags=args.tags,
            opts=kept,
        )
        key = azure_native.keyvault.Key(
            f"{name}-key",
            key_name="tensorfleet",
            vault_name=vault.name,
            resource_group_name=args.resource_group,
            properties=azure_native.keyvault.KeyPropertiesArgs(
                kty="RSA",
                key_size=2048,
                key_ops=["wrapKey", "unwrapKey", "encrypt", "decrypt"],
                # Versions do not expire: etcd's KMS stays on the version current at the last update
                # (a refresh and update after each rotation move it on), while disks and storage
                # follow the newest version themselves.
                rotation_policy=azure_native.keyvault.RotationPolicyArgs(
                    lifetime_actions=[
                        azure_native.keyvault.LifetimeActionArgs(
                            action=azure_native.keyvault.ActionArgs(
                                type=azure_native.keyvault.KeyRotationPolicyActionType.ROTATE
                            ),
                            trigger=azure_native.keyvault.TriggerArgs(time_after_create=KEY_ROTATION),
                        ),
                    ],
                ),
            ),
            tags=args.tags,
            opts=kept,
        )
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-cmk",
            resource_group_name=args.resource_group,
            location=args.region,
            tags=args.tags,
            opts=child,
        )
        key_user = grant(
            f"{name}-cmk-key", args.subscription_id, KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
            identity.principal_id, vault.id, child,
        )  # fmt: skip
        # The API documents SystemAssigned as the identity of a new disk encryption set: it is granted
        # the key once it exists, and nothing encrypts with the set before that grant.
        disk_set = azure_native.compute.DiskEncryptionSet(
            f"{name}-disks",
            resource_group_name=args.resource_group,
            location=args.region,
            encryption_type="EncryptionAtRestWithCustomerKey",
            identity=azure_native.compute.EncryptionSetIdentityArgs(type="SystemAssigned"),
            active_key=azure_native.compute.KeyForDiskEncryptionSetArgs(
                key_url=key.key_uri_with_version, source_vault=azure_native.compute.SourceVaultArgs(id=vault.id)
            ),
            # Disks follow the key's rotation without a redeploy.
            rotation_to_latest_key_version_enabled=True,
            tags=args.tags,
            opts=child,
        )
        disk_set_user = grant(
            f"{name}-disks-key", args.subscription_id, KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
            disk_set.identity.apply(_principal_id), vault.id, child,
        )  # fmt: skip
        self.vault_id = vault.id
        self.vault_uri = pulumi.Output.from_input(f"https://{args.vault_name}.vault.azure.net/")
        self.key_name = key.name
        self.key_id = key.key_uri_with_version
        self.identity_id = identity.id
        self.disk_encryption_set_id = disk_set.id
        self.grants = [key_user, disk_set_user]
        self.register_outputs(
            {"vault_id": self.vault_id, "key_id": self.key_id, "disk_encryption_set_id": self.disk_encryption_set_id}
        )


def _principal_id(identity: Any) -> Any:
    """The disk encryption set's own identity; known once the set exists."""
    return identity.principal_id if identity else None
