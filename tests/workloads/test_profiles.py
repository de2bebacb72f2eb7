"""Workload profiles: the examples load, and bad input fails with file, field path and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.helpers import BASE_PROFILE
from workloads.loading import ProfileError, deep_merge, load_profile, parse_profile
from workloads.profiles import ExternalModel, LlmModel, MeasuredModel, WorkloadProfile

EXAMPLES = sorted((Path(__file__).parents[2] / "workloads" / "examples").glob("*.yaml"))


def test_the_example_profiles_exist():
    assert [p.stem for p in EXAMPLES] == [
        "chat-assistant-70b",
        "content-moderation",
        "diagnostic-imaging",
        "document-summaries",
        "recommendation-embeddings",
        "research-assistant-405b",
        "support-triage",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_validate(path):
    assert isinstance(load_profile(path), WorkloadProfile)


def test_examples_cover_every_model_family():
    profiles = {p.stem: load_profile(p) for p in EXAMPLES}
    assert isinstance(profiles["chat-assistant-70b"].model, LlmModel)
    assert isinstance(profiles["diagnostic-imaging"].model, MeasuredModel)
    assert isinstance(profiles["support-triage"].model, ExternalModel)
    assert profiles["support-triage"].gateway_only and profiles["support-triage"].stages == []
    assert [s.name for s in profiles["content-moderation"].stages] == ["fast", "accurate"]
    assert profiles["diagnostic-imaging"].compliance.hipaa
    assert profiles["diagnostic-imaging"].compliance.data_residency == ["US"]


def _errors(data):
    with pytest.raises(ValidationError) as exc_info:
        WorkloadProfile.model_validate(data)
    return [(e["type"], e["loc"]) for e in exc_info.value.errors(include_url=False)]


def test_unknown_field_is_rejected():
    data = deep_merge(BASE_PROFILE, {"scaling": {"max_replica": 3}})
    assert _errors(data) == [("extra_forbidden", ("scaling", "max_replica"))]


def test_name_must_be_a_dns_label():
    assert _errors(deep_merge(BASE_PROFILE, {"name": "Bad_Name"})) == [("string_pattern_mismatch", ("name",))]


def test_precision_is_an_enum():
    data = deep_merge(
        BASE_PROFILE,
        {
            "model": {
                "kind": "llm",
                "name": "m",
                "params_billion": 7,
                "precision": "fp4",
                "context_tokens": 4096,
                "layers": 32,
                "kv_heads": 8,
                "head_dim": 128,
            }
        },
    )
    data["model"].pop("throughput")
    assert _errors(data) == [("literal_error", ("model", "llm", "precision"))]


def test_missing_slo_field():
    data = deep_merge(BASE_PROFILE, {})
    data["slo"] = {"p95_latency_ms": 100, "steady_rps": 1}
    assert _errors(data) == [("missing", ("slo", "peak_rps"))]


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        pytest.param(
            {"slo": {"steady_rps": 100, "peak_rps": 50}}, "peak_rps (50.0) is below steady_rps", id="peak-below-steady"
        ),
        pytest.param(
            {"placement": {"users": [{"name": "a", "latitude": 1, "longitude": 1, "share": 0.5}]}},
            "sum to 1",
            id="shares",
        ),
        pytest.param({"scaling": {"min_replicas": 0}}, "scale_to_zero", id="zero-without-scale-to-zero"),
        pytest.param({"capacity": {"on_demand": False, "spot": False}}, "at least one", id="no-capacity"),
        pytest.param({"compliance": {"hipaa": True}}, "data_residency", id="hipaa-needs-residency"),
        pytest.param({"slo": {"availability": 0.9995}}, "min_regions >= 2", id="availability-needs-regions"),
    ],
)
def test_cross_field_rules(override, fragment):
    with pytest.raises(ValidationError) as exc_info:
        WorkloadProfile.model_validate(deep_merge(BASE_PROFILE, override))
    (error,) = exc_info.value.errors(include_url=False)
    assert error["type"] == "value_error"
    assert fragment in error["msg"]


def test_model_and_cascade_are_exclusive():
    data = deep_merge(BASE_PROFILE, {})
    data.pop("model")
    ((kind, loc),) = _errors(data)
    assert (kind, loc) == ("value_error", ())


def test_loader_error_names_file_field_and_expectation(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(deep_merge(BASE_PROFILE, {"budget": {"monthly_usd": -5}})))
    with pytest.raises(ProfileError) as exc_info:
        load_profile(path)
    message = str(exc_info.value)
    assert str(path) in message
    assert "budget.monthly_usd: Input should be greater than 0 (got -5)" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("name: [unclosed", "not valid YAML"), ("- a\n- b\n", "expected a mapping")],
)
def test_loader_rejects_malformed_files(tmp_path, text, fragment):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=fragment):
        load_profile(path)


def test_loader_reports_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="cannot read the file"):
        load_profile(tmp_path / "absent.yaml")


def test_overrides_deep_merge_before_validation(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(BASE_PROFILE))
    loaded = load_profile(path, {"scaling": {"max_replicas": 7}, "slo": {"peak_rps": 90}})
    assert loaded.scaling.max_replicas == 7
    assert loaded.slo.peak_rps == 90
    assert loaded.slo.steady_rps == BASE_PROFILE["slo"]["steady_rps"]


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True), st.text(max_size=8))


@settings(max_examples=150, deadline=None)
@given(
    section=st.sampled_from([*sorted(BASE_PROFILE), "scaling", "carbon", "capacity", "compliance"]),
    key=st.text(min_size=1, max_size=12),
    value=_leaf,
)
def test_arbitrary_field_damage_gives_a_profile_error_or_a_profile(section, key, value):
    """Whatever a field is replaced with, the loader returns a profile or one ProfileError, never anything else."""
    data = deep_merge(BASE_PROFILE, {})
    if isinstance(data.get(section), dict):
        data[section] = {**data[section], key: value}
    else:
        data[section] = value
    try:
        result = parse_profile(data, source="fuzz")
    except ProfileError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)
    else:
        assert isinstance(result, WorkloadProfile)


def test_measured_accelerators_are_canonicalised_with_suggestions():
    ok = deep_merge(BASE_PROFILE, {})
    ok["model"]["throughput"][0]["accelerator"] = "a100-80gb"
    assert WorkloadProfile.model_validate(ok).model.throughput[0].accelerator == "A100-80GB"
    bad = deep_merge(BASE_PROFILE, {})
    bad["model"]["throughput"][0]["accelerator"] = "A100-80G"
    with pytest.raises(ValidationError) as exc_info:
        WorkloadProfile.model_validate(bad)
    (error,) = exc_info.value.errors(include_url=False)
    assert error["loc"] == ("model", "measured", "throughput", 0, "accelerator")
    assert "did you mean 'A100-80GB'" in error["msg"]


@pytest.mark.parametrize(
    ("override", "field", "bound"),
    [
        pytest.param({"slo": {"peak_rps": 1e300}}, "slo.peak_rps", "less than or equal to 10000000", id="peak-rps"),
        pytest.param({"slo": {"peak_rps": 10**400}}, "slo.peak_rps", "less than or equal to 10000000", id="huge-int"),
        pytest.param({"slo": {"steady_rps": 1e8}}, "slo.steady_rps", "10000000", id="steady-rps"),
        pytest.param({"slo": {"p95_latency_ms": 3_600_001}}, "slo.p95_latency_ms", "3600000", id="latency"),
        pytest.param({"budget": {"monthly_usd": 1e300}}, "budget.monthly_usd", "1000000000", id="budget"),
        pytest.param({"scaling": {"max_replicas": 10**9}}, "scaling.max_replicas", "10000", id="max-replicas"),
        pytest.param({"scaling": {"min_replicas": 10**9}}, "scaling.min_replicas", "10000", id="min-replicas"),
        pytest.param({"slo": {"tokens_out": 10**400}}, "slo.tokens_out", "2000000", id="tokens"),
        pytest.param({"carbon": {"max_gco2_per_kwh": 1e300}}, "carbon.max_gco2_per_kwh", "2000", id="carbon-cap"),
        pytest.param(
            {"placement": {"allowed_regions": ["us-east-1"] * 257}}, "placement.allowed_regions", "at most 256",
            id="region-list",
        ),
        pytest.param(
            {"placement": {"users": [{"name": "a", "latitude": 0, "longitude": 0, "share": 5}]}},
            "placement.users.0.share", "less than or equal to 1 ", id="int-share",
        ),
    ],
)  # fmt: skip
def test_absurd_numbers_are_refused_with_the_bound(override, field, bound):
    with pytest.raises(ProfileError) as exc_info:
        parse_profile(deep_merge(BASE_PROFILE, override), source="p.yaml")
    (problem,) = exc_info.value.problems
    assert problem.startswith(f"{field}: ") and bound in problem


def test_user_geographies_are_bounded():
    users = [{"name": f"g{i}", "latitude": 0, "longitude": i, "share": 1 / 9} for i in range(9)]
    with pytest.raises(ValidationError) as exc_info:
        WorkloadProfile.model_validate(deep_merge(BASE_PROFILE, {"placement": {"users": users}}))
    (error,) = exc_info.value.errors(include_url=False)
    assert (error["type"], error["loc"]) == ("too_long", ("placement", "users"))


def test_a_request_must_fit_in_the_model_context():
    llm = {"kind": "llm", "name": "m", "params_billion": 7, "context_tokens": 4096, "layers": 32, "kv_heads": 8}
    data = deep_merge(BASE_PROFILE, {"slo": {"tokens_in": 4000, "tokens_out": 200}})
    data["model"] = {**llm, "head_dim": 128}
    with pytest.raises(ValidationError) as exc_info:
        WorkloadProfile.model_validate(data)
    (error,) = exc_info.value.errors(include_url=False)
    assert "slo.tokens_in + slo.tokens_out (4200) exceeds the model context_tokens (4096)" in error["msg"]
    data["slo"]["tokens_out"] = 96
    assert WorkloadProfile.model_validate(data).slo.tokens_out == 96


def test_a_hostile_accelerator_name_gives_a_bounded_message():
    bad = deep_merge(BASE_PROFILE, {})
    bad["model"]["throughput"][0]["accelerator"] = "H" * 100_000
    with pytest.raises(ValidationError) as exc_info:
        WorkloadProfile.model_validate(bad)
    (error,) = exc_info.value.errors(include_url=False)
    assert error["msg"].startswith("Value error, unknown accelerator 'HHH") and len(error["msg"]) < 100


@pytest.mark.parametrize(
    ("image", "ok"),
    [("nvcr.io/nvidia/tritonserver:25.06-py3", True), ("registry.example.com:5000/team/server:1.2.0", True),
     ("team/server@sha256:" + "a" * 64, True), ("team/server", False), ("team/server:latest", False),
     ("registry.example.com:5000/team/server", False)],
)  # fmt: skip
def test_a_measured_models_server_image_names_a_version(image, ok):
    from workloads.profiles import ServerContainer

    fields = {"image": image, "queue_metric": "nv_inference_pending_request_count"}
    if ok:
        assert ServerContainer.model_validate(fields).image == image
    else:
        with pytest.raises(ValueError, match="must name a version"):
            ServerContainer.model_validate(fields)
