"""Hygiene: cost-allocation tags on accelerator capacity, and no accelerator capacity without a budget alarm."""

from __future__ import annotations

import json

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
"""Default tags of every AWS provider: every resource of the region carries them."""
BUDGET_TYPES = ("aws:budgets/budget:Budget",)


def validate_cost_allocation_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Accelerator pools carry workload and tenant tags; providers default-tag environment and cost centre."""
    config = args.get_config()
    if args.resource_type in fleet_facts.ACCELERATOR_POOL_TYPES:
        tags = get(args.props, "tags") or {}  # unknown in preview: the analyzer reports the rule as not runnable
        missing = [t for t in config.get("resourceTags", REQUIRED_RESOURCE_TAGS) if not tags.get(t)]
        if missing:
            report_violation(f"accelerator pool '{args.name}' lacks the cost-allocation tag(s) {missing}; "
                             f"its spend cannot be attributed (tags: {sorted(tags)})")  # fmt: skip
    elif args.resource_type == "pulumi:providers:aws":
        raw = get(args.props, "defaultTags")
        tags = (json.loads(raw) if isinstance(raw, str) else raw or {}).get("tags") or {}
        missing = [t for t in config.get("providerTags", REQUIRED_PROVIDER_TAGS) if not tags.get(t)]
        if missing:
            report_violation(f"provider '{args.name}' does not default-tag {missing}; resources it creates "
                             "cannot be filtered in budgets and cost reports")  # fmt: skip


def validate_budget_alarm_required(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Any accelerator capacity implies at least one budget alarm in the same stack."""
    pools = fleet_facts.pools(args.resources)
    if not pools:
        args.not_applicable("the stack has no accelerator capacity")
    if not any(r.resource_type in BUDGET_TYPES for r in args.resources):
        names = ", ".join(sorted(p.resource.name for p in pools)[:3])
        report_violation(f"the stack runs {len(pools)} accelerator pool(s) ({names}) but has no budget alarm")


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
    description="A stack with accelerator capacity has at least one budget alarm.",
    validate=validate_budget_alarm_required,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={}),  # only the enforcement level is configurable
    severity=Severity.MEDIUM,
    remediation_steps="Set budgets in the workload profiles and tensorfleet:budgetMonthlyUsd; "
    "the fleet creates the alarms.",
)
