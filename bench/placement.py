"""Placement time for N workloads over the whole catalog, and how it grows with N and with regions.

Workloads are the served example profiles with seeded variations of traffic, user geographies
(1 to 3 of eight cities), HA region count, capacity type and cloud set, so every run places the
same fleet.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regions.catalog import CLOUDS, load_catalog
from regions.placement import FleetPlan, build_problem, forget_plans, place_fleet, solve_jointly
from regions.quotas import AcceleratorQuota
from regions.settings import PlacementSettings
from workloads.loading import deep_merge, load_profile, parse_profile
from workloads.profiles import WorkloadProfile

EXAMPLES = Path(__file__).resolve().parents[1] / "workloads" / "examples"
CITIES = [  # (name, latitude, longitude): city centres
    ("new-york", 40.71, -74.01), ("chicago", 41.88, -87.63), ("san-francisco", 37.77, -122.42),
    ("london", 51.51, -0.13), ("frankfurt", 50.11, 8.68), ("tokyo", 35.68, 139.69),
    ("singapore", 1.35, 103.82), ("sao-paulo", -23.55, -46.63),
]  # fmt: skip


def fleet(n: int, seed: int = 7, clouds: list[str] | None = None) -> list[WorkloadProfile]:
    rng = random.Random(seed)
    bases = [load_profile(p).model_dump() for p in sorted(EXAMPLES.glob("*.yaml"))]
    bases = [b for b in bases if not (b["model"] and b["model"]["kind"] == "external")]
    profiles = []
    for i in range(n):
        base = rng.choice(bases)
        picked = rng.sample(CITIES, rng.randint(1, 3))
        shares = [rng.uniform(0.2, 1) for _ in picked]
        total = sum(shares)
        users = [
            {"name": name, "latitude": lat, "longitude": lon, "share": s / total}
            for (name, lat, lon), s in zip(picked, shares, strict=True)
        ]
        users[-1]["share"] = 1 - sum(u["share"] for u in users[:-1])
        scale = rng.uniform(0.2, 3)
        steady = base["slo"]["steady_rps"] * scale
        overrides = {
            "name": f"w{i:03d}",
            "slo": {"steady_rps": steady, "peak_rps": max(steady, base["slo"]["peak_rps"] * scale)},
            "placement": {
                "users": users,
                "min_regions": rng.randint(1, 2),
                "clouds": clouds or list(CLOUDS),
            },
            "capacity": {"spot": rng.random() < 0.3},
            "budget": {"monthly_usd": 10_000_000},
            "scaling": {"max_replicas": 10_000},
        }
        data = deep_merge(base, overrides)
        data["placement"]["users"] = users
        data["slo"]["availability"] = 0.999 if data["placement"]["min_regions"] >= 2 else 0.99
        profiles.append(parse_profile(data, source=f"bench w{i:03d}"))
    return profiles


def timed(fn, repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        forget_plans()  # placements are cached per process: time the work, not the lookup
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    catalog = load_catalog()
    settings = PlacementSettings(objective="balanced", carbon_price_usd_per_tonne=100)
    place_fleet(fleet(2), catalog, settings)  # warm caches (catalog shapes)

    workloads = fleet(100)
    seconds = timed(lambda: place_fleet(workloads, catalog, settings))
    problems = [build_problem(p, catalog, settings) for p in workloads]
    columns = sum(len(p.columns) for p in problems)
    options = sum(p.options_considered for p in problems)
    build = timed(lambda: [build_problem(p, catalog, settings) for p in workloads])
    solve = timed(lambda: solve_jointly(problems, None), repeat=1)
    print(f"100 workloads over {len(catalog.offerings)} offerings in {len(catalog.regions)} regions:")
    print(f"  place_fleet {seconds:.3f} s  (columns {build:.3f} s + one exact stack MILP {solve:.3f} s)")
    print(
        f"  {options} options after static filters, {columns} columns; regions' fixed costs shared "
        "(facility location), HiGHS at gap 0"
    )

    constrained(fleet(100), catalog, settings)

    print("\nstack budget sweep, 100 workloads, carbon objective (budget on the whole bill):")
    carbon = replace(settings, objective="carbon")
    best = place_fleet(workloads, catalog, carbon)
    cheapest = place_fleet(workloads, catalog, replace(carbon, objective="cost", known_carbon_only=True))
    levels = [("100% of the carbon optimum", best.monthly_usd), ("99%", best.monthly_usd * 0.99),
              ("95%", best.monthly_usd * 0.95), ("the cheapest plan", cheapest.monthly_usd * (1 + 1e-9))]  # fmt: skip
    for label, budget in levels:
        bound = replace(carbon, stack_budget_monthly_usd=budget)
        start = time.perf_counter()
        plan = place_fleet(workloads, catalog, bound)
        took = time.perf_counter() - start
        print(
            f"  {label:<27} ${budget:>12,.0f}  plan ${plan.monthly_usd:>12,.0f}  "
            f"{plan.monthly_kgco2 or 0:>8,.0f} kgCO2  {took:.2f} s"
        )

    print("\nscaling with workloads (balanced objective):")
    base = None
    for n in (10, 25, 50, 100, 1000):
        t = timed(lambda n=n: place_fleet(fleet(n), catalog, settings), repeat=1 if n > 100 else 3)
        base = base or t / 10
        print(
            f"  {n:>4} workloads  {t:.3f} s   per workload {t / n * 1000:.1f} ms   "
            f"ratio to the 10-workload rate {t / n / base:.2f}"
        )

    print("\nscaling with regions (clouds allowed):")
    for clouds in (["aws"], ["aws", "gcp"], ["aws", "gcp", "azure"]):
        regions = sum(1 for r in catalog.regions.values() if r.cloud in clouds)
        t = timed(lambda c=clouds: place_fleet(fleet(50, clouds=c), catalog, settings))
        print(
            f"  {'+'.join(clouds):<14} {regions:>3} regions  50 workloads {t:.3f} s  "
            f"per workload-region {t / 50 / regions * 1e6:.0f} us"
        )


def accelerators(plan: FleetPlan) -> dict[tuple[str, str], int]:
    """Accelerators at max nodes per (region key, accelerator): what a quota counts."""
    used: dict[tuple[str, str], int] = {}
    for column in (c for w in plan.workloads for c in w.columns):
        for choice in column.choices:
            key = (column.region.key, choice.option.offering.accelerator)
            used[key] = used.get(key, 0) + choice.nodes_max * choice.option.offering.accelerator_count
    return used


def constrained(workloads: list[WorkloadProfile], catalog, settings: PlacementSettings) -> None:
    """Fixed costs, quotas that bind (70 % of what the free optimum runs on its five largest
    region-accelerator pairs) and a stack budget halfway between the cheapest plan and the optimum
    under those quotas: each solved exactly (HiGHS at gap 0)."""
    n = len(workloads)
    free = place_fleet(workloads, catalog, settings)
    largest = sorted(accelerators(free).items(), key=lambda kv: -kv[1])[:5]
    quotas = tuple(AcceleratorQuota(region, chip, int(used * 0.7)) for (region, chip), used in largest)
    limited = replace(settings, quotas=quotas)
    forget_plans()
    start = time.perf_counter()
    optimum = place_fleet(workloads, catalog, limited)
    with_quotas = time.perf_counter() - start
    cheapest = place_fleet(workloads, catalog, replace(limited, objective="cost", known_carbon_only=True))
    budget = (cheapest.monthly_usd + optimum.monthly_usd) / 2
    bound = replace(limited, stack_budget_monthly_usd=budget)
    forget_plans()
    start = time.perf_counter()
    plan = place_fleet(workloads, catalog, bound)
    with_budget = time.perf_counter() - start
    used = accelerators(plan)
    print(f"\n{n} workloads with fixed costs, {len(quotas)} binding quotas and a binding stack budget:")
    for q in quotas:
        print(
            f"  quota {q.region:<22} {q.accelerator:<12} {q.limit:>6}  "
            f"plan uses {used.get((q.region, q.accelerator), 0):>6}"
        )
    print(
        f"  free optimum ${free.monthly_usd:,.0f}; under the quotas ${optimum.monthly_usd:,.0f} in {with_quotas:.2f} s"
    )
    print(
        f"  budget ${budget:,.0f} (halfway from the cheapest ${cheapest.monthly_usd:,.0f}): plan "
        f"${plan.monthly_usd:,.0f} in {with_budget:.2f} s"
    )


if __name__ == "__main__":
    main()
