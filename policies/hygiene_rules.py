"""Hygiene: cost-allocation tags on accelerator capacity, and no accelerator capacity without a budget alarm."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

import fleet_facts
from props import get

REQUIRED_RESOURCE_TAGS = ("workload", "tenant")
"""On every accelerator pool: which workload and tenant its cost belongs to."""
REQUIRED_PROVIDER_TAGS = ("environment", "cost-centre")
"""Default tags (AWS) or labels (GCP) of every provider, and tags of every AKS pool (Azure providers
set none): every resource of the region carries them."""
BUDGET_TYPES = ("aws:budgets/budget:Budget", "gcp:billing/budget:Budget", "azure-native:consumption:Budget")


def validate_cost_allocation_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Accelerator pools carry workload and tenant tags; providers default-tag environment and cost centre."""
    config = args.get_config()
    if args.resource_type in fleet_facts.ACCELERATOR_POOL_TYPES and not fleet_facts.is_system_pool(
        args.resource_type, args.props
    ):
        # unknown in preview: the analyzer reports the rule as not runnable
        tags = fleet_facts.pool_labels(args.resource_type, args.props) or {}
        required = list(config.get("resourceTags", REQUIRED_RESOURCE_TAGS))
        if args.resource_type == fleet_facts.AKS_AGENT_POOL:
            # Azure providers have no default tags: the pool carries the stack's own.
            required += config.get("providerTags", REQUIRED_PROVIDER_TAGS)
        missing = [t for t in required if not tags.get(t)]
        if missing:
            report_violation(f"accelerator pool '{args.name}' lacks the cost-allocation tag(s) {missing}; "
                             f"its spend cannot be attributed (tags: {sorted(tags)})")  # fmt: skip
    elif args.resource_type in ("pulumi:providers:aws", "pulumi:providers:gcp"):
        tags = _provider_tags(args.resource_type, args.props)
        missing = [t for t in config.get("providerTags", REQUIRED_PROVIDER_TAGS) if not tags.get(t)]
        if missing:
            report_violation(f"provider '{args.name}' does not default-tag {missing}; resources it creates "
                             "cannot be filtered in budgets and cost reports")  # fmt: skip


def _provider_tags(resource_type: str, props: Any) -> dict[str, Any]:
    """An AWS provider's ``defaultTags.tags`` or a GCP provider's ``defaultLabels`` (JSON strings in
    provider inputs)."""
    key = "defaultTags" if resource_type == "pulumi:providers:aws" else "defaultLabels"
    raw = get(props, key)
    value = json.loads(raw) if isinstance(raw, str) else raw or {}
    return (value.get("tags") if key == "defaultTags" else value) or {}


def validate_budget_alarm_required(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Accelerator capacity on a cloud implies a budget alarm on that cloud in the same stack."""
    pools = fleet_facts.pools(args.resources)
    if not pools:
        args.not_applicable("the stack has no accelerator capacity")
    budgeted = {
        fleet_facts.PACKAGE_CLOUDS[r.resource_type.split(":", 1)[0]]
        for r in args.resources
        if r.resource_type in BUDGET_TYPES
    }
    # A cloud whose pools the stack builds needs budgets of its own; placements on a cloud it does
    # not build yet count against any budget of the stack.
    needed = {p.cloud if p.cloud in fleet_facts.REALISED_CLOUDS else "any" for p in pools}
    if budgeted:
        needed.discard("any")
    for cloud in sorted(needed - budgeted):
        unbudgeted = [p for p in pools if cloud == "any" or p.cloud == cloud]
        names = ", ".join(sorted(p.resource.name for p in unbudgeted)[:3])
        where = "" if cloud == "any" else f" on {cloud}"
        report_violation(f"the stack runs {len(unbudgeted)} accelerator pool(s){where} ({names}) "
                         f"but has no{where.replace(' on', '')} budget alarm")  # fmt: skip


cost_allocation_tags = ResourceValidationPolicy(
    name="cost-allocation-tags",
    description="Accelerator pools carry workload and tenant tags; providers default-tag environment and cost centre.",
    validate=validate_cost_allocation_tags,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "resourceTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(REQUIRED_RESOURCE_TAGS),
                "description": "Tags every accelerator pool carries.",
            },
            "providerTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(REQUIRED_PROVIDER_TAGS),
                "description": "Default tags every AWS provider sets.",
            },
        }
    ),
    severity=Severity.LOW,
    remediation_steps="Create pools through tensorfleet components, or add the named tags.",
)

budget_alarm_required = StackValidationPolicy(
    name="budget-alarm-required",
    description="A stack with accelerator capacity on a cloud has a budget alarm on that cloud.",
    validate=validate_budget_alarm_required,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={}),  # only the enforcement level is configurable
    severity=Severity.MEDIUM,
    remediation_steps="Set budgets in the workload profiles and tensorfleet:budgetMonthlyUsd; "
    "the fleet creates the alarms.",
)
