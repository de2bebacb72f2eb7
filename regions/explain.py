"""Why each placement row is what it is, and what the runner-up would cost."""

from __future__ import annotations

import math

from regions.columns import Column, StageChoice, build_columns
from regions.milp import StagePlacement, WorkloadPlan
from regions.residency import expand_residency
from regions.sizing import OperatingPoint

__all__ = ["explain"]


def explain(plan: WorkloadPlan) -> dict[tuple[str, str], str]:
    """The reason for each row of the plan, keyed by (region key, stage name): why this region and
    offering, and what the runner-up accelerator and region would cost."""
    used = {c.region.key for c in plan.columns}
    result: dict[tuple[str, str], str] = {}
    for column in plan.columns:
        region_alt = _runner_up_region(plan, column, used)
        for choice in column.choices:
            row = next(r for r in plan.rows if r.region.key == column.region.key and r.choice.stage == choice.stage)
            accel_alt = _runner_up_accelerator(plan, column, choice)
            failover = plan.failover.get(column.region.key)
            parts = (_why_region(plan, row), _why_offering(plan, row), accel_alt, region_alt, failover)
            result[(column.region.key, choice.stage)] = "; ".join(part for part in parts if part)
    return result


def _why_region(plan: WorkloadPlan, row: StagePlacement) -> str:
    slo = plan.profile.slo.p95_latency_ms
    service = sum(c.option.point.service_ms for c in _column_of(plan, row).choices)
    grid = row.region.grid_gco2_per_kwh
    grid_text = "grid intensity unknown" if grid is None else f"grid {grid:g} gCO2/kWh"
    if not row.served:
        nearest = min(plan.problem.rtt_ms[(u.name, row.region.key)] for u in plan.profile.placement.users)
        return (
            f"standby region for min_regions={plan.profile.placement.min_regions} "
            f"(nearest users {nearest:.0f} ms away, service {service:.0f} ms, p95 {slo:g} ms); {grid_text}"
            f"{_residency(plan, row)}"
        )
    worst = max(rtt for _, rtt in row.served)
    users = ", ".join(f"{name} ({rtt:.0f} ms)" for name, rtt in row.served)
    return (
        f"serves {users}: RTT {worst:.0f} + service {service:.0f} <= {slo:g} ms p95; {grid_text}{_residency(plan, row)}"
    )


def _residency(plan: WorkloadPlan, row: StagePlacement) -> str:
    """Where the region sits within the data residency, groups spelled out (``EU (27 countries: ...)``)."""
    residency = expand_residency(plan.profile.compliance.data_residency)
    if not residency:
        return ""
    return f"; in {row.region.country_code}, within data residency {residency.describe()}"


def _why_offering(plan: WorkloadPlan, row: StagePlacement) -> str:
    option = row.choice.option
    point = option.point
    offering = option.offering
    stage = "" if row.choice.stage == "main" else f"stage {row.choice.stage}: "
    return (
        f"{stage}{offering.instance_type} ({offering.accelerator_count}x {offering.accelerator}, {option.capacity}) "
        f"{_replica_shape(point)} at batch "
        f"{point.batch}; best by {plan.problem.settings.objective} of {plan.problem.options_considered} options"
    )


def _replica_shape(point: OperatingPoint) -> str:
    if point.nodes_per_replica > 1:
        return (
            f"runs one replica across {point.nodes_per_replica} nodes ({point.tensor_parallel}-way tensor parallel "
            f"on each, {point.nodes_per_replica} pipeline stages)"
        )
    if point.mig_profile is not None:
        return (
            f"runs {point.replicas_per_node} replica(s), each on a MIG {point.mig_profile} instance "
            f"({point.replicas_per_accelerator} per GPU)"
        )
    if point.replicas_per_accelerator > 1:
        return f"runs {point.replicas_per_node} replica(s), {point.replicas_per_accelerator} time-slicing each GPU"
    return f"runs {point.replicas_per_node} replica(s) of {point.accelerators_per_replica} accelerator(s)"


def _runner_up_accelerator(plan: WorkloadPlan, column: Column, choice: StageChoice) -> str | None:
    problem = plan.problem
    alternatives, _ = build_columns(
        problem.profile,
        problem.catalog,
        problem.settings,
        [column.region],
        problem.rtt_ms,
        served_only=column.served,
        exclude=(choice.stage, choice.option.offering.accelerator),
    )
    if not alternatives:
        return f"no other accelerator can serve this in {column.region.key}"
    best = min(alternatives, key=lambda c: (c.objective, c.monthly_usd))
    alt = next(c for c in best.choices if c.stage == choice.stage).option.offering
    return f"runner-up accelerator: {alt.instance_type} ({alt.accelerator}) at {_versus(best, column)}"


def _runner_up_region(plan: WorkloadPlan, column: Column, used: set[str]) -> str | None:
    serving = [c for c in plan.problem.columns if c.served == column.served and c.region.key != column.region.key]
    candidates = [c for c in serving if c.region.key not in used]
    if not candidates:
        taken = sorted({c.region.key for c in serving})
        if taken:
            return f"every other region that can serve the same users is already in the plan ({', '.join(taken)})"
        return "no other region can serve the same users within the SLO"
    best = min(candidates, key=lambda c: (c.objective, c.monthly_usd, c.weighted_rtt_ms))
    # Name every region as good as the best one: a tie is a choice the reviewer may want to make.
    ties = sorted(
        c.region.key
        for c in candidates
        if math.isclose(c.objective, best.objective, rel_tol=1e-9, abs_tol=1e-6)
        and math.isclose(c.monthly_usd, best.monthly_usd, rel_tol=1e-9, abs_tol=1e-6)
    )
    if len(ties) > 1:
        return f"equally good runner-up regions: {', '.join(ties)} at {_versus(best, column)}"
    return f"runner-up region: {best.region.key} at {_versus(best, column)}"


def _column_of(plan: WorkloadPlan, row: StagePlacement) -> Column:
    return next(c for c in plan.columns if c.region.key == row.region.key)


def _versus(alternative: Column, chosen: Column) -> str:
    """``$X/mo (+$D, +K kgCO2/mo)``: the alternative's cost and its difference from the choice."""
    usd = alternative.monthly_usd - chosen.monthly_usd
    text = f"${alternative.monthly_usd:,.0f}/mo ({'+' if usd >= 0 else '-'}${abs(usd):,.0f}"
    if alternative.monthly_kgco2 is not None and chosen.monthly_kgco2 is not None:
        kg = alternative.monthly_kgco2 - chosen.monthly_kgco2
        text += f", {'+' if kg >= 0 else '-'}{abs(kg):,.0f} kgCO2/mo"
    return text + ")"
