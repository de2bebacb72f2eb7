"""An artifact storage account: CMEK through the region's key, TLS 1.2, HTTPS only, Entra ID
sign-in only (no shared keys), no public blob access, versioned blobs, one private container."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

__all__ = ["ARTIFACT_CONTAINER", "SecureStorageAccount", "SecureStorageAccountArgs"]

ARTIFACT_CONTAINER = "artifacts"


@dataclass(frozen=True, kw_only=True)
class SecureStorageAccountArgs:
    resource_group: pulumi.Input[str]
    region: str
    account_name: str
    """Globally unique, 3-24 lowercase letters and digits."""
    vault_uri: pulumi.Input[str]
    key_name: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    """User-assigned identity already granted the key (CMEK at creation needs one)."""
    production: bool = False
    tags: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class SecureStorageAccount(pulumi.ComponentResource):
    """Storage account, its blob versioning, and the artifacts container."""

    account_id: pulumi.Output[str]
    account_name: pulumi.Output[str]
    container_id: pulumi.Output[str]

    def __init__(self, name: str, args: SecureStorageAccountArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:azure:SecureStorageAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = azure_native.storage.StorageAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group,
            location=args.region,
            kind="StorageV2",
            sku=azure_native.storage.SkuArgs(name="Standard_LRS"),
            access_tier=azure_native.storage.AccessTier.HOT,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            identity=azure_native.storage.IdentityArgs(
                type="UserAssigned", user_assigned_identities=[args.identity_id]
            ),
            encryption=azure_native.storage.EncryptionArgs(
                key_source="Microsoft.Keyvault",
                key_vault_properties=azure_native.storage.KeyVaultPropertiesArgs(
                    key_name=args.key_name, key_vault_uri=args.vault_uri
                ),
                encryption_identity=azure_native.storage.EncryptionIdentityArgs(
                    encryption_user_assigned_identity=args.identity_id
                ),
                require_infrastructure_encryption=True,
                services=azure_native.storage.EncryptionServicesArgs(
                    blob=azure_native.storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                ),
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        azure_native.storage.BlobServiceProperties(
            f"{name}-versions",
            account_name=account.name,
            resource_group_name=args.resource_group,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(enabled=True, days=30),
            opts=child,
        )
        container = azure_native.storage.BlobContainer(
            f"{name}-artifacts",
            container_name=ARTIFACT_CONTAINER,
            account_name=account.name,
            resource_group_name=args.resource_group,
            public_access=azure_native.storage.PublicAccess.NONE,
            opts=child,
        )
        self.account_id = account.id
        self.account_name = account.name
        self.container_id = container.id
        self.register_outputs({"account_name": self.account_name, "container_id": self.container_id})
