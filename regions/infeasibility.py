"""Diagnoses an infeasible placement: which constraint binds and the nearest relaxation that works.

First the facts no other setting can change: a model too large for every accelerator of the
catalog, or measured only on accelerators the catalog does not offer. Then each constraint family
is relaxed alone, as far as a profile may go, and the smallest relaxation that makes the workload
feasible is searched for (a budget figure, a p95, a carbon cap, a region count, the countries to
add...). Every relaxation that works on its own is reported; the first, in the order of
``_RELAXATIONS`` (least intrusive first), is the binding constraint. When none works alone, the
diagnosis says so rather than blaming one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from regions.catalog import CLOUDS, Region
from regions.diagnosis import Constraint, Diagnosis, Value
from regions.footprint import AKS_OS_DISK_GIB
from regions.milp import (
    WorkloadPlan,
    WorkloadProblem,
    build_problem,
    fixed_monthly_usd,
    least_quota_use,
    solve_jointly,
    solve_workload,
)
from regions.options import matches, power_watts
from regions.quotas import MAX_QUOTA
from regions.residency import expand_residency
from regions.settings import PlacementSettings, carbon_counts, cheapest_settings
from regions.sizing import BYTES_PER_PARAM, kv_cache_bytes_per_token, replica_memory_bytes, sequence_bytes
from workloads.profiles import (
    HA_AVAILABILITY,
    MAX_LATENCY_MS,
    MAX_MONTHLY_USD,
    MAX_REPLICAS,
    GpuSharing,
    LlmModel,
    MeasuredModel,
    WorkloadProfile,
)

__all__ = ["diagnose_stack", "diagnose_stack_budget", "diagnose_workload"]

_MAX_CARBON_CAP = 2000.0  # the profile's bound on carbon.max_gco2_per_kwh
_LISTED = 4  # regions named in a fact before "and N more"
_MIN_CONTEXT_TOKENS = 128  # the profile's lower bound on context_tokens
_UNLIMITED_DISK_GIB = 10**9  # a temporary disk no download fills: asks whether disks alone bind


def diagnose_workload(problem: WorkloadProblem) -> tuple[Diagnosis, ...]:
    """Why one workload cannot be placed: the binding constraint first, then every other single relaxation."""
    structural = _model_fits_nowhere(problem)
    if structural:
        return structural
    found = tuple(d for relax in _RELAXATIONS if (d := relax(problem)) is not None)
    return found or (_combined(problem),)


def diagnose_stack(problems: Sequence[WorkloadProblem], budget_usd: float | None) -> tuple[Diagnosis, ...]:
    """Why workloads each feasible alone cannot be placed together: the stack budget, or accelerator
    quotas they share; every single relaxation that works, the stack budget first."""
    found = list(_quota_relaxations(problems, budget_usd))
    if budget_usd is not None and solve_jointly(problems, None) is not None:
        found.insert(0, *diagnose_stack_budget(problems, budget_usd))
    if found:
        return tuple(found)
    settings = problems[0].settings
    active = ("budget_monthly_usd", "quotas") if budget_usd is not None else ("quotas",)
    return (
        Diagnosis(
            "combined",
            None,
            "quotas",
            tuple(f"{q.region} {q.accelerator} at most {q.limit:,}" for q in settings.quotas),
            None,
            "bind"
            + (" with the stack budget" if budget_usd is not None else "")
            + ": raising any one alone does not make the stack feasible",
            f"relax several of {', '.join(active)} at once",
            stack_wide=True,
        ),
    )


def _quota_relaxations(problems: Sequence[WorkloadProblem], budget_usd: float | None) -> list[Diagnosis]:
    """Each quota that, raised alone, makes the plan feasible, with the fewest accelerators that do."""
    found: list[tuple[int, Diagnosis]] = []
    # Quotas on regions some workload may use (columns beyond a quota are not built, so the
    # columns cannot tell).
    reachable = {key for p in problems for _, key in p.rtt_ms}
    for q, quota in enumerate(problems[0].settings.quotas):
        if quota.region not in reachable:
            continue
        # Columns beyond a quota are not built: rebuild with this one lifted to find the least it needs.
        lifted = replace(quota, limit=MAX_QUOTA)
        settings = replace(
            problems[0].settings,
            quotas=tuple(lifted if i == q else x for i, x in enumerate(problems[0].settings.quotas)),
        )
        least = least_quota_use([build_problem(p.profile, p.catalog, settings) for p in problems], budget_usd, q)
        if least is None or least <= quota.limit:
            continue
        who = problems[0].profile.name if len(problems) == 1 else None
        found.append(
            (
                least - quota.limit,
                Diagnosis(
                    "quota",
                    who,
                    "quotas",
                    quota.limit,
                    least,
                    f"for {quota.accelerator} in {quota.region} is below the {least:,} the "
                    f"{'workload needs' if who else 'workloads together need'} at max nodes "
                    "(peak, and any failover they take)",
                    f"raise it to at least {least:,} (request the increase from the cloud first) or let the "
                    "workloads use other regions or accelerators",
                    stack_wide=True,
                ),
            )
        )
    return [d for _, d in sorted(found, key=lambda x: x[0])]


def diagnose_stack_budget(problems: Sequence[WorkloadProblem], budget_usd: float) -> tuple[Diagnosis, ...]:
    """Stack budget below the cheapest plan that meets every workload's own constraints (whole bill)."""
    cheapest_problems = [
        build_problem(p.profile, p.catalog, cheapest_settings(p.profile, p.settings)) for p in problems
    ]
    plans = solve_jointly(cheapest_problems, None)
    if plans is None:
        total, top = math.inf, "no plan meets every workload's constraints"
    else:
        fixed = fixed_monthly_usd(plans)
        total = sum(plan.monthly_usd for plan in plans) + fixed
        largest = sorted(((plan.profile.name, plan.monthly_usd) for plan in plans), key=lambda x: -x[1])[:3]
        top = ", ".join(f"{name} ${cost:,.0f}" for name, cost in largest) + f"; regions' fixed costs ${fixed:,.0f}"
    return (
        Diagnosis(
            "stack_budget",
            None,
            "budget_monthly_usd",
            budget_usd,
            math.ceil(total) if math.isfinite(total) else None,
            f"is below the cheapest plan that meets every workload's constraints, ${total:,.0f}/month (largest: {top})",
            f"raise it to at least ${math.ceil(total):,}/month or relax those workloads"
            if math.isfinite(total)
            else "relax those workloads",
            stack_wide=True,
        ),
    )


# --- structural facts -----------------------------------------------------------------------


def _model_fits_nowhere(problem: WorkloadProblem) -> tuple[Diagnosis, ...]:
    profile, catalog = problem.profile, problem.catalog
    offered = {(o.accelerator, o.accelerator_count) for o in catalog.offerings}
    found: list[Diagnosis] = []
    for i, stage in enumerate(profile.stages):
        prefix = "model." if profile.model is not None else f"cascade.{i}.model."
        model = stage.model
        if isinstance(model, LlmModel):
            sizes = [
                (replica_memory_bytes(spec, count, problem.settings.sizing), count, name)
                for name, count in offered
                if (spec := catalog.spec(name)) is not None
            ]
            largest = max(sizes, default=(0.0, 0, "none"))
            if sequence_bytes(model, problem.settings.sizing) > largest[0]:
                found.append(_too_large(problem, model, prefix, largest))
        elif isinstance(model, MeasuredModel):
            names = tuple(m.accelerator for m in model.throughput)
            if not {name for name, _ in offered} & set(names):
                found.append(
                    _diagnosis(
                        problem,
                        "measured_accelerators",
                        f"{prefix}throughput",
                        names,
                        None,
                        "names no accelerator this catalog offers",
                        "measure the model on an accelerator the catalog offers",
                    )
                )
    return tuple(found)


def _too_large(problem: WorkloadProblem, model: LlmModel, prefix: str, largest: tuple[float, int, str]) -> Diagnosis:
    """The model exceeds the largest replica of the catalog: the nearest precision, context or size that fits."""
    capacity, count, accelerator = largest
    kv_per_token = kv_cache_bytes_per_token(model, problem.settings.sizing)
    kv = kv_per_token * model.context_tokens
    weights = model.params_billion * 1e9 * BYTES_PER_PARAM[model.precision]
    fact = (
        f"needs {weights / 1e9:,.0f} GB of weights plus {kv / 1e9:,.1f} GB of KV cache for one "
        f"{model.context_tokens}-token context, and the largest replica in the catalog holds "
        f"{capacity / 1e9:,.0f} GB ({count}x {accelerator})"
    )
    smaller = [
        p
        for p, size in BYTES_PER_PARAM.items()
        if size < BYTES_PER_PARAM[model.precision] and model.params_billion * 1e9 * size + kv <= capacity
    ]
    if smaller:
        precision = max(smaller, key=lambda p: BYTES_PER_PARAM[p])  # the least aggressive that fits
        return _diagnosis(
            problem,
            "model_size",
            f"{prefix}precision",
            model.precision,
            precision,
            fact,
            f"quantise to {precision}, or serve a smaller model",
        )
    context = math.floor((capacity - weights) / kv_per_token)
    if context >= max(_MIN_CONTEXT_TOKENS, problem.profile.slo.tokens_in + problem.profile.slo.tokens_out):
        return _diagnosis(
            problem,
            "model_size",
            f"{prefix}context_tokens",
            model.context_tokens,
            context,
            fact,
            f"shorten it to at most {context:,} tokens, or serve a smaller model",
        )
    params = math.floor(max(0.0, capacity - kv) / BYTES_PER_PARAM[model.precision] / 1e8) / 10
    return _diagnosis(
        problem,
        "model_size",
        f"{prefix}params_billion",
        model.params_billion,
        params,
        fact,
        f"serve a model of at most {params:,.1f}B parameters",
    )


# --- relaxations ----------------------------------------------------------------------------


def _solve(
    problem: WorkloadProblem, profile: WorkloadProfile | None = None, settings: PlacementSettings | None = None
) -> WorkloadPlan | None:
    return solve_workload(build_problem(profile or problem.profile, problem.catalog, settings or problem.settings))


def _update(profile: WorkloadProfile, section: str, **changes: object) -> WorkloadProfile:
    part = getattr(profile, section)
    return profile.model_copy(update={section: part.model_copy(update=changes)})


def _diagnosis(
    problem: WorkloadProblem,
    constraint: Constraint,
    setting: str,
    current: Value,
    nearest: Value,
    what: str,
    remedy: str,
    stack_wide: bool = False,
) -> Diagnosis:
    return Diagnosis(constraint, problem.profile.name, setting, current, nearest, what, remedy, stack_wide)


def _relax_budget(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    relaxed = _update(profile, "budget", monthly_usd=MAX_MONTHLY_USD)
    plan = _solve(problem, relaxed, cheapest_settings(profile, problem.settings))
    if plan is None:
        return None
    return _diagnosis(
        problem,
        "budget",
        "budget.monthly_usd",
        profile.budget.monthly_usd,
        math.ceil(plan.monthly_usd),
        f"is below the cheapest feasible plan, ${plan.monthly_usd:,.0f}/month",
        f"raise it to at least ${math.ceil(plan.monthly_usd):,}/month",
    )


def _relax_latency(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    current = profile.slo.p95_latency_ms

    def ok(p95: float) -> bool:
        return _solve(problem, _update(profile, "slo", p95_latency_ms=p95)) is not None

    if not ok(MAX_LATENCY_MS):
        return None
    low, high = current, MAX_LATENCY_MS
    while high - low > max(1.0, 0.01 * low):
        mid = (low + high) / 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    nearest = math.ceil(high)
    return _diagnosis(
        problem,
        "latency",
        "slo.p95_latency_ms",
        current,
        nearest,
        "is unreachable: no region and accelerator serve the users within it",
        f"raise it to about {nearest:,} ms, the nearest feasible p95",
    )


def _relax_min_regions(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    current = profile.placement.min_regions
    for regions in range(current - 1, 0, -1):
        if _solve(problem, _update(profile, "placement", min_regions=regions)) is not None:
            # The profile refuses one region for a high availability target: say what else must change.
            also = (
                f", with slo.availability below {HA_AVAILABILITY} (which needs 2)"
                if regions < 2 and profile.slo.availability >= HA_AVAILABILITY
                else ""
            )
            return _diagnosis(
                problem,
                "min_regions",
                "placement.min_regions",
                current,
                regions,
                f"cannot be met: at most {regions} region(s) qualify",
                f"lower it to {regions}{also}",
            )
    return None


def _relax_max_replicas(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    current = profile.scaling.max_replicas

    def ok(replicas: int) -> bool:
        return _solve(problem, _update(profile, "scaling", max_replicas=replicas)) is not None

    if not ok(MAX_REPLICAS):
        return None
    low, high = current, MAX_REPLICAS
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return _diagnosis(
        problem,
        "max_replicas",
        "scaling.max_replicas",
        current,
        high,
        "cannot absorb the peak",
        f"raise it to at least {high}",
    )


def _relax_carbon_cap(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    cap = profile.carbon.max_gco2_per_kwh
    if cap is None:
        return None
    levels = sorted(
        {g for r in problem.catalog.regions.values() if (g := r.grid_gco2_per_kwh) and cap < g <= _MAX_CARBON_CAP}
    )

    def ok(level: float) -> bool:
        return _solve(problem, _update(profile, "carbon", max_gco2_per_kwh=level)) is not None

    if not levels or not ok(levels[-1]):
        return None
    low, high = -1, len(levels) - 1  # feasibility only grows with the cap: find the first feasible level
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(levels[mid]) else (mid, high)
    return _diagnosis(
        problem,
        "carbon_cap",
        "carbon.max_gco2_per_kwh",
        cap,
        levels[high],
        "excludes every workable region",
        f"raise it to {levels[high]:g} gCO2/kWh, the nearest feasible cap",
    )


def _relax_capacity(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    if profile.capacity.on_demand and profile.capacity.spot:
        return None
    if _solve(problem, _update(profile, "capacity", on_demand=True, spot=True)) is None:
        return None
    missing = "spot" if profile.capacity.on_demand else "on_demand"
    return _diagnosis(
        problem,
        "capacity",
        f"capacity.{missing}",
        False,
        True,
        "leaves no offering that can serve it",
        f"allow {missing.replace('_', '-')} capacity",
    )


def _relax_gpu_sharing(problem: WorkloadProblem) -> Diagnosis | None:
    """A stage whose replicas share GPUs: the nearest sharing that runs it — larger MIG instances,
    fewer time slices — or whole GPUs."""
    profile = problem.profile
    for i, stage in enumerate(profile.stages):
        model = stage.model
        if not isinstance(model, LlmModel) or model.gpu_sharing is None:
            continue
        sharing = model.gpu_sharing
        if sharing.mig is not None:
            larger = [f"{n}g" for n in range(int(sharing.mig[0]) + 1, 4)]
            candidates: list[GpuSharing | None] = [GpuSharing(mig=m) for m in larger]  # type: ignore[arg-type]
        else:
            # Fewer slices, halving towards two: a handful of solves, not one per count.
            slices = sharing.time_slicing or 2
            fewer = sorted({slices - 1, *(max(2, slices >> n) for n in range(1, 6))} - {slices, 1}, reverse=True)
            candidates = [GpuSharing(time_slicing=k) for k in fewer]
        for candidate in [*candidates, None]:
            relaxed = _with_stage_model(profile, i, model.model_copy(update={"gpu_sharing": candidate}))
            if _solve(problem, relaxed) is None:
                continue
            prefix = "model." if profile.model is not None else f"cascade.{i}.model."
            return _diagnosis(
                problem,
                "gpu_sharing",
                f"{prefix}gpu_sharing",
                sharing.label,
                "whole GPUs" if candidate is None else candidate.label,
                "leaves no accelerator that runs a replica on its share within the other constraints "
                "(MIG: A100, H100, H200 and B200 only; a share holds its fraction of the GPU's memory)",
                "give each replica whole GPUs (remove it)" if candidate is None else f"share as {candidate.label}",
            )
    return None


def _relax_node_disks(problem: WorkloadProblem) -> Diagnosis | None:
    """Options whose node cannot hold the model's downloads are dropped (an AKS node has its OS disk
    or one temporary disk); were they the only workable ones?"""
    profile, catalog = problem.profile, problem.catalog
    azure_sizes = {o.instance_type for o in catalog.offerings if o.cloud == "azure"}
    if "azure" not in profile.placement.clouds or not azure_sizes:
        return None
    unlimited = replace(catalog, temp_disks=dict.fromkeys(azure_sizes, _UNLIMITED_DISK_GIB))
    plan = solve_workload(build_problem(profile, unlimited, problem.settings))
    needs = [] if plan is None else [r.choice.option.disk_gib for r in plan.rows if r.region.cloud == "azure"]
    if not needs:
        return None
    what = (
        f"runs only on AKS nodes whose disks cannot hold the model's downloads ({max(needs):,} GiB per "
        f"node, more than the {AKS_OS_DISK_GIB} GiB OS disk or the VM size's one non-NVMe temporary "
        "disk in regions/data/azure_temp_disks.csv)"
    )
    if profile.placement.accelerators:
        setting, current = "placement.accelerators", tuple(profile.placement.accelerators)
        remedy = (
            "qualify the model on an accelerator whose nodes hold it (another cloud's, or an Azure size "
            "with a larger temporary disk)"
        )
    else:
        setting, current = "placement.clouds", tuple(profile.placement.clouds)
        remedy = "allow a cloud whose nodes get the disk they need (aws, gcp)"
    return _diagnosis(problem, "node_disk", setting, current, None, what, remedy)


def _relax_accelerators(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    qualified = profile.placement.accelerators
    if not qualified:
        return None
    plan = _solve(problem, _update(profile, "placement", accelerators=[]))
    if plan is None:
        return None
    added = sorted({row.choice.option.offering.accelerator for row in plan.rows} - set(qualified))
    return _diagnosis(
        problem,
        "accelerators",
        "placement.accelerators",
        tuple(qualified),
        (*qualified, *added),
        "is too narrow",
        f"qualify the model on {', '.join(added)}",
    )


def _with_stage_model(profile: WorkloadProfile, index: int, model: LlmModel) -> WorkloadProfile:
    if profile.model is not None:
        return profile.model_copy(update={"model": model})
    cascade = list(profile.cascade or [])
    cascade[index] = cascade[index].model_copy(update={"model": model})
    return profile.model_copy(update={"cascade": cascade})


def _relax_unknown_carbon(problem: WorkloadProblem) -> Diagnosis | None:
    """Carbon counts, so options of unknown carbon are excluded; were they the only workable ones?"""
    settings = problem.settings
    if not carbon_counts(problem.profile, settings):
        return None
    plan = _solve(problem, settings=replace(settings, objective="cost"))
    if plan is None:
        return None
    chips = sorted(
        {
            accelerator
            for row in plan.rows
            if power_watts(
                problem.catalog, accelerator := row.choice.option.offering.accelerator, settings.assumed_power_watts
            )
            is None
        }
    )
    if chips:
        return _diagnosis(
            problem,
            "unknown_carbon",
            "assumed_power_watts",
            tuple(sorted(settings.assumed_power_watts)),
            tuple(chips),
            f"has no power figure for {', '.join(chips)}, the only accelerators that can serve it, so their "
            "carbon is unknown and carbon enters this decision",
            f"state a power per chip for {', '.join(chips)}, or place with the cost objective",
            stack_wide=True,
        )
    regions = sorted({row.region.key for row in plan.rows})
    return _diagnosis(
        problem,
        "unknown_carbon",
        "objective",
        settings.objective,
        "cost",
        f"weighs carbon, but the only regions that can serve it ({', '.join(regions)}) have no grid-intensity figure",
        "place with the cost objective, or without a carbon price",
        stack_wide=True,
    )


def _relax_allowed(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    allowed = profile.placement.allowed_regions
    if not allowed:
        return None
    plan = _solve(problem, _update(profile, "placement", allowed_regions=[]))
    if plan is None:
        return None
    added = sorted({row.region.key for row in plan.rows if not matches(row.region, allowed)})
    named = [r for r in problem.catalog.regions.values() if matches(r, allowed)]
    return _diagnosis(
        problem,
        "allowed_regions",
        "placement.allowed_regions",
        tuple(allowed),
        (*allowed, *added),
        f"leaves no workable region: {_regions_fact(named)}",
        f"add {', '.join(added)}",
    )


def _relax_denied(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    denied = profile.placement.denied_regions
    if not denied:
        return None
    plan = _solve(problem, _update(profile, "placement", denied_regions=[]))
    if plan is None:
        return None
    freed = [entry for entry in denied if any(matches(row.region, [entry]) for row in plan.rows)]
    return _diagnosis(
        problem,
        "denied_regions",
        "placement.denied_regions",
        tuple(denied),
        tuple(e for e in denied if e not in freed),
        "leaves no workable region",
        f"stop denying {', '.join(freed)}",
    )


def _relax_clouds(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    clouds = profile.placement.clouds
    if set(clouds) == set(CLOUDS):
        return None
    plan = _solve(problem, _update(profile, "placement", clouds=list(CLOUDS)))
    if plan is None:
        return None
    added = sorted({row.region.cloud for row in plan.rows} - set(clouds))
    return _diagnosis(
        problem,
        "clouds",
        "placement.clouds",
        tuple(clouds),
        (*clouds, *added),
        "is too narrow",
        f"allow {', '.join(added)}",
    )


def _relax_hipaa_clouds(problem: WorkloadProblem) -> Diagnosis | None:
    profile, settings = problem.profile, problem.settings
    if not profile.compliance.hipaa or set(settings.hipaa_clouds) == set(CLOUDS):
        return None
    plan = _solve(problem, settings=replace(settings, hipaa_clouds=CLOUDS))
    if plan is None:
        return None
    current = tuple(settings.hipaa_clouds)
    added = sorted({row.region.cloud for row in plan.rows} - set(current))
    return _diagnosis(
        problem,
        "hipaa_clouds",
        "hipaa_clouds",
        current,
        (*current, *added),
        "leaves no workable region for this HIPAA workload",
        f"add {', '.join(added)} once a business associate agreement covers it",
        stack_wide=True,
    )


def _relax_residency(problem: WorkloadProblem) -> Diagnosis | None:
    profile = problem.profile
    entries = profile.compliance.data_residency
    if not entries:
        return None
    plan = _solve(problem, _update(profile, "compliance", data_residency=[]))
    if plan is None:
        return None
    residency = expand_residency(entries)
    clouds = set(profile.placement.clouds)
    inside = [r for r in problem.catalog.regions.values() if r.cloud in clouds and residency.allows(r)]
    added = sorted({row.region.country_code for row in plan.rows} - residency.countries)
    covers = f"covers {residency.describe()} but " if residency.groups else ""
    caveat = (
        ", if the compliance obligations of its protected health information allow" if profile.compliance.hipaa else ""
    )
    return _diagnosis(
        problem,
        "residency",
        "compliance.data_residency",
        tuple(entries),
        (*entries, *added),
        f"{covers}leaves no workable region: {_regions_fact(inside)}",
        f"add {', '.join(added)}{caveat}",
    )


def _relax_quota(problem: WorkloadProblem) -> Diagnosis | None:
    found = _quota_relaxations([problem], None)
    return found[0] if found else None


_RELAXATIONS: tuple[Callable[[WorkloadProblem], Diagnosis | None], ...] = (
    _relax_budget,
    _relax_quota,
    _relax_latency,
    _relax_min_regions,
    _relax_max_replicas,
    _relax_carbon_cap,
    _relax_capacity,
    _relax_gpu_sharing,
    _relax_node_disks,
    _relax_accelerators,
    _relax_unknown_carbon,
    _relax_allowed,
    _relax_denied,
    _relax_clouds,
    _relax_hipaa_clouds,
    _relax_residency,
)


def _regions_fact(regions: Sequence[Region]) -> str:
    if not regions:
        return "no region of the allowed clouds lies there"
    keys = sorted(r.key for r in regions)
    more = f" and {len(keys) - _LISTED} more" if len(keys) > _LISTED else ""
    return f"its regions ({', '.join(keys[:_LISTED])}{more}) cannot serve it within the other constraints"


def _combined(problem: WorkloadProblem) -> Diagnosis:
    profile = problem.profile
    active = ["budget.monthly_usd", "slo.p95_latency_ms", "scaling.max_replicas"]
    optional = {
        "placement.min_regions": profile.placement.min_regions > 1,
        "carbon.max_gco2_per_kwh": profile.carbon.max_gco2_per_kwh is not None,
        "capacity": not (profile.capacity.on_demand and profile.capacity.spot),
        "placement.allowed_regions": bool(profile.placement.allowed_regions),
        "placement.denied_regions": bool(profile.placement.denied_regions),
        "placement.clouds": set(profile.placement.clouds) != set(CLOUDS),
        "placement.accelerators": bool(profile.placement.accelerators),
        **{
            f"{'model.' if profile.model is not None else f'cascade.{i}.model.'}gpu_sharing": True
            for i, stage in enumerate(profile.stages)
            if isinstance(stage.model, LlmModel) and stage.model.gpu_sharing is not None
        },
        "compliance.data_residency": bool(profile.compliance.data_residency),
    }
    active += [name for name, applies in optional.items() if applies]
    return _diagnosis(
        problem,
        "combined",
        "",
        tuple(active),
        None,
        f"{problem.regions_considered} region(s) pass the region, residency and carbon filters, with "
        f"{problem.options_considered} ways to run it; relaxing any one of {', '.join(active)} alone does not "
        "make it feasible",
        "relax several of them at once",
    )
