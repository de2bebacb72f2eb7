"""Exact placement of every workload of a stack: cloud, regions, instance types and node counts.

The model and its solution are in :mod:`regions.milp`; this module checks the stack's profiles
against the catalog, solves every workload together (they share regions' fixed costs and the
stack budget), and turns infeasibility into structured diagnoses (:mod:`regions.infeasibility`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from regions.catalog import Catalog
from regions.diagnosis import Diagnosis, PlacementError
from regions.infeasibility import diagnose_stack, diagnose_workload
from regions.milp import (
    StagePlacement,
    WorkloadPlan,
    WorkloadProblem,
    build_problem,
    fixed_monthly_usd,
    solve_jointly,
    solve_workload,
)
from regions.names import check_profile_names
from regions.settings import PlacementSettings
from workloads.profiles import WorkloadProfile

__all__ = [
    "FleetPlan",
    "PlacementError",
    "StagePlacement",
    "WorkloadPlan",
    "WorkloadProblem",
    "build_problem",
    "forget_plans",
    "place_fleet",
    "solve_jointly",
    "solve_workload",
]


@dataclass(frozen=True)
class FleetPlan:
    """Placement of every workload of a stack."""

    workloads: tuple[WorkloadPlan, ...]
    gateway_only: tuple[WorkloadProfile, ...]
    settings: PlacementSettings

    @property
    def fixed_monthly_usd(self) -> float:
        """What the opened regions and used clouds cost beside the workloads' own capacity, each once."""
        return fixed_monthly_usd(self.workloads)

    @property
    def monthly_usd(self) -> float:
        """The whole bill: every workload's capacity and storage, and the fixed costs."""
        return sum(w.monthly_usd for w in self.workloads) + self.fixed_monthly_usd

    @property
    def monthly_kgco2(self) -> float | None:
        values = [w.monthly_kgco2 for w in self.workloads]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def place_fleet(profiles: Sequence[WorkloadProfile], catalog: Catalog, settings: PlacementSettings) -> FleetPlan:
    """Places every served workload of a stack optimally, together: regions' fixed costs are shared.

    Raises:
        PlacementError: a name the catalog does not know, a workload or the stack budget that
            cannot be met; its diagnoses name the binding constraint and the nearest relaxation.
    """
    _check_names(profiles, catalog)
    key = (catalog, repr(settings), tuple(p.model_dump_json() for p in profiles))
    if key in _PLACED:
        return _PLACED[key]
    plan = _place(profiles, catalog, settings)
    if len(_PLACED) >= _PLACED_MAX:
        _PLACED.pop(next(iter(_PLACED)))
    _PLACED[key] = plan
    return plan


_PLACED: dict[tuple[Catalog, str, tuple[str, ...]], FleetPlan] = {}
"""Plans already made in this process, by catalog, settings and profiles: placement is a pure
function of them and the same stack is often planned more than once (a plan and its policy run,
a base and a branch)."""
_PLACED_MAX = 16


def forget_plans() -> None:
    """Empties the per-process plan cache (benchmarks time placement, not a lookup)."""
    _PLACED.clear()


def _place(profiles: Sequence[WorkloadProfile], catalog: Catalog, settings: PlacementSettings) -> FleetPlan:
    served = [p for p in profiles if not p.gateway_only]
    problems = [build_problem(p, catalog, settings) for p in served]
    gateway_only = tuple(p for p in profiles if p.gateway_only)
    if not problems:
        return FleetPlan((), gateway_only, settings)
    budget = settings.stack_budget_monthly_usd
    plans = solve_jointly(problems, budget)
    if plans is None:
        for problem in problems:  # a workload infeasible on its own is the cause, first in order
            if solve_workload(problem) is None:
                raise PlacementError(diagnose_workload(problem))
        raise PlacementError(diagnose_stack(problems, budget))
    return FleetPlan(tuple(plans), gateway_only, settings)


def _check_names(profiles: Sequence[WorkloadProfile], catalog: Catalog) -> None:
    """Refuses repeated workload names and region or residency names this catalog does not know."""
    names = [p.name for p in profiles]
    found = [
        Diagnosis(
            "duplicate_name",
            name,
            "name",
            name,
            None,
            f"{name!r} names more than one workload; workload names must be unique in a stack",
            "",
        )
        for name in sorted({n for n in names if names.count(n) > 1})
    ]
    for profile in profiles:
        found += [
            Diagnosis("unknown_name", profile.name, path, None, None, message, "")
            for path, message in check_profile_names(profile, catalog)
        ]
    if found:
        raise PlacementError(found)
