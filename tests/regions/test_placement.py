"""Placement: optimal (against exhaustive search), each constraint binding in turn, objectives."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from regions.catalog import load_catalog
from regions.footprint import footprint_of
from regions.geo import great_circle_km
from regions.milp import fixed_monthly_usd, solve_jointly
from regions.placement import PlacementError, build_problem, place_fleet, solve_workload
from regions.pricing import HOURS_PER_MONTH
from regions.quotas import AcceleratorQuota
from regions.settings import PlacementSettings, carbon_price
from tests.helpers import offering, profile, region, spec, tiny_catalog
from workloads.loading import load_profile
from workloads.profiles import CascadeStage, MeasuredModel, weights_gb

EAST = region("aws", "east", 40.7, -74.0, 400.0, "US")
WEST = region("aws", "west", 37.8, -122.4, 300.0, "US")
EU = region("gcp", "eu", 50.1, 8.7, 50.0, "DE")
SMALL = tiny_catalog(
    [EAST, WEST, EU],
    [
        offering("aws", "east", "l4.east", "L4", 1, 1.00, spot=0.40),
        offering("aws", "west", "l4.west", "L4", 1, 1.20),
        offering("gcp", "eu", "l4.eu", "L4", 1, 0.90),
    ],
    [spec("L4")],
)
COST = PlacementSettings(objective="cost")


def _only(plan):
    (row,) = plan.rows
    return row


def _place(prof, catalog=SMALL, settings_=COST):
    return place_fleet([prof], catalog, settings_).workloads[0]


# --- the "done when" check on the real catalog -------------------------------------------


def _whole(catalog, o):
    """One node of ``o`` all in: its price, what it adds, and its region and cloud opened."""
    footprint = footprint_of(catalog, COST.fleet)
    key = f"{o.cloud}:{o.region}"
    opened = footprint.region_fixed(key) + footprint.cloud_fixed(o.cloud)
    return o.usd_per_hour * HOURS_PER_MONTH + footprint.per_node(key) + opened


def _cheapest_l4_row(catalog, countries=None):
    rows = [
        o
        for o in catalog.offerings
        if o.accelerator == "L4"
        and (countries is None or catalog.regions[f"{o.cloud}:{o.region}"].country_code in countries)
    ]
    return min(rows, key=lambda o: _whole(catalog, o))


@pytest.mark.parametrize("countries", [None, ["DE"], ["JP"]], ids=["anywhere", "germany", "japan"])
def test_cost_objective_gives_a_single_accelerator_request_the_cheapest_catalog_row(countries):
    catalog = load_catalog()
    request = profile(
        slo={"p95_latency_ms": 5000, "steady_rps": 5, "peak_rps": 5},
        compliance={"data_residency": countries or []},
    )
    row = _only(_place(request, catalog))
    expected = _cheapest_l4_row(catalog, countries)
    # Equally cheap regions tie on cost; the nearest wins among them.
    assert _whole(catalog, row.choice.option.offering) == pytest.approx(_whole(catalog, expected))
    assert row.choice.option.usd_per_node_hour == row.choice.option.offering.usd_per_hour
    assert row.choice.nodes_desired == 1
    assert row.choice.option.offering.accelerator == "L4"


# --- each constraint binding in turn ------------------------------------------------------


def test_unconstrained_takes_the_cheapest_region():
    assert _only(_place(profile(slo={"p95_latency_ms": 5000}))).region.code == "eu"


def test_a_network_budget_per_geography_binds():
    # Unconstrained, New York's users are served from the cheap EU region (RTT well within 5 s).
    assert _only(_place(profile(slo={"p95_latency_ms": 5000}))).region.code == "eu"
    near = {"name": "east", "latitude": 40.7, "longitude": -74.0, "share": 1.0, "max_rtt_ms": 60}
    row = _only(_place(profile(slo={"p95_latency_ms": 5000}, placement={"min_regions": 1, "users": [near]})))
    assert row.region.code == "east"  # the EU is over 60 ms away; the west coast too


def test_residency_binds():
    row = _only(_place(profile(slo={"p95_latency_ms": 5000}, compliance={"data_residency": ["US"]})))
    assert row.region.code == "east"


def test_hipaa_clouds_bind():
    hipaa = profile(slo={"p95_latency_ms": 5000}, compliance={"hipaa": True, "data_residency": ["US", "DE"]})
    assert _only(_place(hipaa)).region.code == "eu"
    restricted = PlacementSettings(objective="cost", hipaa_clouds=("aws",))
    assert _only(_place(hipaa, settings_=restricted)).region.code == "east"


def test_carbon_cap_binds():
    row = _only(
        _place(
            profile(
                slo={"p95_latency_ms": 5000}, compliance={"data_residency": ["US"]}, carbon={"max_gco2_per_kwh": 350}
            )
        )
    )
    assert row.region.code == "west"


def test_latency_binds():
    # Users in San Francisco, 50 ms of service time, 80 ms p95: east is 81 ms away, so only west qualifies.
    users = [{"name": "sf", "latitude": 37.77, "longitude": -122.42, "share": 1.0}]
    row = _only(_place(profile(slo={"p95_latency_ms": 80}, placement={"users": users})))
    assert row.region.code == "west"
    assert row.served[0][1] + row.choice.option.point.service_ms <= 80


def test_min_regions_binds():
    plan = _place(profile(slo={"p95_latency_ms": 5000}, placement={"min_regions": 2}))
    assert {r.region.code for r in plan.rows} == {"eu", "east"}


def test_spot_is_used_only_when_allowed():
    us_only = {"compliance": {"data_residency": ["US"]}, "slo": {"p95_latency_ms": 5000}}
    assert _only(_place(profile(**us_only))).choice.option.capacity == "on-demand"
    spot = _only(_place(profile(**us_only, capacity={"spot": True})))
    assert (spot.choice.option.capacity, spot.choice.option.usd_per_node_hour) == ("spot", 0.40)
    only_spot = _only(_place(profile(**us_only, capacity={"spot": True, "on_demand": False})))
    assert only_spot.region.code == "east"


def test_denied_regions_and_clouds_bind():
    assert (
        _only(_place(profile(slo={"p95_latency_ms": 5000}, placement={"denied_regions": ["gcp:eu"]}))).region.code
        == "east"
    )
    assert _only(_place(profile(slo={"p95_latency_ms": 5000}, placement={"clouds": ["aws"]}))).region.code == "east"
    allowed = profile(slo={"p95_latency_ms": 5000}, placement={"allowed_regions": ["west"]})
    assert _only(_place(allowed)).region.code == "west"


def test_node_counts_follow_traffic_and_replica_bounds():
    # 10 rps per replica: steady 25 -> 3 nodes, peak 60 -> 6 nodes; min_replicas 2 -> 2 nodes.
    row = _only(_place(profile(slo={"p95_latency_ms": 5000}, scaling={"min_replicas": 2})))
    assert (row.choice.nodes_min, row.choice.nodes_desired, row.choice.nodes_max) == (2, 3, 6)
    assert row.choice.monthly_usd == pytest.approx(3 * 0.90 * HOURS_PER_MONTH)


def test_stack_budget_trades_carbon_for_cost_when_it_binds():
    balanced = PlacementSettings(objective="balanced", carbon_price_usd_per_tonne=30_000)
    a = profile(name="a", slo={"p95_latency_ms": 5000}, compliance={"data_residency": ["US"]})
    b = profile(name="b", slo={"p95_latency_ms": 5000}, compliance={"data_residency": ["US"]})
    free = place_fleet([a, b], SMALL, balanced)
    assert {r.region.code for w in free.workloads for r in w.rows} == {"west"}
    budget = free.monthly_usd - 1  # west is cleaner but dearer than east
    bound = place_fleet(
        [a, b],
        SMALL,
        PlacementSettings(objective="balanced", carbon_price_usd_per_tonne=30_000, stack_budget_monthly_usd=budget),
    )
    assert bound.monthly_usd <= budget
    # Both move to east, the dearer-in-carbon region: one region's fixed cost is cheaper than two.
    assert sorted(r.region.code for w in bound.workloads for r in w.rows) == ["east", "east"]


# --- objectives ---------------------------------------------------------------------------


def test_objectives_choose_between_cost_and_carbon():
    us = profile(slo={"p95_latency_ms": 5000}, compliance={"data_residency": ["US"]})
    assert _only(_place(us, settings_=PlacementSettings(objective="cost"))).region.code == "east"
    assert _only(_place(us, settings_=PlacementSettings(objective="carbon"))).region.code == "west"
    # Balanced: east costs 0.20 x 3 x 730 = $438 less; west saves kgCO2 = 3 nodes x 0.072 kW x PUE 1.135
    # x 730 h x 100 g/kWh / 1000 = 17.9 kg. Carbon wins only above $438 / 0.0179 t = $24.5k per tonne.
    cheap_carbon = PlacementSettings(objective="balanced", carbon_price_usd_per_tonne=20_000)
    dear_carbon = PlacementSettings(objective="balanced", carbon_price_usd_per_tonne=30_000)
    assert _only(_place(us, settings_=cheap_carbon)).region.code == "east"
    assert _only(_place(us, settings_=dear_carbon)).region.code == "west"


def test_carbon_figure_matches_the_formula():
    row = _only(_place(profile(slo={"p95_latency_ms": 5000})))
    # 3 nodes x 1 L4 x 72 W x utilisation 1.0 x PUE 1.1 (GCP) x 730 h x 50 g/kWh.
    assert row.choice.monthly_kgco2 == pytest.approx(3 * 0.072 * 1.0 * 1.1 * 730 * 50 / 1000)


def test_unknown_power_is_excluded_only_when_carbon_counts():
    catalog = tiny_catalog(
        [EAST], [offering("aws", "east", "inf.east", "Inferentia2", 1, 0.5)], [spec("Inferentia2", tdp=None)]
    )
    request = profile(
        slo={"p95_latency_ms": 5000},
        model={"throughput": [{"accelerator": "Inferentia2", "requests_per_second": 10, "p95_latency_ms": 50}]},
    )
    assert _only(_place(request, catalog)).choice.monthly_kgco2 is None
    with pytest.raises(PlacementError):
        _place(request, catalog, PlacementSettings(objective="carbon"))
    assumed = PlacementSettings(objective="carbon", assumed_power_watts={"Inferentia2": 100.0})
    assert _only(_place(request, catalog, assumed)).choice.monthly_kgco2 == pytest.approx(
        3 * 0.1 * 1.135 * 730 * 400 / 1000
    )


# --- optimality against exhaustive search --------------------------------------------------


def _workload_candidates(prof, catalog, settings_, footprint):
    """Every feasible way to place one workload, by enumeration: (opened regions, usd, kg, use), where
    usd counts nodes with what each node adds and the model's storage, but not the regions' fixed
    costs, and use is the accelerators at max nodes per quota'd (region, accelerator), where HA
    takers count the max nodes the failures sent to them need."""
    quotas = {(q.region, q.accelerator) for q in settings_.quotas}
    users = prof.placement.users
    cap = prof.carbon.max_gco2_per_kwh
    regions = [r for r in catalog.regions.values() if cap is None or r.grid_gco2_per_kwh <= cap]
    rtt = {
        (u.name, r.key): settings_.latency.rtt_ms(great_circle_km(u.latitude, u.longitude, r.latitude, r.longitude))
        for u in users
        for r in regions
    }
    slo, scaling = prof.slo, prof.scaling
    ha = prof.slo.availability >= 0.999

    def stage_options(stage, r, weight, budget_ms):
        """(usd, kg, service) of every way to run ``stage`` in ``r`` for ``weight`` of the traffic."""
        found = []
        for measured in stage.model.throughput:
            for o in catalog.offerings:
                if f"{o.cloud}:{o.region}" != r.key or o.accelerator != measured.accelerator:
                    continue
                per_node = o.accelerator_count // measured.accelerators_per_replica
                if per_node < 1 or measured.p95_latency_ms > budget_ms:
                    continue
                peak = stage.share * slo.peak_rps * weight
                if math.ceil(peak / measured.requests_per_second - 1e-9) > scaling.max_replicas:
                    continue
                steady = stage.share * slo.steady_rps * weight
                # Replicas first, then nodes: any steady traffic needs a whole replica.
                nodes = max(
                    math.ceil(scaling.min_replicas / per_node),
                    math.ceil(math.ceil(steady / measured.requests_per_second - 1e-9) / per_node),
                )
                peak_nodes = math.ceil(
                    max(math.ceil(peak / measured.requests_per_second - 1e-9), scaling.min_replicas) / per_node
                )
                shape = (o.accelerator, o.accelerator_count, max(nodes, peak_nodes, 1), per_node)
                kw = o.accelerator_count * catalog.specs[o.accelerator].tdp_watts / 1000
                kg = nodes * kw * r.pue * HOURS_PER_MONTH * r.grid_gco2_per_kwh / 1000
                extra = footprint.per_node(r.key)
                for capacity, hourly in (("on-demand", o.usd_per_hour), ("spot", o.spot_usd_per_hour)):
                    allowed = prof.capacity.on_demand if capacity == "on-demand" else prof.capacity.spot
                    if allowed and hourly is not None:
                        found.append(
                            (
                                nodes * (hourly * HOURS_PER_MONTH + extra),
                                kg,
                                measured.p95_latency_ms,
                                measured.requests_per_second,
                                shape,
                            )
                        )
        return found

    def region_options(r, served):
        """(usd, kg, service, replica rps per stage) of every way to run all stages in ``r`` serving
        ``served`` within the SLO."""
        budget_ms = slo.p95_latency_ms - (
            max(rtt[(u.name, r.key)] for u in served) if served else min(rtt[(u.name, r.key)] for u in users)
        )
        weight = sum(u.share for u in served)
        per_stage = [stage_options(stage, r, weight, budget_ms) for stage in prof.stages]
        storage = sum(footprint.per_stage(r.key, weights_gb(stage.model)) for stage in prof.stages)
        return [
            (sum(c[0] for c in combo) + storage, sum(c[1] for c in combo), sum(c[2] for c in combo),
             tuple(c[3] for c in combo), tuple(c[4] for c in combo))
            for combo in itertools.product(*per_stage)
            if sum(c[2] for c in combo) <= budget_ms
        ]  # fmt: skip

    def takes_over(r, own, option, moved):
        """Whether ``r`` running ``option`` for ``own`` users can also serve ``moved`` at peak."""
        for u in moved:
            if u.max_rtt_ms is not None and rtt[(u.name, r.key)] > u.max_rtt_ms:
                return False
            if rtt[(u.name, r.key)] + option[2] > slo.p95_latency_ms + 1e-9:
                return False
        load = sum(u.share for u in own) + sum(u.share for u in moved)
        return all(
            math.ceil(stage.share * slo.peak_rps * load / rps - 1e-9) <= scaling.max_replicas
            for stage, rps in zip(prof.stages, option[3], strict=True)
        )

    def max_nodes(r, own, option, moved):
        """Accelerators at max nodes per quota'd (region, accelerator) of ``r`` when it also takes ``moved``."""
        load = sum(u.share for u in own) + sum(u.share for u in moved)
        use = {}
        for stage, rps, (accelerator, chips, nodes_max, per_node) in zip(
            prof.stages, option[3], option[4], strict=True
        ):
            replicas = math.ceil(stage.share * slo.peak_rps * load / rps - 1e-9)
            nodes = max(nodes_max, math.ceil(replicas / per_node - 1e-9))
            if (r.key, accelerator) in quotas:
                use[(r.key, accelerator)] = use.get((r.key, accelerator), 0) + nodes * chips
        return use

    def uses(open_regions, served, picked):
        """Every quota use a plan of these regions can have: one per choice of taker for each
        failure (HA), the largest load a taker is sent counting; empty when a failure has no taker."""
        failing = [i for i in open_regions if served[i]] if ha else []
        takers = [
            [j for j in open_regions if j != i and takes_over(regions[j], served[j], picked[j], served[i])]
            for i in failing
        ]
        found = set()
        for pick in itertools.product(*takers):
            sent = {j: [] for j in open_regions}
            for i, j in zip(failing, pick, strict=True):
                sent[j].append(served[i])
            total = {}
            for j in open_regions:
                for moved in sent[j] or [[]]:
                    for key, n in max_nodes(regions[j], served[j], picked[j], moved).items():
                        total[(j, key)] = max(total.get((j, key), 0), n)
            use = {}
            for (_, key), n in total.items():
                use[key] = use.get(key, 0) + n
            found.add(frozenset(use.items()))
        return found

    found = []
    for assignment in itertools.product(range(len(regions)), repeat=len(users)):
        used = set(assignment)
        others = [i for i in range(len(regions)) if i not in used]
        for k in range(len(others) + 1):
            for extra in itertools.combinations(others, k):
                open_regions = sorted(used | set(extra))
                if len(open_regions) < prof.placement.min_regions:
                    continue
                served = {i: [u for u, a in zip(users, assignment, strict=True) if a == i] for i in open_regions}
                choices = [region_options(regions[i], served[i]) for i in open_regions]
                keys = frozenset(regions[i].key for i in open_regions)
                for combo in itertools.product(*choices):
                    picked = dict(zip(open_regions, combo, strict=True))
                    usd = sum(c[0] for c in combo)
                    if usd > prof.budget.monthly_usd:
                        continue
                    # High availability: whatever region fails, another opened one takes all its users
                    # (no way to pick the takers: no use).
                    for use in uses(open_regions, served, picked):
                        found.append((keys, usd, sum(c[1] for c in combo), dict(use)))
    # Per set of opened regions only the (usd, kg, use) Pareto front can be optimal, whatever the goal.
    front = []
    for keys, usd, kg, use in sorted(found, key=lambda c: (sorted(c[0]), c[1], c[2], sorted(c[3].items()))):
        if not any(
            k == keys and u <= usd and g <= kg and all(n.get(q, 0) <= m for q, m in use.items()) and set(n) <= set(use)
            for k, u, g, n in front
        ):
            front.append((keys, usd, kg, use))
    return front


BUDGET_TOLERANCE = 1e-6
"""The solver holds rows to its feasibility tolerance (1e-7 after scaling): a plan a millionth over
the budget may count as the budget met."""


def _brute_force_stack(profiles, catalog, settings_, stack_budget=None, slack=BUDGET_TOLERANCE):
    """The stack's optimum by enumeration: each workload's candidates combined, each opened region's
    fixed cost and each used cloud's paid once; goals as the planner's (USD, or kg then USD). Plans
    up to ``slack`` (relative) over ``stack_budget`` count as within it."""
    footprint = footprint_of(catalog, settings_.fleet)
    per_workload = [_workload_candidates(p, catalog, settings_, footprint) for p in profiles]
    best = None
    limits = {(q.region, q.accelerator): q.limit for q in settings_.quotas}
    for combo in itertools.product(*per_workload):
        if any(sum(c[3].get(q, 0) for c in combo) > limit for q, limit in limits.items()):
            continue
        combo = [c[:3] for c in combo]
        opened = frozenset().union(*(keys for keys, _, _ in combo))
        fixed = sum(footprint.region_fixed(key) for key in opened)
        fixed += sum(footprint.cloud_fixed(cloud) for cloud in {key.split(":")[0] for key in opened})
        usd = sum(u for _, u, _ in combo) + fixed
        if stack_budget is not None and usd > stack_budget * (1 + slack):
            continue
        kg = sum(g for _, _, g in combo)
        carbon_usd = sum(carbon_price(p, settings_) * g / 1000 for p, (_, _, g) in zip(profiles, combo, strict=True))
        key = {"cost": (usd,), "carbon": (kg, usd), "balanced": (usd + carbon_usd,)}[settings_.objective]
        best = key if best is None or key < best else best
    return best


def _measured(draw):
    """A measured model with a throughput entry on one or both test accelerators."""
    accelerators = draw(st.sampled_from([["L4"], ["T4"], ["L4", "T4"], ["L4", "T4"]]))
    return {
        "kind": "measured",
        "name": "m",
        "throughput": [
            {
                "accelerator": accelerator,
                "accelerators_per_replica": draw(st.sampled_from([1, 2])),
                "requests_per_second": draw(st.floats(1, 50)),
                "p95_latency_ms": draw(st.floats(5, 150)),
            }
            for accelerator in accelerators
        ],
    }


@st.composite
def _instances(draw, cascade=False, ha=False):
    n_regions = draw(st.integers(1, 3))
    regions, offerings = [], []
    for i in range(n_regions):
        r = region(
            draw(st.sampled_from(["aws", "gcp", "azure"])),
            f"r{i}",
            draw(st.floats(-60, 60)),
            draw(st.floats(-179, 179)),
            draw(st.floats(10, 800)),
        )
        regions.append(r)
        # Each region sells both test accelerators, sometimes in several shapes.
        for j, accelerator in enumerate(["L4", "T4", *draw(st.lists(st.sampled_from(["L4", "T4"]), max_size=1))]):
            price = draw(st.floats(0.5, 20))
            spot = draw(st.one_of(st.none(), st.floats(0.1, 1.0).map(lambda f, p=price: round(p * f, 4))))
            count = draw(st.sampled_from([1, 2, 4]))
            offerings.append(offering(r.cloud, r.code, f"t{i}{j}", accelerator, count, price, spot))

    prof = _drawn_profile(draw, regions, cascade, ha=ha)
    objective = draw(st.sampled_from(["cost", "carbon", "balanced"]))
    price = draw(st.sampled_from([0.0, 200.0, 5_000.0]))
    # Quotas on some (region, accelerator) pairs, small enough to bind on a few drawn stacks.
    quotas = {
        (r.key, accelerator): draw(st.sampled_from([0, 2, 4, 8, 16, 32, 64]))
        for r in regions
        for accelerator in ("L4", "T4")
        if draw(st.integers(0, 3)) == 0
    }
    settings_ = PlacementSettings(
        objective=objective,
        carbon_price_usd_per_tonne=price,
        quotas=tuple(AcceleratorQuota(key, accelerator, limit) for (key, accelerator), limit in quotas.items()),
    )
    return prof, tiny_catalog(regions, offerings, [spec("L4"), spec("T4", tdp=70.0)]), settings_


def _drawn_profile(draw, regions, cascade=False, name="svc", ha=False):
    """A workload over the drawn regions: one or two user geographies, HA, spot, budgets, caps."""

    def user(name):
        """Mostly near one of the regions (nearby users are the common case), sometimes anywhere."""
        if draw(st.floats(0, 1)) < 0.8:
            near = draw(st.sampled_from(regions))
            return {
                "name": name,
                "latitude": max(-90.0, min(90.0, near.latitude + draw(st.floats(-5, 5)))),
                "longitude": max(-180.0, min(180.0, near.longitude + draw(st.floats(-5, 5)))),
            }
        return {"name": name, "latitude": draw(st.floats(-60, 60)), "longitude": draw(st.floats(-179, 179))}

    share = draw(st.floats(0.1, 0.9))
    users = [{**user("u0"), "share": 1.0}]
    if draw(st.booleans()):
        users = [{**users[0], "share": share}, {**user("u1"), "share": 1 - share}]
    min_replicas = draw(st.integers(0, 2))
    steady = draw(st.floats(0, 100))
    min_regions = 2 if ha else draw(st.integers(1, 2))
    # Two regions at 99.9 %: losing either, the other must take its users' peak within the SLO.
    availability = 0.999 if ha else draw(st.sampled_from([0.99, 0.999])) if min_regions == 2 else 0.99
    prof = profile(
        slo={
            "p95_latency_ms": draw(st.floats(50, 400)) * (2 if cascade else 1),
            "steady_rps": steady,
            "peak_rps": steady * draw(st.floats(1, 5)) + 1,
            "availability": availability,
        },
        placement={"users": users, "min_regions": min_regions},
        scaling={
            "min_replicas": min_replicas,
            "scale_to_zero": min_replicas == 0,
            "max_replicas": draw(st.integers(max(1, min_replicas), 60)),
        },
        capacity={"spot": draw(st.booleans())},
        budget={"monthly_usd": draw(st.sampled_from([1e9, 1e9, 5_000.0, 20_000.0]))},
        carbon={"max_gco2_per_kwh": draw(st.sampled_from([None, 400.0]))},
    )
    model = MeasuredModel.model_validate(_measured(draw))
    if cascade:
        stages = [
            CascadeStage(name="fast", share=1.0, model=model),
            CascadeStage(
                name="accurate", share=draw(st.floats(0.05, 1.0)), model=MeasuredModel.model_validate(_measured(draw))
            ),
        ]
        prof = prof.model_copy(update={"model": None, "cascade": stages})
    else:
        prof = prof.model_copy(update={"model": model})
    return prof.model_copy(update={"name": name})


def _stack_goals(plans, settings_):
    """The planner's goals for its plans, as the brute force states them."""
    fixed = fixed_monthly_usd(plans)
    usd = sum(p.monthly_usd for p in plans) + fixed
    kg = sum(p.monthly_kgco2 for p in plans)
    objective = sum(p.objective for p in plans) + fixed
    return {"cost": (usd,), "carbon": (kg, usd), "balanced": (objective,)}[settings_.objective]


def _check_against_brute_force(instance):
    prof, catalog, settings_ = instance
    expected = _brute_force_stack([prof], catalog, settings_)
    plan = solve_workload(build_problem(prof, catalog, settings_))
    if expected is None:
        assert plan is None
        return
    assert plan is not None
    assert _stack_goals([plan], settings_) == pytest.approx(expected, rel=1e-6, abs=1e-6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances())
def test_milp_matches_exhaustive_search(instance):
    _check_against_brute_force(instance)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances(cascade=True))
def test_cascade_milp_matches_exhaustive_search(instance):
    _check_against_brute_force(instance)


@st.composite
def _stacks(draw):
    """Two workloads on one drawn catalog, and where the stack budget lies between the cheapest plan's
    bill (0) and the objective's optimum's (1); None: no budget."""
    first, catalog, settings_ = draw(_instances())
    second = _drawn_profile(draw, list(catalog.regions.values()), name="other")
    share = draw(st.sampled_from([None, 0.0, 0.5, 0.9, 1.0]))
    return [first, second], catalog, settings_, share


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_stacks())
def test_the_stack_milp_matches_exhaustive_search_with_shared_fixed_costs_and_a_binding_budget(stack):
    """Workloads share each opened region's fixed cost; the budget holds the whole bill and, where it
    binds, trades the objective (carbon, balanced) for cost."""
    profiles, catalog, settings_, share = stack
    free = _brute_force_stack(profiles, catalog, settings_)
    assume(free is not None)  # an infeasible pair is the single-workload tests' business
    budget = None
    if share is not None:
        (cheapest,) = _brute_force_stack(profiles, catalog, replace(settings_, objective="cost"))
        optimum_usd = free[-1] if settings_.objective != "balanced" else _usd_of_optimum(profiles, catalog, settings_)
        budget = cheapest + share * (optimum_usd - cheapest)  # from the cheapest plan to the optimum's bill
    expected = _brute_force_stack(profiles, catalog, settings_, budget)
    plans = solve_jointly([build_problem(p, catalog, settings_) for p in profiles], budget)
    if expected is None:
        assert plans is None
        return
    assert plans is not None
    goals = _stack_goals(plans, settings_)
    if budget is None:
        assert goals == pytest.approx(expected, rel=1e-6, abs=1e-6)
        return
    assert sum(p.monthly_usd for p in plans) + fixed_monthly_usd(plans) <= budget * (1 + BUDGET_TOLERANCE)
    # Plans whose bills differ by less than the tolerance may fall either side of the budget: the
    # planner's goals lie between the optimum within the budget exactly and within its tolerance.
    assert _no_worse(expected, goals)
    exact = _brute_force_stack(profiles, catalog, settings_, budget, slack=0.0)
    assert exact is None or _no_worse(goals, exact)


@st.composite
def _quota_stacks(draw):
    """Two workloads (the first at 99.9 % across two regions half the time) and a quota on one
    (region, accelerator) the unconstrained optimum uses, set at a share of what it uses there."""
    ha = draw(st.booleans())
    first, catalog, settings_ = draw(_instances(ha=ha))
    second = _drawn_profile(draw, list(catalog.regions.values()), name="other")
    free = replace(settings_, quotas=())
    plans = solve_jointly([build_problem(p, catalog, free) for p in (first, second)], None)
    assume(plans is not None)
    used = {}
    for choice in (c for p in plans for c in p.columns for c in c.choices):
        key = (f"{choice.option.offering.cloud}:{choice.option.offering.region}", choice.option.offering.accelerator)
        used[key] = used.get(key, 0) + choice.nodes_max * choice.option.offering.accelerator_count
    key = draw(st.sampled_from(sorted(used)))
    limit = int(used[key] * draw(st.sampled_from([0.0, 0.5, 0.9])))
    return [first, second], catalog, replace(free, quotas=(AcceleratorQuota(*key, limit),))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_quota_stacks())
def test_a_binding_quota_trades_the_objective_for_accelerators_it_may_launch(stack):
    """The stack MILP against exhaustive search when a quota caps accelerators the free optimum uses,
    HA takers counting the max nodes a failure sends them; the plan's own max nodes stay within it."""
    profiles, catalog, settings_ = stack
    expected = _brute_force_stack(profiles, catalog, settings_)
    plans = solve_jointly([build_problem(p, catalog, settings_) for p in profiles], None)
    if expected is None:
        assert plans is None
        return
    assert plans is not None
    assert _stack_goals(plans, settings_) == pytest.approx(expected, rel=1e-6, abs=1e-6)
    (quota,) = settings_.quotas
    used = sum(
        c.nodes_max * c.option.offering.accelerator_count
        for p in plans
        for column in p.columns
        for c in column.choices
        if (column.region.key, c.option.offering.accelerator) == (quota.region, quota.accelerator)
    )
    assert used <= quota.limit


def _no_worse(first, second):
    """Whether goals ``first`` are lexicographically at most ``second``, to a millionth."""
    for a, b in zip(first, second, strict=True):
        if a != pytest.approx(b, rel=1e-6, abs=1e-6):
            return a < b
    return True


def _usd_of_optimum(profiles, catalog, settings_):
    """The whole bill of the planner's unconstrained optimum (balanced goals are not in USD)."""
    plans = solve_jointly([build_problem(p, catalog, settings_) for p in profiles], None)
    assert plans is not None
    return sum(p.monthly_usd for p in plans) + fixed_monthly_usd(plans)


def test_free_standbys_are_not_opened(project_root):
    # The dev stack's embeddings: scale to zero, so a standby region costs nothing; it must not be opened.
    dev = load_profile(
        project_root / "workloads" / "examples" / "recommendation-embeddings.yaml",
        {
            "slo": {"steady_rps": 10, "peak_rps": 40, "availability": 0.99},
            "placement": {"min_regions": 1},
            "scaling": {"min_replicas": 0, "scale_to_zero": True},
            "capacity": {"spot": True},
        },
    )
    plan = place_fleet([dev], load_catalog(), PlacementSettings(objective="balanced", carbon_price_usd_per_tonne=100))
    rows = plan.workloads[0].rows
    assert all(row.served for row in rows), [(r.region.key, r.choice.nodes_desired) for r in rows]
