"""hipaa-encryption: in every region that runs a HIPAA workload, customer-managed keys everywhere,
rotation on, TLS only, no public cluster endpoint, audit logs on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

import fleet_facts
from props import UNKNOWN, json_document, known, present

Check = Callable[[PolicyResource, list[PolicyResource]], list[str]]


def validate_hipaa_encryption(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Checks every resource in the regions of HIPAA workloads; each problem names resource, value and fix."""
    hipaa = {name for name, props in fleet_facts.workloads(args.resources).items() if props.get("hipaa")}
    hipaa |= set(args.get_config().get("additionalWorkloads") or [])
    if not hipaa:
        args.not_applicable("no HIPAA workload in this stack")
    regions = {p.region for p in fleet_facts.pools(args.resources) if p.workload in hipaa}
    siblings: dict[str, list[PolicyResource]] = defaultdict(list)
    for resource in args.resources:
        if resource.parent is not None:
            siblings[resource.parent.urn].append(resource)
    for resource in args.resources:
        check = _CHECKS.get(resource.resource_type)
        if check is None or fleet_facts.provider_region(resource.provider) not in regions:
            continue
        family = siblings.get(resource.parent.urn, []) if resource.parent is not None else []
        for problem in check(resource, family):
            report_violation(f"{resource.resource_type.split(':')[-1]} '{resource.name}' serves HIPAA workloads "
                             f"({', '.join(sorted(hipaa))}) but {problem}", resource.urn)  # fmt: skip


def _key(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    rotation = known(resource.props, "enableKeyRotation")
    return [] if rotation in (True, UNKNOWN) else ["its key rotation is off (enableKeyRotation)"]


def _cluster(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    props = resource.props
    problems = []
    configs = known(props, "encryptionConfig")
    if configs is not UNKNOWN:
        configs = configs if isinstance(configs, list) else [configs] if configs else []
        if not any(present(c, "provider", "keyArn") and _covers_secrets(c) for c in configs):
            problems.append("its secrets are not envelope-encrypted with a customer-managed key (encryptionConfig)")
    public = known(props, "vpcConfig", "endpointPublicAccess")
    if public is not UNKNOWN and public is not False:
        problems.append("its API endpoint is public (vpcConfig.endpointPublicAccess must be false)")
    logs = known(props, "enabledClusterLogTypes")
    if logs is not UNKNOWN and "audit" not in (logs or []):
        problems.append(f"audit logs are off (enabledClusterLogTypes is {sorted(logs or [])})")
    return problems


def _covers_secrets(config: Mapping[str, Any]) -> bool:
    resources = known(config, "resources")
    return resources is UNKNOWN or "secrets" in (resources or [])


def _launch_template(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    mappings = known(resource.props, "blockDeviceMappings")
    if mappings is UNKNOWN:
        return []
    problems = []
    for mapping in mappings or [{}]:
        ebs = known(mapping, "ebs")
        if ebs is UNKNOWN:
            continue
        encrypted = known(ebs or {}, "encrypted")
        if (encrypted is not UNKNOWN and str(encrypted).lower() != "true") or not present(ebs or {}, "kmsKeyId"):
            problems.append("a node volume is not encrypted with a customer-managed key (ebs.encrypted, ebs.kmsKeyId)")
    return problems


def _bucket(resource: PolicyResource, family: list[PolicyResource]) -> list[str]:
    # The bucket's encryption and policy are separate resources; they share the bucket's component.
    sse = [r for r in family if r.resource_type.endswith(":BucketServerSideEncryptionConfiguration")]
    policies = [r for r in family if r.resource_type == "aws:s3/bucketPolicy:BucketPolicy"]
    problems = []
    if not any(_kms_default(r.props) for r in sse):
        problems.append("it has no default SSE-KMS encryption with a customer-managed key")
    documents = [known(r.props, "policy") for r in policies]
    if any(d is UNKNOWN for d in documents):
        return problems  # the policy text is known only after deployment: checked at `pulumi up`
    if not any(_denies_plain_http(json_document(d)) for d in documents):
        problems.append("its policy does not deny requests without TLS (aws:SecureTransport false)")
    return problems


def _topic(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    return [] if present(resource.props, "kmsMasterKeyId") else ["it is not encrypted with a KMS key (kmsMasterKeyId)"]


def _kms_default(props: Mapping[str, Any]) -> bool:
    rules = known(props, "rules")
    if rules is UNKNOWN:
        return True  # known only after deployment: checked at `pulumi up`
    for rule in rules or []:
        default = known(rule, "applyServerSideEncryptionByDefault")
        if default is UNKNOWN:
            return True
        algorithm = known(default or {}, "sseAlgorithm")
        if algorithm in ("aws:kms", UNKNOWN) and present(default or {}, "kmsMasterKeyId"):
            return True
    return False


def _denies_plain_http(document: dict[str, Any] | None) -> bool:
    statements = (document or {}).get("Statement") or []
    return any(
        s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )


def _gcp_key(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    rotation = known(resource.props, "rotationPeriod")
    return [] if rotation is UNKNOWN or rotation else ["its key is never rotated (rotationPeriod)"]


def _gke_cluster(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    props = resource.props
    problems = []
    state = known(props, "databaseEncryption", "state")
    if state is not UNKNOWN and (state != "ENCRYPTED" or not present(props, "databaseEncryption", "keyName")):
        problems.append("its secrets are not encrypted with a customer-managed key (databaseEncryption)")
    private = known(props, "privateClusterConfig", "enablePrivateEndpoint")
    if private is not UNKNOWN and private is not True:
        problems.append("its control plane has a public endpoint (privateClusterConfig.enablePrivateEndpoint)")
    nodes = known(props, "privateClusterConfig", "enablePrivateNodes")
    if nodes is not UNKNOWN and nodes is not True:
        problems.append("its nodes have public addresses (privateClusterConfig.enablePrivateNodes)")
    components = known(props, "loggingConfig", "enableComponents")
    if components is not UNKNOWN and "APISERVER" not in (components or []):
        problems.append(f"API server audit logs are off (loggingConfig.enableComponents is {sorted(components or [])})")
    return problems


def _gke_node_pool(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    if present(resource.props, "nodeConfig", "bootDiskKmsKey"):
        return []
    return ["its boot disks are not encrypted with a customer-managed key (nodeConfig.bootDiskKmsKey)"]


def _gcs_bucket(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    # Cloud Storage serves only HTTPS: TLS needs no setting.
    props = resource.props
    problems = []
    if not present(props, "encryption", "defaultKmsKeyName"):
        problems.append("it has no default customer-managed key (encryption.defaultKmsKeyName)")
    prevention = known(props, "publicAccessPrevention")
    if prevention is not UNKNOWN and prevention != "enforced":
        problems.append("public access is not prevented (publicAccessPrevention must be enforced)")
    uniform = known(props, "uniformBucketLevelAccess")
    if uniform is not UNKNOWN and uniform is not True:
        problems.append("object ACLs are on (uniformBucketLevelAccess must be true)")
    return problems


def _key_vault(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    purge = known(resource.props, "properties", "enablePurgeProtection")
    if purge is UNKNOWN or purge is True:
        return []
    return ["its keys can be purged before retention ends (properties.enablePurgeProtection must be true)"]


def _key_vault_key(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    actions = known(resource.props, "properties", "rotationPolicy", "lifetimeActions")
    if actions is UNKNOWN:
        return []
    if any(str(known(a, "action", "type")).lower() == "rotate" for a in actions or []):
        return []
    return ["its key is never rotated (properties.rotationPolicy has no rotate action)"]


def _aks_cluster(resource: PolicyResource, family: list[PolicyResource]) -> list[str]:
    props = resource.props
    problems = []
    kms = known(props, "securityProfile", "azureKeyVaultKms", "enabled")
    if kms is not UNKNOWN and (kms is not True or not present(props, "securityProfile", "azureKeyVaultKms", "keyId")):
        problems.append("its secrets are not encrypted with a customer-managed key (securityProfile.azureKeyVaultKms)")
    if not present(props, "diskEncryptionSetID"):
        problems.append("its node disks are not encrypted with a customer-managed key (diskEncryptionSetID)")
    private = known(props, "apiServerAccessProfile", "enablePrivateCluster")
    if private is not UNKNOWN and private is not True:
        problems.append("its API server is public (apiServerAccessProfile.enablePrivateCluster must be true)")
    # Audit logs are a diagnostic setting beside the cluster (same component).
    settings = [r for r in family if r.resource_type == "azure-native:monitor:DiagnosticSetting"]
    if not any(_audits(r.props) for r in settings):
        problems.append("its audit logs go nowhere (no diagnostic setting enables kube-audit or kube-audit-admin)")
    return problems


def _audits(props: Mapping[str, Any]) -> bool:
    logs = known(props, "logs")
    if logs is UNKNOWN:
        return True
    return any(
        known(log, "enabled") is True and known(log, "category") in ("kube-audit", "kube-audit-admin")
        for log in logs or []
    )


def _aks_agent_pool(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    at_host = known(resource.props, "enableEncryptionAtHost")
    if at_host is UNKNOWN or at_host is True:
        return []
    return ["its temporary disks and caches are unencrypted (enableEncryptionAtHost must be true)"]


def _storage_account(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    props = resource.props
    problems = []
    source = known(props, "encryption", "keySource")
    if source is not UNKNOWN and (
        source != "Microsoft.Keyvault" or not present(props, "encryption", "keyVaultProperties", "keyName")
    ):
        problems.append("it has no customer-managed key (encryption.keySource must be Microsoft.Keyvault)")
    tls = known(props, "minimumTlsVersion")
    if tls is not UNKNOWN and tls not in ("TLS1_2", "TLS1_3"):
        problems.append(f"it accepts TLS older than 1.2 (minimumTlsVersion is {tls!r})")
    https = known(props, "enableHttpsTrafficOnly")
    if https is False:
        problems.append("it accepts plain HTTP (enableHttpsTrafficOnly must be true)")
    public = known(props, "allowBlobPublicAccess")
    if public is not UNKNOWN and public is not False:
        problems.append("its blobs may be made public (allowBlobPublicAccess must be false)")
    return problems


_CHECKS: dict[str, Check] = {
    "aws:kms/key:Key": _key,
    "aws:eks/cluster:Cluster": _cluster,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:sns/topic:Topic": _topic,
    "gcp:kms/cryptoKey:CryptoKey": _gcp_key,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:container/nodePool:NodePool": _gke_node_pool,
    "gcp:storage/bucket:Bucket": _gcs_bucket,
    "azure-native:keyvault:Vault": _key_vault,
    "azure-native:keyvault:Key": _key_vault_key,
    "azure-native:containerservice:ManagedCluster": _aks_cluster,
    "azure-native:containerservice:AgentPool": _aks_agent_pool,
    "azure-native:storage:StorageAccount": _storage_account,
}


hipaa_encryption = StackValidationPolicy(
    name="hipaa-encryption",
    description="Regions running HIPAA workloads use customer-managed keys, TLS only, private endpoints, audit logs.",
    validate=validate_hipaa_encryption,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "additionalWorkloads": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Workloads to hold to HIPAA rules besides those whose profile sets compliance.hipaa.",
            }
        }
    ),
    severity=Severity.CRITICAL,
    remediation_steps="Keep the tensorfleet components' defaults (they satisfy every check); if a value was "
    "overridden, restore the key, TLS-only policy, private endpoint or audit logs it names.",
)
