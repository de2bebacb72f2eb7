"""The placement model of one workload, and its exact solution (alone, or jointly under a stack budget).

The model (documented here because reviewers read the reasons it produces):

* Each user geography of a workload is served by exactly one region. A region serving the set
  ``S`` must reach every geography in ``S`` within the p95 SLO: ``RTT(g, r)`` plus the service time
  (summed over cascade stages) ``<= p95``. Regions serving no geography may be opened as standbys
  for ``min_regions`` if they reach their nearest geography in time.
* In each open region every stage runs on one offering (instance type x capacity type) at one
  operating point (:mod:`regions.sizing`). Desired nodes carry the steady traffic of ``S``, max
  nodes its peak (bounded by ``max_replicas``), min nodes hold ``min_replicas``.
* Monthly cost = desired nodes x (hourly price x 730 h + what each node adds, its root disk) +
  the stage's model weights in the region's artifact bucket, and once per opened region its fixed
  cost (control plane, NAT, key: :mod:`regions.footprint`), once per cloud used its stack-wide
  pieces. Carbon = desired nodes x accelerators x TDP x utilisation x PUE x 730 h x grid
  intensity. Peak capacity is autoscaled and not estimated.
* Objectives: ``cost`` (USD), ``carbon`` (kgCO2, then USD), ``balanced`` (USD + price x tCO2).
  Among equally good plans the one with the lowest traffic-weighted RTT wins, then the one with
  fewer regions.
* Constraints: clouds, allowed/denied regions, data residency, HIPAA clouds, carbon cap,
  on-demand/spot, ``min_regions``, ``max_replicas``, failover capacity (:mod:`regions.failover`),
  each workload's budget, accelerator quotas (:mod:`regions.quotas`), the stack budget.

The solve is exact: :mod:`regions.columns` enumerates, per region and served set, every choice
that is Pareto-optimal in (USD, objective, accelerators against each quota); one MILP for the
whole stack (HiGHS through SciPy, relative gap 0) picks at most one column per workload and region
so that each geography is served once, opens a region (facility location: its fixed cost paid
once) wherever a column uses it, and holds every quota and the stack budget against the whole bill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from regions.catalog import Catalog, Region
from regions.columns import Column, StageChoice, build_columns
from regions.failover import failover_required, plan_failover, reach_mask, spare_share
from regions.footprint import footprint_of
from regions.geo import great_circle_km
from regions.options import eligible_regions
from regions.settings import PlacementSettings
from workloads.profiles import WorkloadProfile

__all__ = [
    "StagePlacement",
    "WorkloadPlan",
    "WorkloadProblem",
    "build_problem",
    "fixed_monthly_usd",
    "least_quota_use",
    "solve_jointly",
    "solve_workload",
]


_MS_PER_OPEN_REGION = 0.1
_RESOLUTION = (0.01, 0.1)
"""Differences the tie-breaking goals must resolve: a cent (carbon's second goal, USD) and a tenth
of a millisecond of traffic-weighted RTT (the last goal, which an open region adds to)."""
_SOLVER_ABS_GAP = 1e-6  # HiGHS stops when its bounds are this close: folded differences must exceed it
_PRESOLVE_MAX_COLUMNS = 500  # measured with bench/placement.py and the example stacks


@dataclass(frozen=True)
class WorkloadProblem:
    """A workload's columns, ready for the MILP, and what built them (for explanations)."""

    profile: WorkloadProfile
    catalog: Catalog
    settings: PlacementSettings
    columns: tuple[Column, ...]
    rtt_ms: dict[tuple[str, str], float]
    """Round trip from geography name to region key, ms."""
    regions_considered: int
    options_considered: int
    """Options (offering x capacity x operating point) left after the static filters."""


@dataclass(frozen=True, slots=True)
class StagePlacement:
    """One row of the placement table: one stage of a workload in one region."""

    workload: str
    region: Region
    choice: StageChoice
    served: tuple[tuple[str, float], ...]
    """(geography, RTT ms) pairs served from this region; empty for a standby."""


@dataclass(frozen=True)
class WorkloadPlan:
    """The optimal placement of one workload."""

    problem: WorkloadProblem
    columns: tuple[Column, ...]
    rows: tuple[StagePlacement, ...]
    failover: dict[str, str] = field(default_factory=dict)
    """Region key -> what happens when that region fails (workloads whose availability asks for it)."""

    @property
    def profile(self) -> WorkloadProfile:
        return self.problem.profile

    @property
    def monthly_usd(self) -> float:
        return sum(c.monthly_usd for c in self.columns)

    @property
    def monthly_kgco2(self) -> float | None:
        values = [c.monthly_kgco2 for c in self.columns]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    @property
    def objective(self) -> float:
        return sum(c.objective for c in self.columns)


def build_problem(profile: WorkloadProfile, catalog: Catalog, settings: PlacementSettings) -> WorkloadProblem:
    """Enumerates the workload's columns over every eligible region."""
    eligible = eligible_regions(profile, catalog, settings)
    rtt = {
        (u.name, r.key): settings.latency.rtt_ms(great_circle_km(u.latitude, u.longitude, r.latitude, r.longitude))
        for u in profile.placement.users
        for r in eligible
    }
    # A region no user reaches within the p95 even with zero service time can never serve or stand by.
    p95 = profile.slo.p95_latency_ms
    regions = [r for r in eligible if any(rtt[(u.name, r.key)] < p95 for u in profile.placement.users)]
    max_open = max(profile.placement.min_regions, len(profile.placement.users))
    columns, considered = build_columns(profile, catalog, settings, regions, rtt, max_open=max_open)
    return WorkloadProblem(profile, catalog, settings, tuple(columns), rtt, len(regions), considered)


def solve_workload(problem: WorkloadProblem) -> WorkloadPlan | None:
    """The optimal plan for one workload under its own budget; None when infeasible."""
    chosen = _solve([problem], stack_budget=None)
    return None if chosen is None else _plan(problem, chosen[0])


def solve_jointly(problems: Sequence[WorkloadProblem], stack_budget: float | None) -> list[WorkloadPlan] | None:
    """The optimal plans of every workload together (regions' fixed costs are shared), under their
    own budgets and the stack budget on the whole bill; None when infeasible."""
    chosen = _solve(problems, stack_budget)
    return None if chosen is None else [_plan(p, cols) for p, cols in zip(problems, chosen, strict=True)]


def least_quota_use(problems: Sequence[WorkloadProblem], stack_budget: float | None, quota: int) -> int | None:
    """The fewest accelerators against ``settings.quotas[quota]`` of any plan meeting every other
    constraint (that quota left out); None when none does. The nearest relaxation of a binding quota."""
    columns = [c for p in problems for c in p.columns]
    if not columns:
        return None
    fixed = _FixedCosts.of(problems)
    offsets = np.cumsum([0] + [len(p.columns) for p in problems])
    n = len(columns) + len(fixed.regions) + len(fixed.clouds)
    rows, lower, upper = _constraints(problems, offsets, stack_budget, fixed, skip_quota=quota)
    use = [sum(n for q, n in c.quota_use if q == quota) for c in columns]
    x = _milp(np.concatenate((use, np.zeros(n - len(columns)))), rows, lower, upper, n)
    return None if x is None else round(float(np.dot(use, x[: len(columns)])))


# --- the MILP -----------------------------------------------------------------------------


def _solve(problems: Sequence[WorkloadProblem], stack_budget: float | None) -> list[list[Column]] | None:
    """Optimal columns per problem, or None when infeasible.

    Lexicographic: the objective (for ``carbon``: kgCO2, then USD), then traffic-weighted RTT.
    Variables: one per column, then one per region (opened), then one per cloud (used).
    """
    columns = [c for p in problems for c in p.columns]
    if not columns:
        return None
    fixed = _FixedCosts.of(problems)
    if len(problems) == 1 and stack_budget is None and _single_column(problems[0]):
        return _best_single_column(problems[0], fixed)
    offsets = np.cumsum([0] + [len(p.columns) for p in problems])
    n = len(columns) + len(fixed.regions) + len(fixed.clouds)
    rows, lower, upper = _constraints(problems, offsets, stack_budget, fixed)
    in_usd = problems[0].settings.objective != "carbon"  # the objective counts fixed costs when it is in USD
    goals = [np.concatenate(([c.objective for c in columns], fixed.usd * in_usd))]
    if not in_usd:
        goals.append(np.concatenate(([c.monthly_usd for c in columns], fixed.usd)))
    # Last, the lowest traffic-weighted RTT; a tenth of a millisecond per open region breaks the
    # remaining ties towards fewer regions (a free standby under scale-to-zero is not opened).
    goals.append(np.concatenate(([c.weighted_rtt_ms + _MS_PER_OPEN_REGION for c in columns], fixed.usd * 0)))
    x = _lexicographic(goals, rows, lower, upper, n, problems)
    if x is None:
        return None
    return [[columns[i] for i in range(offsets[k], offsets[k + 1]) if x[i] > 0.5] for k in range(len(problems))]


def _lexicographic(
    goals: list[np.ndarray],
    rows: list[dict[int, float]],
    lower: list[float],
    upper: list[float],
    n: int,
    problems: Sequence[WorkloadProblem],
) -> np.ndarray | None:
    """The first goal's optimum, then the second's least among those optima, and so on.

    Holding a goal at its optimum by a constraint row makes the next solve hard (a knapsack over
    every column); instead each next goal is added with a small weight and the answer is kept when
    every earlier goal is still at its optimum, which then makes the next goal the least among those
    optima (another optimum with less would score less). Only where the weight traded an earlier
    goal away are the earlier goals held by rows, as a plain lexicographic solve would.
    """
    x = _milp(goals[0], rows, lower, upper, n)
    if x is None:
        return None
    combined, scale = goals[0], 1.0  # scale: the weight of the last goal in ``combined``
    best = [float(goals[0] @ x)]
    for level in range(1, len(goals)):
        goal = goals[level]
        # Small enough that this goal's whole range is worth a millionth of the last one's optimum (or
        # a cent), large enough that the solver still tells its resolution apart.
        weight = scale * max(1e-6 * abs(best[-1]), 0.01) / max(1.0, _largest(goal, problems))
        resolution = _RESOLUTION[-1] if level == len(goals) - 1 else _RESOLUTION[0]
        foldable = weight * resolution >= 2 * _SOLVER_ABS_GAP
        candidate = _milp(combined + weight * goal, rows, lower, upper, n) if foldable else None
        if candidate is not None and all(
            float(goals[j] @ candidate) <= best[j] + _tolerance(best[j]) for j in range(level)
        ):
            x, combined, scale = candidate, combined + weight * goal, weight
        else:
            for j in range(level):
                rows.append({i: float(v) for i, v in enumerate(goals[j]) if v})
                lower.append(-np.inf)
                upper.append(best[j] + _tolerance(best[j]))
            held = _milp(goal, rows, lower, upper, n)
            if held is None:
                return None
            x, combined, scale = held, goal, 1.0
        best.append(float(goal @ x))
    return x


def _tolerance(best: float) -> float:
    """How far above an optimum a goal still counts as at it: float noise."""
    return max(1e-6, 1e-9 * abs(best))


def _largest(goal: np.ndarray, problems: Sequence[WorkloadProblem]) -> float:
    """The most a goal can sum to over any plan: each workload's largest column once per region it
    may open, and every region and cloud variable."""
    total, start = 0.0, 0
    for p in problems:
        end = start + len(p.columns)
        if end > start:
            opens = max(p.profile.placement.min_regions, len(p.profile.placement.users))
            total += max(0.0, float(goal[start:end].max())) * opens
        start = end
    return total + float(np.clip(goal[start:], 0, None).sum())


@dataclass(frozen=True)
class _FixedCosts:
    """The regions and clouds the columns may open, with what opening each costs per month."""

    regions: dict[str, int]
    """Region key -> position among the region variables."""
    clouds: dict[str, int]
    usd: np.ndarray
    """Fixed USD per region variable, then per cloud variable."""

    @classmethod
    def of(cls, problems: Sequence[WorkloadProblem]) -> _FixedCosts:
        first = problems[0]
        footprint = footprint_of(first.catalog, first.settings.fleet)
        regions = sorted({c.region.key for p in problems for c in p.columns})
        clouds = sorted({c.region.cloud for p in problems for c in p.columns})
        usd = [footprint.region_fixed(key) for key in regions] + [footprint.cloud_fixed(cloud) for cloud in clouds]
        return cls(
            {key: i for i, key in enumerate(regions)},
            {cloud: i for i, cloud in enumerate(clouds)},
            np.array(usd, dtype=float),
        )

    def of_columns(self, columns: Sequence[Column]) -> float:
        """What the regions and clouds these columns open cost per month."""
        regions = {c.region.key for c in columns}
        clouds = {c.region.cloud for c in columns}
        return float(
            sum(self.usd[self.regions[key]] for key in regions)
            + sum(self.usd[len(self.regions) + self.clouds[cloud]] for cloud in clouds)
        )


def fixed_monthly_usd(plans: Sequence[WorkloadPlan]) -> float:
    """What the regions and clouds the plans open cost per month, each once."""
    if not plans:
        return 0.0
    return _FixedCosts.of([p.problem for p in plans]).of_columns([c for p in plans for c in p.columns])


def _single_column(problem: WorkloadProblem) -> bool:
    """One geography and ``min_regions`` 1: with costs non-negative, an optimal plan is one column."""
    return len(problem.profile.placement.users) == 1 and problem.profile.placement.min_regions == 1


def _best_single_column(problem: WorkloadProblem, fixed: _FixedCosts) -> list[list[Column]] | None:
    """The MILP's answer by exhaustive search over single columns: same goals, same order."""
    (user,) = problem.profile.placement.users
    budget = problem.profile.budget.monthly_usd
    limits = [q.limit for q in problem.settings.quotas]
    feasible = [
        c
        for c in problem.columns
        if user.name in c.served and c.monthly_usd <= budget and all(n <= limits[q] for q, n in c.quota_use)
    ]
    if not feasible:
        return None
    carbon = problem.settings.objective == "carbon"

    def goals(c: Column) -> tuple[float, float, float]:
        opened = fixed.of_columns([c])
        return (c.objective + (0.0 if carbon else opened), c.monthly_usd + opened if carbon else 0.0, c.weighted_rtt_ms)

    return [[min(feasible, key=goals)]]


def _constraints(
    problems: Sequence[WorkloadProblem],
    offsets: np.ndarray,
    stack_budget: float | None,
    fixed: _FixedCosts,
    skip_quota: int | None = None,
) -> tuple[list[dict[int, float]], list[float], list[float]]:
    rows: list[dict[int, float]] = []
    lower: list[float] = []
    upper: list[float] = []
    n_columns = int(offsets[-1])
    region_var = {key: n_columns + i for key, i in fixed.regions.items()}
    cloud_var = {cloud: n_columns + len(fixed.regions) + i for cloud, i in fixed.clouds.items()}
    for k, problem in enumerate(problems):
        base = int(offsets[k])
        cols = problem.columns
        for user in problem.profile.placement.users:
            rows.append({base + i: 1.0 for i, c in enumerate(cols) if user.name in c.served})
            lower.append(1)
            upper.append(1)
        # At most one column of the workload per region, and only in an opened region.
        by_region: dict[str, dict[int, float]] = {}
        for i, c in enumerate(cols):
            by_region.setdefault(c.region.key, {})[base + i] = 1.0
        for key, row in by_region.items():
            rows.append({**row, region_var[key]: -1.0})
            lower.append(-np.inf)
            upper.append(0)
        rows.append({base + i: 1.0 for i in range(len(cols))})
        lower.append(problem.profile.placement.min_regions)
        upper.append(np.inf)
        for row in _failover_rows(problem, base):
            rows.append(row)
            lower.append(-np.inf)
            upper.append(0)
        rows.append({base + i: c.monthly_usd for i, c in enumerate(cols)})
        lower.append(-np.inf)
        upper.append(problem.profile.budget.monthly_usd)
    for key, var in region_var.items():  # a region opens its cloud
        rows.append({var: 1.0, cloud_var[key.split(":", 1)[0]]: -1.0})
        lower.append(-np.inf)
        upper.append(0)
    quota_rows: dict[int, dict[int, float]] = {}
    for k, p in enumerate(problems):
        for i, c in enumerate(p.columns):
            for q, n in c.quota_use:
                quota_rows.setdefault(q, {})[int(offsets[k]) + i] = float(n)
    quotas = problems[0].settings.quotas
    for q, row in sorted(quota_rows.items()):
        if q != skip_quota:
            rows.append(row)
            lower.append(-np.inf)
            upper.append(quotas[q].limit)
    if stack_budget is not None:
        whole = {int(offsets[k]) + i: c.monthly_usd for k, p in enumerate(problems) for i, c in enumerate(p.columns)}
        whole.update({n_columns + i: float(usd) for i, usd in enumerate(fixed.usd) if usd})
        rows.append(whole)
        lower.append(-np.inf)
        upper.append(stack_budget)
    return rows, lower, upper


def _failover_rows(problem: WorkloadProblem, base: int) -> list[dict[int, float]]:
    """Where the availability target asks for it: whichever column serves a set of geographies, a
    column in another region able to take them all over is chosen too (:mod:`regions.failover`).
    Each geography is served once and a column never takes over geographies it serves, so one row
    per served set states it for every region at once."""
    profile, cols = problem.profile, problem.columns
    if not failover_required(profile):
        return []
    reach = np.array([reach_mask(profile, problem.rtt_ms, c) for c in cols], dtype=np.int64)
    spare = np.array([spare_share(profile, c) for c in cols])
    users = profile.placement.users
    rows = []
    for served in sorted({c.served for c in cols if c.served}, key=sorted):
        bits = sum(1 << i for i, u in enumerate(users) if u.name in served)
        share = sum(u.share for u in users if u.name in served)
        able = np.flatnonzero(((reach & bits) == bits) & (spare >= share - 1e-9))
        row = {base + i: 1.0 for i, c in enumerate(cols) if c.served == served}
        row.update({base + int(j): -1.0 for j in able})
        rows.append(row)
    return rows


def _milp(
    cost: np.ndarray, rows: list[dict[int, float]], lower: list[float], upper: list[float], n: int
) -> np.ndarray | None:
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for row in rows:
        indices.extend(row.keys())
        data.extend(row.values())
        indptr.append(len(indices))
    matrix = csr_array((data, indices, indptr), shape=(len(rows), n))
    result = milp(
        c=cost,
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        # HiGHS presolve pays off on small problems but costs far more than it saves on large
        # set-partitioning ones (0.54 s against 0.07 s on the six-region moderation cascade).
        options={"mip_rel_gap": 0.0, "presolve": n <= _PRESOLVE_MAX_COLUMNS},
    )
    if result.status != 0 or result.x is None:
        return None
    return np.round(result.x)


def _plan(problem: WorkloadProblem, chosen: list[Column]) -> WorkloadPlan:
    rows: list[StagePlacement] = []
    failover = plan_failover(problem.profile, problem.rtt_ms, chosen)
    ordered = sorted(failover.columns, key=lambda c: c.region.key)
    for column in ordered:
        served = tuple(
            (u.name, problem.rtt_ms[(u.name, column.region.key)])
            for u in problem.profile.placement.users
            if u.name in column.served
        )
        rows.extend(StagePlacement(problem.profile.name, column.region, choice, served) for choice in column.choices)
    return WorkloadPlan(problem, tuple(ordered), tuple(rows), failover.notes)
