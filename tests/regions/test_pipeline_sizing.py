"""Replicas that span nodes: only for a model no single node holds, only on nodes whose network is
documented, paced by their slowest stage, and placed in whole groups of nodes."""

from __future__ import annotations

import pytest

from regions.catalog import load_catalog
from regions.performance import Serving, pipelined
from regions.placement import place_fleet
from regions.settings import PlacementSettings
from regions.sizing import SizingAssumptions, llm_operating_points, sequence_bytes
from tests.helpers import BASE_PROFILE, profile
from workloads.loading import deep_merge
from workloads.profiles import LlmModel, Slo, WorkloadProfile

LLAMA_405B = LlmModel(
    name="meta-llama/Llama-3.1-405B-Instruct", params_billion=405.9, precision="bf16", context_tokens=8192,
    layers=126, kv_heads=8, head_dim=128, hidden_size=16384,
)  # fmt: skip
LLAMA_70B = LlmModel(
    name="meta-llama/Llama-3.1-70B-Instruct", params_billion=70.6, precision="bf16", context_tokens=8192,
    layers=80, kv_heads=8, head_dim=128, hidden_size=8192,
)  # fmt: skip
SLO = Slo(p95_latency_ms=60000, steady_rps=0.2, peak_rps=1, tokens_in=2000, tokens_out=400, availability=0.99)


def _h100():
    spec = load_catalog().spec("H100")
    assert spec is not None
    return spec


def test_a_model_no_node_holds_spans_the_fewest_nodes_that_hold_it():
    spec = _h100()
    node_memory = 8 * spec.memory_gib * 2**30 * SizingAssumptions().memory_utilisation
    assert sequence_bytes(LLAMA_405B) > node_memory  # 810 GB of weights beside 8 x 80 GiB
    points = llm_operating_points(LLAMA_405B, SLO, spec, 8, SizingAssumptions(), node_network_gbps=3200)
    assert points
    assert {p.nodes_per_replica for p in points} <= {2, 4} and min(p.nodes_per_replica for p in points) == 2
    for point in points:
        assert point.tensor_parallel == 8 and point.replicas_per_node == 1
        assert point.accelerators_per_replica == 8 * point.nodes_per_replica
        assert point.per_node == 1 / point.nodes_per_replica
        assert point.node_rps == pytest.approx(point.replica_rps / point.nodes_per_replica)


def test_no_replica_spans_nodes_without_a_known_network_or_when_one_node_holds_the_model():
    spec = _h100()
    assert llm_operating_points(LLAMA_405B, SLO, spec, 8, SizingAssumptions()) == ()
    points = llm_operating_points(LLAMA_70B, SLO, spec, 8, SizingAssumptions(), node_network_gbps=3200)
    assert points and all(p.nodes_per_replica == 1 for p in points)
    capped = SizingAssumptions(max_nodes_per_replica=1)
    assert llm_operating_points(LLAMA_405B, SLO, spec, 8, capped, node_network_gbps=3200) == ()


def test_a_pipeline_completes_requests_as_fast_as_a_stage_and_each_token_crosses_every_stage():
    stage = Serving(concurrency=8, requests_per_s=0.5, output_tokens_per_s=200, ttft_s=0.8, tpot_s=0.03, e2e_s=12.77)
    replica = pipelined(stage, 4, tokens_out=400, hop_step_s=0.001, hop_prefill_s=0.002)
    assert replica.requests_per_s == stage.requests_per_s
    assert replica.concurrency == 32
    assert replica.tpot_s == pytest.approx(4 * 0.03 + 3 * 0.001)
    assert replica.ttft_s == pytest.approx(4 * 0.8 + 3 * 0.002)
    assert replica.e2e_s == pytest.approx(replica.ttft_s + 399 * replica.tpot_s)


def test_the_node_network_is_not_load_bearing_for_decode():
    """Activations per stage boundary are small: the slowest network in the data (100 Gbit/s)
    against the fastest (6400) moves the best replica's throughput by under two percent."""
    spec = _h100()
    slow = llm_operating_points(LLAMA_405B, SLO, spec, 8, SizingAssumptions(), node_network_gbps=100)
    fast = llm_operating_points(LLAMA_405B, SLO, spec, 8, SizingAssumptions(), node_network_gbps=6400)
    best = max(p.replica_rps for p in fast)
    assert max(p.replica_rps for p in slow) == pytest.approx(best, rel=0.02)


def test_the_planner_places_whole_groups_of_nodes_on_documented_networks():
    catalog = load_catalog()
    fields = deep_merge(
        BASE_PROFILE,
        {
            "name": "research",
            "slo": SLO.model_dump(exclude_none=True),
            "placement": {"accelerators": ["h100"]},
            "capacity": {"on_demand": True, "spot": False},
            "scaling": {"min_replicas": 1, "max_replicas": 3},
        },
    )
    research = WorkloadProfile.model_validate({**fields, "model": LLAMA_405B.model_dump()})
    assert research.placement.accelerators == ["H100"]  # canonical
    plan = place_fleet([research], catalog, PlacementSettings())
    (workload,) = plan.workloads
    assert workload.rows
    for row in workload.rows:
        choice = row.choice
        offering = choice.option.offering
        assert offering.accelerator == "H100"
        n = choice.option.point.nodes_per_replica
        assert n >= 2
        assert (offering.cloud, offering.instance_type) in catalog.node_networks
        assert choice.nodes_min % n == choice.nodes_desired % n == choice.nodes_max % n == 0
        assert choice.nodes_max // n <= 3


def test_an_unknown_qualified_accelerator_is_a_profile_error():
    with pytest.raises(ValueError, match="unknown accelerator 'H1000'"):
        profile(placement={"accelerators": ["H1000"]})
