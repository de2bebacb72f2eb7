"""Infeasible placements: each constraint kind is named with its field and nearest relaxation, and no
other constraint is blamed."""

from __future__ import annotations

import math

import pytest

from regions.diagnosis import PlacementError, describe, place_audience, stack_audience
from regions.footprint import footprint_of
from regions.placement import place_fleet
from regions.settings import PlacementSettings
from tests.helpers import offering, profile, region, spec, tiny_catalog
from workloads.profiles import LlmModel

# Users are in New York (BASE_PROFILE); the measured model serves 10 rps per L4 in 50 ms; 25 rps
# steady needs 3 nodes. East is 0 ms away, west 81 ms, eu 122 ms, paris 114 ms.
EAST = region("aws", "east", 40.7, -74.0, 400.0, "US")
WEST = region("aws", "west", 37.8, -122.4, 300.0, "US")
EU = region("gcp", "eu", 50.1, 8.7, 50.0, "DE")
PARIS = region("gcp", "paris", 48.9, 2.35, 60.0, "FR")  # sells nothing
CATALOG = tiny_catalog(
    [EAST, WEST, EU, PARIS],
    [
        offering("aws", "east", "l4.east", "L4", 1, 1.00, spot=0.40),
        offering("aws", "west", "l4.west", "L4", 1, 1.20),
        offering("gcp", "eu", "l4.eu", "L4", 1, 0.90),
    ],
    [spec("L4")],
)
COST = PlacementSettings(objective="cost")
FOOTPRINT = footprint_of(CATALOG, COST.fleet)


def _diagnoses(prof, settings=COST, catalog=CATALOG, others=()):
    with pytest.raises(PlacementError) as exc_info:
        place_fleet([prof, *others], catalog, settings)
    return exc_info.value


def _kinds(error):
    return [d.constraint for d in error.diagnoses]


def test_budget_names_the_cheapest_feasible_figure():
    error = _diagnoses(profile(budget={"monthly_usd": 500}, capacity={"spot": True}))
    (budget,) = error.diagnoses
    assert (budget.constraint, budget.setting, budget.current) == ("budget", "budget.monthly_usd", 500)
    # 3 spot nodes x ($0.40 x 730 h + what each node adds: its root disk); a workload's own budget
    # holds its capacity, not the region's shared fixed costs.
    cheapest = 3 * (0.40 * 730 + FOOTPRINT.per_node("aws:east"))
    assert budget.nearest == math.ceil(cheapest) and cheapest > 876
    assert f"budget.monthly_usd = $500/month is below the cheapest feasible plan, ${cheapest:,.0f}" in str(error)


def test_budget_reports_every_single_relaxation_that_works():
    # On-demand only, $1,000: the budget binds ($1,971 needed), and allowing spot alone also works ($876).
    error = _diagnoses(profile(budget={"monthly_usd": 1000}))
    assert _kinds(error) == ["budget", "capacity"]
    assert error.diagnoses[1].setting == "capacity.spot"
    assert "\n  - or: capacity.spot = false leaves no offering that can serve it; allow spot capacity" in str(error)


def test_stack_budget_names_the_stack_setting_in_each_context():
    a, b = profile(name="a"), profile(name="b")
    error = _diagnoses(a, PlacementSettings(objective="cost", stack_budget_monthly_usd=1), others=[b])
    (stack,) = error.diagnoses
    assert (stack.constraint, stack.setting, stack.stack_wide, stack.workload) == (
        "stack_budget",
        "budget_monthly_usd",
        True,
        None,
    )
    # Two workloads x 3 nodes x ($0.90 x 730 h + each node's extras), and eu's fixed costs once.
    whole = 2 * 3 * (0.90 * 730 + FOOTPRINT.per_node("gcp:eu")) + FOOTPRINT.region_fixed("gcp:eu")
    whole += FOOTPRINT.cloud_fixed("gcp")
    assert stack.nearest == math.ceil(whole) and whole > 3942 + FOOTPRINT.region_fixed("gcp:eu")
    files = {"a": "a.yaml", "b": "b.yaml"}
    place = describe(error, place_audience(files))
    plan = describe(error, stack_audience("dev", files))
    assert place.startswith("stack budget $1/month is below the cheapest plan")
    assert f"Binding constraint: --budget; raise it to at least ${math.ceil(whole):,}/month" in place
    assert "Binding constraint: tensorfleet:budgetMonthlyUsd (in stacks/Pulumi.dev.yaml); raise it" in plan
    for text in (place, plan, str(error)):
        assert "budget.monthly_usd" not in text and "overrides" not in text


def test_latency_names_the_nearest_p95_and_nothing_else():
    error = _diagnoses(profile(slo={"p95_latency_ms": 20}))
    (latency,) = error.diagnoses
    assert (latency.setting, latency.current) == ("slo.p95_latency_ms", 20)
    assert 50 <= latency.nearest <= 51  # the service time in east, where the users are
    assert "slo.p95_latency_ms = 20 ms is unreachable" in str(error)


def test_carbon_cap_names_the_nearest_cap():
    error = _diagnoses(profile(carbon={"max_gco2_per_kwh": 10}))
    (carbon,) = error.diagnoses
    assert (carbon.setting, carbon.current, carbon.nearest) == ("carbon.max_gco2_per_kwh", 10, 50)
    assert "raise it to 50 gCO2/kWh, the nearest feasible cap" in str(error)


def test_carbon_cap_search_finds_the_lowest_cap_among_many():
    # Regions at 55, 60, ..., 150 gCO2/kWh; only those at 120 or more sell the accelerator.
    regions = [region("gcp", f"r{g}", 40.7, -74.0, float(g)) for g in range(55, 151, 5)]
    offerings = [offering("gcp", r.code, f"l4.{r.code}", "L4", 1, 1.0) for r in regions if r.grid_gco2_per_kwh >= 120]
    catalog = tiny_catalog(regions, offerings, [spec("L4")])
    (carbon,) = _diagnoses(profile(carbon={"max_gco2_per_kwh": 50}), catalog=catalog).diagnoses
    assert carbon.nearest == 120


@pytest.mark.parametrize(
    ("residency", "fact"),
    [
        pytest.param(["NO"], "no region of the allowed clouds lies there", id="no-region-in-the-country"),
        pytest.param(["FR"], "its regions (gcp:paris) cannot serve it", id="only-regions-without-offerings"),
        pytest.param(["gcp:paris"], "its regions (gcp:paris) cannot serve it", id="a-region-without-offerings"),
    ],
)
def test_residency_that_leaves_no_workable_region_is_blamed_not_the_model(residency, fact):
    error = _diagnoses(profile(compliance={"data_residency": residency}))
    assert _kinds(error) == ["residency"]
    (diagnosis,) = error.diagnoses
    assert diagnosis.setting == "compliance.data_residency"
    assert diagnosis.nearest == (*residency, "DE")  # the cheapest region without the restriction is eu
    assert fact in str(error) and "add DE" in str(error)
    assert "GB of weights" not in str(error) and "no single constraint" not in str(error)


def test_hipaa_residency_is_diagnosed_with_a_compliance_caveat():
    error = _diagnoses(profile(compliance={"hipaa": True, "data_residency": ["FR"]}))
    (diagnosis,) = error.diagnoses
    assert diagnosis.constraint == "residency"
    assert "add DE, if the compliance obligations of its protected health information allow" in str(error)


def test_a_residency_group_says_what_it_expanded_to():
    us_only = tiny_catalog([EAST, PARIS], [offering("aws", "east", "l4.east", "L4", 1, 1.00)], [spec("L4")])
    error = _diagnoses(profile(compliance={"data_residency": ["EU"]}), catalog=us_only)
    assert _kinds(error) == ["residency"]
    assert "covers EU (27 countries: AT, BE, BG, CY, CZ, DE, DK, EE, ES, FI, FR, GR, HR, HU, IE, IT" in str(error)


def test_allowed_regions_name_the_regions_to_add():
    error = _diagnoses(profile(placement={"allowed_regions": ["paris"]}))
    (allowed,) = error.diagnoses
    assert (allowed.constraint, allowed.setting) == ("allowed_regions", "placement.allowed_regions")
    assert allowed.nearest == ("paris", "gcp:eu")
    assert "its regions (gcp:paris) cannot serve it within the other constraints; add gcp:eu" in str(error)


def test_denied_regions_name_the_entry_to_drop():
    error = _diagnoses(profile(placement={"denied_regions": ["east", "west", "gcp:eu"]}))
    (denied,) = error.diagnoses
    assert (denied.constraint, denied.setting, denied.nearest) == (
        "denied_regions",
        "placement.denied_regions",
        ("east", "west"),
    )
    assert "stop denying gcp:eu" in str(error)


def test_min_regions_counts_what_qualifies():
    error = _diagnoses(profile(placement={"min_regions": 4}))
    assert _kinds(error) == ["min_regions"]
    assert (error.diagnoses[0].current, error.diagnoses[0].nearest) == (4, 3)
    assert "placement.min_regions = 4 cannot be met: at most 3 region(s) qualify; lower it to 3" in str(error)


def test_min_regions_below_two_also_names_the_availability_it_needs():
    one_region = tiny_catalog([EAST], [offering("aws", "east", "l4.east", "L4", 1, 1.00)], [spec("L4")])
    request = profile(slo={"availability": 0.999}, placement={"min_regions": 2})
    error = _diagnoses(request, catalog=one_region)
    assert _kinds(error) == ["min_regions"]
    assert "lower it to 1, with slo.availability below 0.999 (which needs 2)" in str(error)


def test_max_replicas_names_the_replicas_the_peak_needs():
    error = _diagnoses(profile(scaling={"max_replicas": 5}))
    assert _kinds(error) == ["max_replicas"]
    assert "scaling.max_replicas = 5 cannot absorb the peak; raise it to at least 6" in str(error)


def test_capacity_names_the_capacity_type_to_allow():
    error = _diagnoses(profile(capacity={"on_demand": False, "spot": True}, placement={"denied_regions": ["east"]}))
    assert _kinds(error) == ["capacity", "denied_regions"]  # west and eu sell no spot
    assert error.diagnoses[0].setting == "capacity.on_demand"


def test_clouds_name_the_cloud_to_allow():
    error = _diagnoses(profile(placement={"clouds": ["azure"]}))
    (clouds,) = error.diagnoses
    assert (clouds.setting, clouds.nearest) == ("placement.clouds", ("azure", "gcp"))


def test_hipaa_clouds_name_the_stack_setting():
    hipaa = profile(compliance={"hipaa": True, "data_residency": ["DE"]})
    error = _diagnoses(hipaa, PlacementSettings(objective="cost", hipaa_clouds=("aws",)))
    assert _kinds(error) == ["hipaa_clouds", "residency"]
    first = error.diagnoses[0]
    assert (first.setting, first.stack_wide, first.current, first.nearest) == (
        "hipaa_clouds",
        True,
        ("aws",),
        ("aws", "gcp"),
    )
    plan = describe(error, stack_audience("prod", {"svc": "workloads/svc.yaml"}))
    assert "Binding constraint: tensorfleet:hipaaClouds (in stacks/Pulumi.prod.yaml) = ['aws'] leaves" in plan
    assert "\n  - or: compliance.data_residency (in workloads/svc.yaml) = ['DE'] leaves" in plan


def test_unknown_chip_power_names_the_assumption_to_state():
    catalog = tiny_catalog([EAST], [offering("aws", "east", "inf.east", "Inferentia2", 1, 0.5)], [spec("L4")])
    request = profile(
        model={"throughput": [{"accelerator": "Inferentia2", "requests_per_second": 10, "p95_latency_ms": 50}]}
    )
    error = _diagnoses(request, PlacementSettings(objective="carbon"), catalog)
    (power,) = error.diagnoses
    assert (power.constraint, power.setting, power.stack_wide, power.nearest) == (
        "unknown_carbon",
        "assumed_power_watts",
        True,
        ("Inferentia2",),
    )
    assert "tensorfleet:assumedPowerWatts (in stacks/Pulumi.dev.yaml)" in describe(error, stack_audience("dev", {}))


def test_a_model_too_large_for_every_accelerator_names_the_model_first():
    model = LlmModel(name="huge", params_billion=1000, context_tokens=8192, layers=120, kv_heads=16, head_dim=128)
    # Residency also fails (no region in NO), but no residency can make 2 TB of weights fit one L4.
    huge = profile(compliance={"data_residency": ["NO"]}).model_copy(update={"model": model})
    error = _diagnoses(huge)
    (size,) = error.diagnoses
    assert (size.constraint, size.setting, size.current) == ("model_size", "model.params_billion", 1000)
    assert size.nearest == pytest.approx(7.6, abs=0.1)  # 23.2 GB usable on one L4, less 8.1 GB of KV cache
    assert "needs 2,000 GB of weights plus 8.1 GB of KV cache" in str(error)
    assert "largest replica in the catalog holds 23 GB (1x L4)" in str(error)


def test_a_model_that_fits_when_quantised_names_the_precision():
    model = LlmModel(name="m", params_billion=20, context_tokens=4096, layers=32, kv_heads=8, head_dim=128)
    error = _diagnoses(profile(slo={"tokens_in": 512}).model_copy(update={"model": model}))
    (size,) = error.diagnoses
    assert (size.setting, size.current, size.nearest) == ("model.precision", "bf16", "fp8")


def test_a_context_too_long_for_every_accelerator_names_the_context():
    # int4 weights (2 GB) fit one L4 (23.2 GB usable); 200k tokens of KV cache (26.2 GB) do not.
    model = LlmModel(
        name="m", params_billion=4, precision="int4", context_tokens=200_000, layers=32, kv_heads=8, head_dim=128
    )
    (size,) = _diagnoses(profile().model_copy(update={"model": model})).diagnoses
    assert (size.setting, size.current, size.nearest) == ("model.context_tokens", 200_000, 161_688)


def test_measured_only_on_accelerators_the_catalog_lacks():
    request = profile(model={"throughput": [{"accelerator": "T4", "requests_per_second": 10, "p95_latency_ms": 50}]})
    (measured,) = _diagnoses(request).diagnoses
    assert (measured.constraint, measured.setting, measured.current) == (
        "measured_accelerators",
        "model.throughput",
        ("T4",),
    )


def test_two_independent_blockers_blame_no_single_constraint():
    error = _diagnoses(profile(placement={"clouds": ["azure"]}, compliance={"data_residency": ["FR"]}))
    (combined,) = error.diagnoses
    assert combined.constraint == "combined"
    assert {"placement.clouds", "compliance.data_residency"} <= set(combined.current)
    assert "no single constraint is to blame" in str(error) and "GB of weights" not in str(error)


def test_profile_fields_name_their_file_and_the_stack_overrides():
    error = _diagnoses(profile(scaling={"max_replicas": 5}))
    place = describe(error, place_audience({"svc": "svc.yaml"}))
    plan = describe(error, stack_audience("dev", {"svc": "workloads/svc.yaml"}))
    assert "Binding constraint: scaling.max_replicas (in svc.yaml) = 5 cannot absorb the peak" in place
    assert "Binding constraint: scaling.max_replicas (in workloads/svc.yaml) = 5" in plan
    assert plan.endswith(
        "\nProfile fields can be overridden for this stack under "
        "tensorfleet:workloads[].overrides in stacks/Pulumi.dev.yaml."
    )
    assert "overrides" not in place


def test_unknown_region_names_are_refused_before_placement():
    error = _diagnoses(profile(placement={"allowed_regions": ["wset"]}, compliance={"data_residency": ["UK"]}))
    assert [(d.constraint, d.setting) for d in error.diagnoses] == [
        ("unknown_name", "placement.allowed_regions.0"),
        ("unknown_name", "compliance.data_residency.0"),
    ]
    text = describe(error, place_audience({"svc": "svc.yaml"}))
    assert (
        "workload 'svc': placement.allowed_regions.0 (in svc.yaml): unknown region 'wset'; did you mean 'west'" in text
    )
    assert "did you mean 'GB'?" in text


def test_repeated_workload_names_are_refused():
    error = _diagnoses(profile(name="a"), others=[profile(name="a")])
    assert [(d.constraint, d.setting, d.workload) for d in error.diagnoses] == [("duplicate_name", "name", "a")]
    assert "workload names must be unique in a stack" in str(error)
