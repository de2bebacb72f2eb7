"""Replicas that share a GPU (MIG instances, time slices): each sized on its share, as many per node
as the node's GPUs hold, only on GPUs that can be shared that way."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from regions.calibration import hardware_of
from regions.catalog import load_catalog
from regions.diagnosis import PlacementError
from regions.options import eligible_regions, option_table, stage_points
from regions.performance import max_concurrency
from regions.placement import place_fleet
from regions.settings import PlacementSettings
from regions.sizing import (
    GpuShare,
    SizingAssumptions,
    gpu_share,
    llm_operating_points,
    model_shape,
    shared_operating_points,
)
from tests.helpers import BASE_PROFILE
from workloads.loading import deep_merge
from workloads.profiles import GpuSharing, LlmModel, Slo, WorkloadProfile

QWEN_1_5B = LlmModel(
    name="Qwen/Qwen2.5-1.5B-Instruct", params_billion=1.54, precision="bf16", context_tokens=4096,
    layers=28, kv_heads=2, head_dim=128, hidden_size=1536,
)  # fmt: skip
LLAMA_8B = LlmModel(
    name="meta-llama/Llama-3.1-8B-Instruct", params_billion=8.03, precision="bf16", context_tokens=8192,
    layers=32, kv_heads=8, head_dim=128, hidden_size=4096,
)  # fmt: skip
SLO = Slo(p95_latency_ms=4000, steady_rps=2, peak_rps=6, tokens_in=500, tokens_out=100, availability=0.99)


def _spec(name: str):
    spec = load_catalog().spec(name)
    assert spec is not None
    return spec


def test_the_mig_table_holds_instances_that_fit_their_gpu():
    catalog = load_catalog()
    assert {acc for acc, _ in catalog.mig_profiles} == {
        "A100", "A100-80GB", "A100-80GB-PCIe", "H100", "H100-NVL", "H200", "B200"
    }  # fmt: skip
    for (accelerator, slices), mig in catalog.mig_profiles.items():
        assert accelerator in catalog.specs and mig.name.startswith(f"{slices}g.")
        assert mig.instances_per_gpu * mig.compute_slices <= 7
        assert mig.instances_per_gpu * mig.memory_fraction <= 1
        # The profile's name states its memory; it is the fraction of the GPU's (within rounding).
        named_gb = float(mig.name.split(".")[1].removesuffix("gb"))
        assert named_gb == pytest.approx(mig.memory_fraction * catalog.specs[accelerator].memory_gib, abs=1)


def test_a_mig_replica_is_sized_on_its_instance_and_seven_share_each_gpu():
    spec = _spec("H100")
    mig = load_catalog().mig_profiles[("H100", 1)]
    share = gpu_share(GpuSharing(mig="1g"), spec, mig)
    assert share == GpuShare(replicas_per_gpu=7, memory=1 / 8, bandwidth=1 / 8, compute=1 / 7, mig_profile="1g.10gb")
    points = shared_operating_points(QWEN_1_5B, SLO, spec, 8, share, SizingAssumptions())
    alone = llm_operating_points(QWEN_1_5B, SLO, share.of(spec), 1, SizingAssumptions())
    assert points and len(points) == len(alone)
    for point, single in zip(points, alone, strict=True):
        assert point.replicas_per_node == 56 and point.replicas_per_accelerator == 7
        assert point.accelerators_per_replica == 1 and point.tensor_parallel == 1 and point.mig_profile == "1g.10gb"
        assert point.replica_rps == single.replica_rps and point.node_rps == pytest.approx(56 * single.replica_rps)
    whole = llm_operating_points(QWEN_1_5B, SLO, spec, 8, SizingAssumptions())
    # A slice has an eighth of the bandwidth and a seventh of the compute: each replica serves less.
    assert max(p.replica_rps for p in points) < max(p.replica_rps for p in whole if p.accelerators_per_replica == 1)


def test_a_model_larger_than_its_share_gets_no_point():
    spec = _spec("H100")
    catalog = load_catalog()
    one = gpu_share(GpuSharing(mig="1g"), spec, catalog.mig_profiles[("H100", 1)])
    three = gpu_share(GpuSharing(mig="3g"), spec, catalog.mig_profiles[("H100", 3)])
    assert one is not None and three is not None
    # 16 GB of Llama 3.1 8B weights: not in a 10 GB instance, well within a 40 GB one.
    assert shared_operating_points(LLAMA_8B, SLO, spec, 8, one, SizingAssumptions()) == ()
    assert shared_operating_points(LLAMA_8B, SLO, spec, 8, three, SizingAssumptions())
    # Time slicing divides the memory too: four slices of 80 GB hold it, eight do not.
    four = gpu_share(GpuSharing(time_slicing=4), spec, None)
    eight = gpu_share(GpuSharing(time_slicing=8), spec, None)
    assert four is not None and eight is not None
    assert shared_operating_points(LLAMA_8B, SLO, spec, 8, four, SizingAssumptions())
    assert shared_operating_points(LLAMA_8B, SLO, spec, 8, eight, SizingAssumptions()) == ()


def test_time_sliced_replicas_each_hold_the_weights_so_a_gpu_holds_fewer_sequences():
    spec = _spec("L4")
    share = gpu_share(GpuSharing(time_slicing=2), spec, None)
    assert share == GpuShare(replicas_per_gpu=2, memory=0.5, bandwidth=0.5, compute=0.5)
    shape = model_shape(QWEN_1_5B, spec)
    held = {
        name: max_concurrency(shape, hardware_of(chip, 1, None), SLO.tokens_in, SLO.tokens_out, 0.9)
        for name, chip in (("shared", share.of(spec)), ("whole", spec))
    }
    # Two copies of the weights: the two replicas together hold fewer sequences than one whole GPU.
    assert 0 < 2 * held["shared"] < held["whole"]
    # Half the bandwidth and compute: a looser SLO than the whole L4 needs (2.6 s at p95).
    slo = SLO.model_copy(update={"p95_latency_ms": 20_000})
    shared = shared_operating_points(QWEN_1_5B, slo, spec, 1, share, SizingAssumptions())
    whole = llm_operating_points(QWEN_1_5B, slo, spec, 1, SizingAssumptions())
    assert shared and whole and max(p.replica_rps for p in shared) < max(p.replica_rps for p in whole)


def test_only_nvidia_gpus_are_shared_and_mig_only_where_nvidia_lists_the_profile():
    catalog = load_catalog()
    for name in ("Inferentia2", "TPU v5e", "MI300X"):
        assert gpu_share(GpuSharing(time_slicing=2), _spec(name), None) is None
    assert ("A10G", 1) not in catalog.mig_profiles  # so stage_points finds no MIG instance for it
    assert gpu_share(GpuSharing(mig="1g"), _spec("A10G"), None) is None
    assert gpu_share(GpuSharing(time_slicing=3), _spec("A10G"), None) is not None
    shared = _with_sharing({"mig": "1g"})
    stage = shared.stages[0]
    settings = PlacementSettings()
    assert stage_points(stage, shared, catalog, "L4", 8, settings) == []
    points = stage_points(stage, shared, catalog, "A100-80GB", 8, settings)
    assert points and all(p.replicas_per_node == 56 for p in points)


def test_the_planner_places_shared_replicas_on_mig_gpus_and_counts_them_per_node():
    catalog = load_catalog()
    plan = place_fleet([_with_sharing({"mig": "2g"})], catalog, PlacementSettings())
    (workload,) = plan.workloads
    assert workload.rows
    for row in workload.rows:
        option = row.choice.option
        assert (option.offering.accelerator, 2) in catalog.mig_profiles
        per_gpu = catalog.mig_profiles[(option.offering.accelerator, 2)].instances_per_gpu
        assert option.point.replicas_per_accelerator == per_gpu == 3
        assert option.point.replicas_per_node == option.offering.accelerator_count * per_gpu


@pytest.mark.parametrize(
    ("sharing", "message"),
    [({}, "exactly one"), ({"mig": "1g", "time_slicing": 2}, "exactly one"), ({"mig": "4g"}, "'1g', '2g' or '3g'"),
     ({"time_slicing": 1}, "greater than or equal to 2"), ({"time_slicing": 49}, "less than or equal to 48")],
)  # fmt: skip
def test_a_sharing_that_is_not_one_valid_way_is_a_profile_error(sharing, message):
    with pytest.raises(ValidationError, match=message):
        _with_sharing(sharing)


def _with_sharing(sharing: dict) -> WorkloadProfile:
    model = {**QWEN_1_5B.model_dump(exclude_none=True), "gpu_sharing": sharing}
    fields = deep_merge(BASE_PROFILE, {"slo": SLO.model_dump(exclude_none=True), "budget": {"monthly_usd": 1_000_000}})
    return WorkloadProfile.model_validate({**fields, "model": model})


def test_a_sharing_no_allowed_gpu_can_run_is_diagnosed_with_the_nearest_that_works():
    catalog = load_catalog()
    on_l4 = _with_sharing({"mig": "1g"}).model_copy(
        update={"placement": _with_sharing({"mig": "1g"}).placement.model_copy(update={"accelerators": ["L4"]})}
    )
    with pytest.raises(PlacementError) as error:
        place_fleet([on_l4], catalog, PlacementSettings())
    first, *others = error.value.diagnoses
    assert (first.constraint, first.setting, first.current, first.nearest) == (
        "gpu_sharing", "model.gpu_sharing", "mig-1g", "whole GPUs"
    )  # fmt: skip
    assert [(d.constraint, d.setting) for d in others] == [("accelerators", "placement.accelerators")]
    # Each relaxation works on its own.
    whole = on_l4.model_copy(update={"model": on_l4.model.model_copy(update={"gpu_sharing": None})})
    assert place_fleet([whole], catalog, PlacementSettings()).workloads
    widened = on_l4.model_copy(
        update={"placement": on_l4.placement.model_copy(update={"accelerators": list(others[0].nearest)})}
    )
    assert place_fleet([widened], catalog, PlacementSettings()).workloads


def test_a_model_larger_than_its_mig_instance_is_told_the_smallest_instance_that_holds_it():
    catalog = load_catalog()
    # On H100s: 16 GB of weights do not fit a 1g.10gb instance (a B200's 1g.23gb would hold them).
    overrides = {
        "slo": SLO.model_dump(exclude_none=True),
        "budget": {"monthly_usd": 1_000_000},
        "placement": {"accelerators": ["H100"]},
    }
    model = {**LLAMA_8B.model_dump(exclude_none=True), "gpu_sharing": {"mig": "1g"}}
    llama = WorkloadProfile.model_validate({**deep_merge(BASE_PROFILE, overrides), "model": model})

    def sharing(slices: str) -> WorkloadProfile:
        return llama.model_copy(
            update={"model": llama.model.model_copy(update={"gpu_sharing": GpuSharing(mig=slices)})}
        )

    with pytest.raises(PlacementError) as error:
        place_fleet([llama], catalog, PlacementSettings())
    first = error.value.diagnoses[0]
    assert (first.constraint, first.current) == ("gpu_sharing", "mig-1g")
    assert first.nearest in ("mig-2g", "mig-3g")
    assert place_fleet([sharing(first.nearest.removeprefix("mig-"))], catalog, PlacementSettings()).workloads
    if first.nearest == "mig-3g":  # then 2g must not hold it
        with pytest.raises(PlacementError):
            place_fleet([sharing("2g")], catalog, PlacementSettings())


def _servers_per_node(profile: WorkloadProfile, catalog, settings: PlacementSettings) -> dict[str, set[int]]:
    """The model servers per node of every option the planner may choose, per instance type."""
    regions = eligible_regions(profile, catalog, settings)
    table = option_table(profile.stages[0], profile, catalog, regions, settings)
    found: dict[str, set[int]] = {}
    for row in range(table.shape.size):
        option = table.option(row)
        found.setdefault(option.offering.instance_type, set()).add(option.point.replicas_per_node)
    return found


def _on(profile: WorkloadProfile, clouds: list[str], accelerators: list[str]) -> WorkloadProfile:
    placement = profile.placement.model_copy(update={"clouds": clouds, "accelerators": accelerators})
    return profile.model_copy(update={"placement": placement})


def test_a_node_never_runs_more_server_pods_than_its_kubelet_admits():
    # GKE nodes admit the kubelet's default of 110 pods: 100 model servers beside the node's own.
    catalog, settings = load_catalog(), PlacementSettings()
    assert settings.sizing.kubelet_max_pods - settings.sizing.node_system_pods == 100
    mig = _servers_per_node(_on(_with_sharing({"mig": "1g"}), ["gcp"], ["A100"]), catalog, settings)
    assert mig["a2-highgpu-8g"] == {8 * 7}
    assert "a2-megagpu-16g" not in mig  # 16 GPUs x 7 instances = 112 pods
    sliced = _servers_per_node(_on(_with_sharing({"time_slicing": 8}), ["gcp"], ["A100"]), catalog, settings)
    assert sliced["a2-highgpu-8g"] == {8 * 8}
    assert "a2-megagpu-16g" not in sliced  # 16 x 8 = 128


def test_an_eks_node_runs_no_more_shares_than_its_instance_type_admits_pods():
    # EKS nodes run as many pods as the VPC CNI's per-instance figure: p5.48xlarge 100, so 90 model
    # servers beside the node's own pods, fewer than 12 time slices on each of its 8 H100s; the
    # one-H100 p5.4xlarge (118) holds its 12.
    catalog = load_catalog()
    assert (catalog.max_pods[("aws", "p5.48xlarge")], catalog.max_pods[("aws", "p5.4xlarge")]) == (100, 118)
    on_h100 = _on(_with_sharing({"time_slicing": 12}), ["aws"], ["H100"])
    settings = PlacementSettings()
    assert settings.sizing.kubelet_max_pods - settings.sizing.node_system_pods >= 8 * 12  # a kubelet's default
    assert _servers_per_node(on_h100, replace(catalog, max_pods={}), settings)["p5.48xlarge"] == {96}
    limited = _servers_per_node(on_h100, catalog, settings)
    assert "p5.48xlarge" not in limited and limited["p5.4xlarge"] == {12}
    plan = place_fleet([on_h100], catalog, settings)
    assert {r.choice.option.offering.instance_type for r in plan.workloads[0].rows} == {"p5.4xlarge"}
