"""cost-ceiling: the stack's whole monthly bill within the stack ceiling, each workload's capacity within its budget."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

import fleet_facts
from regions.bill import BillLine, total_usd


def validate_cost_ceiling(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Prices every billable resource (the plan's bill) against the ceilings."""
    lines = fleet_facts.stack_bill(args.resources)
    if not lines:
        args.not_applicable("the stack has no billable resources")
    for line in lines:
        if line.monthly_usd is None:
            report_violation(
                f"{line.item} of '{_name(line)}' in {line.cloud}:{line.region} has no sourced price ({line.source}); "
                "a cost ceiling cannot be checked against an unknown price. Refresh the catalog "
                "(tensorfleet catalog refresh) or pick a catalogued instance type.",
                line.urn,
            )
    config = args.get_config()
    total = total_usd(lines)
    ceiling = config.get("stackMonthlyUsd")
    if ceiling is not None and total > ceiling:
        report_violation(
            f"estimated monthly bill ${total:,.0f} exceeds the stack ceiling ${ceiling:,.0f} by "
            f"${total - ceiling:,.0f}; top contributors: {_top(lines)}"
        )
    budgets = {name: props.get("budgetMonthlyUsd") for name, props in fleet_facts.workloads(args.resources).items()}
    budgets.update(config.get("workloadMonthlyUsd") or {})
    by_workload: dict[str, list[BillLine]] = defaultdict(list)
    for line in lines:
        if line.workload:
            by_workload[line.workload].append(line)
    for workload, workload_lines in sorted(by_workload.items()):
        limit = budgets.get(workload)
        spend = total_usd(workload_lines)
        if limit is not None and spend > limit:
            largest = max(workload_lines, key=lambda line: line.monthly_usd or 0.0)
            report_violation(
                f"workload '{workload}' would spend ${spend:,.0f}/month on its nodes and their disks, "
                f"${spend - limit:,.0f} over its ${limit:,.0f} budget; top contributors: {_top(workload_lines)}",
                largest.urn,
            )


def _name(line: BillLine) -> str:
    return line.urn.rsplit("::", 1)[-1]


def _top(lines: Sequence[BillLine], count: int = 3) -> str:
    ranked = sorted(lines, key=lambda line: -(line.monthly_usd or 0.0))[:count]
    return ", ".join(
        f"{_name(line)} ({line.item} in {line.region}, ${line.monthly_usd or 0.0:,.0f})" for line in ranked
    )


cost_ceiling = StackValidationPolicy(
    name="cost-ceiling",
    description="The estimated monthly bill within the stack ceiling, each workload's capacity within its budget.",
    validate=validate_cost_ceiling,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "stackMonthlyUsd": {
                "type": "number",
                "minimum": 0,
                "description": "Stack ceiling, USD/month. Default: none.",
            },
            "workloadMonthlyUsd": {
                "type": "object",
                "additionalProperties": {"type": "number", "minimum": 0},
                "description": "Ceilings by workload name; default: each workload's own budget.",
            },
        }
    ),
    severity=Severity.HIGH,
    remediation_steps="Lower node counts, open fewer regions or pick cheaper capacity (tensorfleet plan "
    "--objective cost shows the cheapest plan), or raise the ceiling in the policy config or the workload "
    "profile's budget.",
)
