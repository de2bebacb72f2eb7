"""Explains an infeasible placement: which constraint binds and the nearest relaxation that works.

Each constraint family is relaxed alone, and the smallest relaxation that makes the workload
feasible is searched for (a budget figure, a p95, a carbon cap, a region count...). Every
relaxation that works on its own is reported; the first, in the order below (least intrusive
first), is named the binding constraint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from regions.catalog import CLOUDS
from regions.placement import WorkloadProblem, build_problem, solve_workload
from regions.settings import PlacementSettings
from regions.sizing import BYTES_PER_PARAM, kv_cache_bytes_per_token
from workloads.profiles import LlmModel, WorkloadProfile

__all__ = ["diagnose_stack_budget", "diagnose_workload"]

_MAX_P95_MS = 600_000.0  # ten minutes: beyond this no interactive SLO is meaningful
_MAX_REPLICAS = 100_000


def diagnose_workload(problem: WorkloadProblem) -> str:
    """One message: the binding constraint and every single relaxation that would make it feasible."""
    profile = problem.profile
    found = [text for relax in _RELAXATIONS if (text := relax(problem)) is not None]
    header = f"workload {profile.name!r} cannot be placed"
    if found:
        return f"{header}. Binding constraint: {found[0]}" + "".join(f"\n  - or: {text}" for text in found[1:])
    return f"{header}: no single constraint is to blame. {_capacity_hint(problem)}"


def diagnose_stack_budget(problems: Sequence[WorkloadProblem], budget_usd: float) -> str:
    """Stack budget below the cheapest plan that meets every workload's own constraints."""
    cheapest = []
    for problem in problems:
        plan = solve_workload(
            build_problem(problem.profile, problem.catalog, replace(problem.settings, objective="cost"))
        )
        cheapest.append((problem.profile.name, plan.monthly_usd if plan else math.inf))
    total = sum(cost for _, cost in cheapest)
    top = ", ".join(f"{name} ${cost:,.0f}" for name, cost in sorted(cheapest, key=lambda x: -x[1])[:3])
    return (
        f"stack budget ${budget_usd:,.0f}/month is below the cheapest plan that meets every workload's "
        f"constraints, ${total:,.0f}/month (largest: {top}). Binding constraint: the stack budget; "
        f"raise tensorfleet:budgetMonthlyUsd to at least ${math.ceil(total):,} or relax those workloads"
    )


def _feasible(problem: WorkloadProblem, profile: WorkloadProfile, settings: PlacementSettings | None = None) -> bool:
    return solve_workload(build_problem(profile, problem.catalog, settings or problem.settings)) is not None


def _update(profile: WorkloadProfile, section: str, **changes: object) -> WorkloadProfile:
    part = getattr(profile, section)
    return profile.model_copy(update={section: part.model_copy(update=changes)})


def _relax_budget(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    relaxed = _update(profile, "budget", monthly_usd=math.inf)
    plan = solve_workload(build_problem(relaxed, problem.catalog, replace(problem.settings, objective="cost")))
    if plan is None:
        return None
    return (
        f"budget.monthly_usd = ${profile.budget.monthly_usd:,.0f} is below the cheapest feasible plan, "
        f"${plan.monthly_usd:,.0f}; raise it to at least ${math.ceil(plan.monthly_usd):,}"
    )


def _relax_latency(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    current = profile.slo.p95_latency_ms

    def ok(p95: float) -> bool:
        return _feasible(problem, _update(profile, "slo", p95_latency_ms=p95))

    if not ok(_MAX_P95_MS):
        return None
    low, high = current, _MAX_P95_MS
    while high - low > max(1.0, 0.01 * low):
        mid = (low + high) / 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return f"slo.p95_latency_ms = {current:g} is unreachable; the nearest feasible p95 is about {math.ceil(high):,} ms"


def _relax_min_regions(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    current = profile.placement.min_regions
    for regions in range(current - 1, 0, -1):
        if _feasible(problem, _update(profile, "placement", min_regions=regions)):
            return f"placement.min_regions = {current} cannot be met; at most {regions} region(s) qualify"
    return None


def _relax_max_replicas(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    current = profile.scaling.max_replicas

    def ok(replicas: int) -> bool:
        return _feasible(problem, _update(profile, "scaling", max_replicas=replicas))

    if not ok(_MAX_REPLICAS):
        return None
    low, high = current, _MAX_REPLICAS
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return f"scaling.max_replicas = {current} cannot absorb the peak; raise it to at least {high}"


def _relax_carbon_cap(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    cap = profile.carbon.max_gco2_per_kwh
    if cap is None:
        return None
    levels = sorted(
        {
            r.grid_gco2_per_kwh
            for r in problem.catalog.regions.values()
            if r.grid_gco2_per_kwh and r.grid_gco2_per_kwh > cap
        }
    )
    feasible = [lvl for lvl in levels if _feasible(problem, _update(profile, "carbon", max_gco2_per_kwh=lvl))][:1]
    if not feasible:
        return None
    return (
        f"carbon.max_gco2_per_kwh = {cap:g} excludes every workable region; the nearest feasible cap is {feasible[0]:g}"
    )


def _relax_capacity(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    if profile.capacity.on_demand and profile.capacity.spot:
        return None
    if not _feasible(problem, _update(profile, "capacity", on_demand=True, spot=True)):
        return None
    missing = "spot" if profile.capacity.on_demand else "on_demand"
    return f"capacity.{missing} = false; allowing {missing} capacity makes it feasible"


def _relax_region_lists(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    if not (profile.placement.allowed_regions or profile.placement.denied_regions):
        return None
    if not _feasible(problem, _update(profile, "placement", allowed_regions=[], denied_regions=[])):
        return None
    return "placement.allowed_regions / denied_regions leave no workable region; widen them"


def _relax_clouds(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    if set(profile.placement.clouds) == set(CLOUDS):
        return None
    if not _feasible(problem, _update(profile, "placement", clouds=list(CLOUDS))):
        return None
    return f"placement.clouds = {profile.placement.clouds} is too narrow; allowing all clouds makes it feasible"


def _relax_hipaa_clouds(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    if not profile.compliance.hipaa or set(problem.settings.hipaa_clouds) == set(CLOUDS):
        return None
    if not _feasible(problem, profile, replace(problem.settings, hipaa_clouds=CLOUDS)):
        return None
    return (
        f"HIPAA workloads may only use {list(problem.settings.hipaa_clouds)} (tensorfleet:hipaaClouds); "
        "another cloud under a business associate agreement would make it feasible"
    )


def _relax_residency(problem: WorkloadProblem) -> str | None:
    profile = problem.profile
    if not profile.compliance.data_residency or profile.compliance.hipaa:
        return None  # residency of protected health information is not ours to relax
    if not _feasible(problem, _update(profile, "compliance", data_residency=[])):
        return None
    return f"compliance.data_residency = {profile.compliance.data_residency} leaves no workable region"


_RELAXATIONS: tuple[Callable[[WorkloadProblem], str | None], ...] = (
    _relax_budget,
    _relax_latency,
    _relax_min_regions,
    _relax_max_replicas,
    _relax_carbon_cap,
    _relax_capacity,
    _relax_region_lists,
    _relax_clouds,
    _relax_hipaa_clouds,
    _relax_residency,
)


def _capacity_hint(problem: WorkloadProblem) -> str:
    profile = problem.profile
    parts = []
    for stage in profile.stages:
        model = stage.model
        if isinstance(model, LlmModel):
            weights_gb = model.params_billion * BYTES_PER_PARAM[model.precision]
            kv_gb = kv_cache_bytes_per_token(model, problem.settings.sizing) * model.context_tokens / 1e9
            parts.append(
                f"stage {stage.name!r} needs {weights_gb:,.0f} GB of weights plus {kv_gb:,.1f} GB of KV cache "
                f"for one {model.context_tokens}-token context on one node"
            )
    detail = "; ".join(parts) or "no catalog accelerator matches the measured throughput entries"
    return (
        f"{problem.options_considered} options passed the static filters in {problem.regions_considered} "
        f"regions; {detail}. Relax several constraints at once, or use a smaller or quantised model."
    )
