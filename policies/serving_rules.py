"""Serving guardrails over the Kubernetes objects a stack registers: accelerator workloads survive a
node drain (disruption budget, graceful stop), stay inside their tenant's accelerator quota, and run
images pinned to a version. Helm releases' own objects are rendered by the provider at deployment
and are not judged here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.serving.images import image_problem
from props import get

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
LEADER_WORKER_SET = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
POD = "kubernetes:core/v1:Pod"
WORKLOAD_TYPES = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET, LEADER_WORKER_SET, POD)
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
QUOTA = "kubernetes:core/v1:ResourceQuota"
ACCELERATOR_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "aws.amazon.com/neuron", "aws.amazon.com/neuroncore",
                         "google.com/tpu")  # fmt: skip
"""Extended resources of accelerators: a pod requesting one holds capacity a drain must respect."""


def pod_templates(resource_type: str, props: Any) -> list[Mapping[str, Any]]:
    """The pod specs (with their metadata) a workload object runs."""
    if resource_type == POD:
        return [props or {}]
    if resource_type == LEADER_WORKER_SET:
        group = get(props, "spec", "leaderWorkerTemplate") or {}
        return [t for t in (group.get("leaderTemplate"), group.get("workerTemplate")) if t]
    template = get(props, "spec", "template")
    return [template] if template else []


def _containers(template: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    spec = template.get("spec") or {}
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def accelerators_requested(template: Mapping[str, Any]) -> dict[str, float]:
    """Accelerator resources the pod's containers request (limits count: they imply requests)."""
    found: dict[str, float] = {}
    for container in _containers(template):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for name, value in (resources.get(section) or {}).items():
                if name in ACCELERATOR_RESOURCES:
                    found[name] = max(found.get(name, 0.0), float(value))
    return found


def _accelerator_workloads(resources: list[PolicyResource]) -> Iterator[tuple[PolicyResource, list[Mapping[str, Any]]]]:
    for resource in resources:
        if resource.resource_type in WORKLOAD_TYPES and resource.resource_type != DAEMON_SET:
            templates = pod_templates(resource.resource_type, resource.props)
            if any(accelerators_requested(t) for t in templates):
                yield resource, templates


def _namespace(props: Any) -> str:
    return get(props, "metadata", "namespace") or "default"


def _place(resource: PolicyResource) -> tuple[str | None, str]:
    """(cluster, namespace): each cluster is its own Kubernetes provider, and the same namespace
    names in two clusters are two namespaces."""
    return (resource.provider.urn if resource.provider else None), _namespace(resource.props)


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions In/NotIn/Exists/DoesNotExist)
    selects a pod with these labels; an empty selector selects every pod."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        holds = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(operator, False)
        if not holds:
            return False
    return True


def validate_accelerator_disruption_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every workload whose pods hold accelerators is covered by a PodDisruptionBudget in its namespace."""
    workloads = list(_accelerator_workloads(args.resources))
    if not workloads:
        args.not_applicable("no Kubernetes workload requests accelerators")
    budgets = [r for r in args.resources if r.resource_type == PDB]
    for resource, templates in workloads:
        place = _place(resource)
        namespace = place[1]
        labels = (templates[0].get("metadata") or {}).get("labels") or {}
        if not any(_place(b) == place and _selects(get(b.props, "spec", "selector"), labels) for b in budgets):
            report_violation(
                f"'{resource.name}' holds accelerators but no PodDisruptionBudget in namespace '{namespace}' "
                "selects its pods: a node drain could stop every replica at once",
                resource.urn,
            )


def validate_accelerator_quota(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every namespace whose pods request accelerators has a ResourceQuota on each of them."""
    workloads = list(_accelerator_workloads(args.resources))
    if not workloads:
        args.not_applicable("no Kubernetes workload requests accelerators")
    quotas: dict[tuple[str | None, str], set[str]] = {}
    for quota in (r for r in args.resources if r.resource_type == QUOTA):
        hard = get(quota.props, "spec", "hard") or {}
        names = {key.removeprefix("requests.") for key in hard}
        quotas.setdefault(_place(quota), set()).update(names)
    for resource, templates in workloads:
        namespace = _namespace(resource.props)
        requested = {name for t in templates for name in accelerators_requested(t)}
        missing = sorted(requested - quotas.get(_place(resource), set()))
        if missing:
            report_violation(
                f"'{resource.name}' requests {', '.join(missing)} in namespace '{namespace}', which has no "
                "ResourceQuota on it: nothing bounds what the tenant may take of the fleet",
                resource.urn,
            )


def validate_pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every container image of a workload names a version: a tag other than ``latest``, or a digest."""
    if args.resource_type not in WORKLOAD_TYPES:
        return
    for template in pod_templates(args.resource_type, args.props):
        for container in _containers(template):
            image = container.get("image") or ""
            problem = image_problem(image)
            if problem:
                report_violation(
                    f"container '{container.get('name')}' of '{args.name}' runs image '{image}', which {problem}: "
                    "what runs would change under the plan; pin a version or digest"
                )


def validate_graceful_drain(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A pod holding accelerators stops gracefully: a preStop hook that lets endpoints drain, and a
    termination grace period longer than it."""
    if args.resource_type not in WORKLOAD_TYPES:
        return
    for template in pod_templates(args.resource_type, args.props):
        if not accelerators_requested(template):
            continue
        spec = template.get("spec") or {}
        grace = spec.get("terminationGracePeriodSeconds")
        for container in spec.get("containers") or []:
            pre_stop = (container.get("lifecycle") or {}).get("preStop")
            if not pre_stop:
                report_violation(
                    f"container '{container.get('name')}' of '{args.name}' holds accelerators but has no preStop "
                    "hook: requests in flight are cut off when its node drains"
                )
                continue
            pause = (pre_stop.get("sleep") or {}).get("seconds", 0)
            if grace is not None and grace <= pause:
                report_violation(
                    f"'{args.name}' gives its pods {grace} s to stop, no more than its preStop pause of {pause} s: "
                    "in-flight requests are killed"
                )


accelerator_disruption_budget = StackValidationPolicy(
    name="accelerator-disruption-budget",
    description="Kubernetes workloads that hold accelerators are covered by a PodDisruptionBudget.",
    validate=validate_accelerator_disruption_budget,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
    severity=Severity.HIGH,
    remediation_steps="Deploy model servers through tensorfleet's ModelServer, or add a PodDisruptionBudget.",
)

accelerator_quota = StackValidationPolicy(
    name="accelerator-quota",
    description="Namespaces whose pods request accelerators have a ResourceQuota on each accelerator resource.",
    validate=validate_accelerator_quota,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
    severity=Severity.HIGH,
    remediation_steps="Deploy tenants through tensorfleet's TenantNamespace, or add the quota.",
)

pinned_images = ResourceValidationPolicy(
    name="pinned-images",
    description="Container images name a version (a tag other than latest, or a digest).",
    validate=validate_pinned_images,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
    severity=Severity.MEDIUM,
    remediation_steps="Pin the image to a release tag or a sha256 digest.",
)

graceful_drain = ResourceValidationPolicy(
    name="graceful-drain",
    description="Pods that hold accelerators have a preStop hook and a termination grace period beyond it.",
    validate=validate_graceful_drain,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={}),
    severity=Severity.MEDIUM,
    remediation_steps="Add a preStop sleep and a terminationGracePeriodSeconds longer than it.",
)
