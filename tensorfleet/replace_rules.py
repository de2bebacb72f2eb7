"""Which input changes make the engine replace a resource instead of updating it, per type token.

The offline plan has no provider to ask (``pulumi preview`` calls each provider's ``Diff``), so
the comparison against a base plan reads this table. It only covers the types whose replacement
matters most to a fleet and whose facts are published: the placement-driven node group, and the
protected cluster, key and bucket. Any other input change counts as an update; the real preview
remains the authority.

``pulumi-aws`` is bridged from the Terraform AWS provider: a property declared ``ForceNew`` in the
upstream resource schema is a property the bridge reports as a replacement. Where the resource's
documentation says "Forces new resource" that page is cited; where the documentation page is silent
(the EKS and KMS pages), the schema file that declares ``ForceNew`` is cited as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PROVIDER_KEY", "REPLACE_ON_CHANGE", "ReplaceRule", "forcing_properties"]

PROVIDER_KEY = "provider"
"""The pseudo-property the engine blames when a resource moves to another provider."""

_TF_DOCS = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/"
_TF_SCHEMA = "https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/"
_PULUMI_DOCS = "https://www.pulumi.com/registry/packages/aws/api-docs/"


@dataclass(frozen=True, slots=True)
class ReplaceRule:
    """Wire-form (camelCase) property paths whose change replaces a resource, and where that is stated."""

    properties: tuple[str, ...]
    sources: tuple[str, ...]


REPLACE_ON_CHANGE: Mapping[str, ReplaceRule] = {
    "aws:eks/nodeGroup:NodeGroup": ReplaceRule(
        properties=(
            "amiType",
            "capacityType",
            "clusterName",
            "diskSize",
            "instanceTypes",
            "launchTemplate.id",
            "launchTemplate.name",
            "nodeGroupName",
            "nodeGroupNamePrefix",
            "nodeRoleArn",
            "remoteAccess",
            "subnetIds",
        ),
        sources=(
            _PULUMI_DOCS + "eks/nodegroup/",
            _TF_DOCS + "eks_node_group",
            _TF_SCHEMA + "eks/node_group.go (ForceNew: true on each property listed)",
        ),
    ),
    "aws:eks/cluster:Cluster": ReplaceRule(
        properties=(
            "accessConfig.bootstrapClusterCreatorAdminPermissions",
            "bootstrapSelfManagedAddons",
            "kubernetesNetworkConfig.ipFamily",
            "kubernetesNetworkConfig.serviceIpv4Cidr",
            "name",
            "outpostConfig.controlPlaneInstanceType",
            "remoteNetworkConfig",
            "roleArn",
        ),
        sources=(
            _PULUMI_DOCS + "eks/cluster/",
            _TF_DOCS + "eks_cluster (kubernetes_network_config.service_ipv4_cidr: "
            '"changing this value will force a new cluster to be created")',
            _TF_SCHEMA + "eks/cluster.go (ForceNew: true on each property listed)",
        ),
    ),
    "aws:kms/key:Key": ReplaceRule(
        properties=("customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"),
        sources=(
            _PULUMI_DOCS + "kms/key/",
            _TF_DOCS + "kms_key",
            _TF_SCHEMA + "kms/key.go (ForceNew: true on each property listed)",
        ),
    ),
    "aws:s3/bucket:Bucket": ReplaceRule(
        properties=("bucket", "bucketPrefix", "objectLockEnabled"),
        sources=(
            _PULUMI_DOCS + "s3/bucket/",
            _TF_DOCS + 's3_bucket ("bucket", "bucket_prefix", "object_lock_enabled": "Forces new resource")',
        ),
    ),
}
"""Replacement-forcing properties of the provider resource types the program registers."""


def forcing_properties(type_token: str, changed: tuple[str, ...]) -> tuple[str, ...]:
    """The table's properties of ``type_token`` that ``changed`` (dotted wire-form paths) touch.

    A change touches a property when it is the property, lies inside it (``instanceTypes[0]``,
    ``remoteAccess.ec2SshKey``) or contains it (``launchTemplate`` changed as a whole).
    """
    rule = REPLACE_ON_CHANGE.get(type_token)
    if rule is None:
        return ()
    return tuple(p for p in rule.properties if any(_touches(path, p) for path in changed))


def _touches(path: str, prop: str) -> bool:
    return path == prop or path.startswith((prop + ".", prop + "[")) or prop.startswith(path + ".")
