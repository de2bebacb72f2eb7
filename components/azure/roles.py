"""Azure built-in roles tensorfleet grants, by their fixed definition IDs (the same in every tenant).

Source: Microsoft Learn, "Azure built-in roles" (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

__all__ = [
    "CONTRIBUTOR",
    "KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER",
    "KEY_VAULT_CRYPTO_USER",
    "NETWORK_CONTRIBUTOR",
    "READER",
    "STORAGE_BLOB_DATA_READER",
    "grant",
]

KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
"""Cryptographic operations with keys: what AKS's KMS plugin needs to wrap etcd's data keys."""
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
"""Read keys and wrap/unwrap: what disk encryption sets and storage accounts need for CMEK."""
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
"""What an AKS identity needs on a subnet it did not create."""
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
"""Manage a resource: what an AKS identity needs on a proximity placement group it places pools in
(``Microsoft.Compute/proximityPlacementGroups/write``), granted on that group alone."""
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
"""Read a resource: what an AKS identity needs on the disk encryption set of its nodes."""


def grant(
    name: str,
    subscription_id: pulumi.Input[str],
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    condition: pulumi.Input[str] | None = None,
) -> azure_native.authorization.RoleAssignment:
    """``role`` for a managed identity (a service principal) on ``scope`` only."""
    definition = pulumi.Output.from_input(subscription_id).apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )
    return azure_native.authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=definition,
        scope=scope,
        condition=condition,
        condition_version=None if condition is None else "2.0",
        opts=opts,
    )
