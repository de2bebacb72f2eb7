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
from props import get, json_document, known, present

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
    return [] if get(resource.props, "enableKeyRotation") is True else ["its key rotation is off (enableKeyRotation)"]


def _cluster(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    props = resource.props
    problems = []
    configs = get(props, "encryptionConfig")
    configs = configs if isinstance(configs, list) else [configs] if configs else []
    if not any(
        present(c, "provider", "keyArn") and "secrets" in (known(c, "resources") or ["secrets"]) for c in configs
    ):
        problems.append("its secrets are not envelope-encrypted with a customer-managed key (encryptionConfig)")
    if known(props, "vpcConfig", "endpointPublicAccess") is not False:
        problems.append("its API endpoint is public (vpcConfig.endpointPublicAccess must be false)")
    logs = known(props, "enabledClusterLogTypes") or []
    if "audit" not in logs:
        problems.append(f"audit logs are off (enabledClusterLogTypes is {sorted(logs)})")
    return problems


def _launch_template(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    problems = []
    for mapping in known(resource.props, "blockDeviceMappings") or [{}]:
        ebs = get(mapping, "ebs") or {}
        if str(known(ebs, "encrypted")).lower() != "true" or not present(ebs, "kmsKeyId"):
            problems.append("a node volume is not encrypted with a customer-managed key (ebs.encrypted, ebs.kmsKeyId)")
    return problems


def _bucket(resource: PolicyResource, family: list[PolicyResource]) -> list[str]:
    # The bucket's encryption and policy are separate resources; they share the bucket's component.
    sse = [r for r in family if r.resource_type.endswith(":BucketServerSideEncryptionConfiguration")]
    policies = [r for r in family if r.resource_type == "aws:s3/bucketPolicy:BucketPolicy"]
    problems = []
    if not any(_kms_default(r.props) for r in sse):
        problems.append("it has no default SSE-KMS encryption with a customer-managed key")
    documents = [json_document(known(r.props, "policy")) for r in policies]
    if not policies or (all(d is not None for d in documents) and not any(_denies_plain_http(d) for d in documents)):
        problems.append("its policy does not deny requests without TLS (aws:SecureTransport false)")
    return problems


def _topic(resource: PolicyResource, _: list[PolicyResource]) -> list[str]:
    return [] if present(resource.props, "kmsMasterKeyId") else ["it is not encrypted with a KMS key (kmsMasterKeyId)"]


def _kms_default(props: Mapping[str, Any]) -> bool:
    for rule in known(props, "rules") or []:
        default = get(rule, "applyServerSideEncryptionByDefault") or {}
        if known(default, "sseAlgorithm") == "aws:kms" and present(default, "kmsMasterKeyId"):
            return True
    return False


def _denies_plain_http(document: dict[str, Any] | None) -> bool:
    statements = (document or {}).get("Statement") or []
    return any(
        s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )


_CHECKS: dict[str, Check] = {
    "aws:kms/key:Key": _key,
    "aws:eks/cluster:Cluster": _cluster,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:sns/topic:Topic": _topic,
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
