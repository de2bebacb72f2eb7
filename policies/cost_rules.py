"""cost-ceiling: estimated monthly accelerator spend within the stack's and each workload's ceiling."""

from __future__ import annotations

from collections import defaultdict

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

import fleet_facts


def validate_cost_ceiling(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Prices every accelerator pool (desired nodes x catalog hourly price x 730 h) against the ceilings."""
    pools = fleet_facts.pools(args.resources)
    if not pools:
        args.not_applicable("the stack has no accelerator capacity")
    config = args.get_config()
    for pool in pools:
        if pool.monthly_usd is None:
            report_violation(
                f"node pool '{pool.resource.name}' uses {pool.instance_type} in {pool.cloud}:{pool.region}, which the "
                "catalog cannot price; a cost ceiling cannot be checked against an unknown price. Refresh the catalog "
                "(tensorfleet catalog refresh) or pick a catalogued instance type.",
                pool.resource.urn,
            )
    priced = [p for p in pools if p.monthly_usd is not None]
    total = sum(p.monthly_usd or 0.0 for p in priced)
    ceiling = config.get("stackMonthlyUsd")
    if ceiling is not None and total > ceiling:
        report_violation(
            f"estimated accelerator spend ${total:,.0f}/month exceeds the stack ceiling ${ceiling:,.0f} by "
            f"${total - ceiling:,.0f}; top contributors: {_top(priced)}"
        )
    budgets = {name: props.get("budgetMonthlyUsd") for name, props in fleet_facts.workloads(args.resources).items()}
    budgets.update(config.get("workloadMonthlyUsd") or {})
    by_workload: dict[str, list[fleet_facts.Pool]] = defaultdict(list)
    for pool in priced:
        if pool.workload:
            by_workload[pool.workload].append(pool)
    for workload, workload_pools in sorted(by_workload.items()):
        limit = budgets.get(workload)
        spend = sum(p.monthly_usd or 0.0 for p in workload_pools)
        if limit is not None and spend > limit:
            largest = max(workload_pools, key=lambda p: p.monthly_usd or 0.0)
            report_violation(
                f"workload '{workload}' would spend ${spend:,.0f}/month on accelerators, "
                f"${spend - limit:,.0f} over its ${limit:,.0f} budget; top contributors: {_top(workload_pools)}",
                largest.resource.urn,
            )


def _top(pools: list[fleet_facts.Pool], count: int = 3) -> str:
    ranked = sorted(pools, key=lambda p: -(p.monthly_usd or 0.0))[:count]
    return ", ".join(
        f"{p.resource.name} ({p.desired_nodes}x {p.instance_type} in {p.region}, ${p.monthly_usd:,.0f})" for p in ranked
    )


cost_ceiling = StackValidationPolicy(
    name="cost-ceiling",
    description="Estimated monthly accelerator spend stays within the stack ceiling and each workload's budget.",
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
    remediation_steps="Lower node counts or pick cheaper capacity (tensorfleet plan --objective cost shows the "
    "cheapest plan), or raise the ceiling in the policy config or the workload profile's budget.",
)
