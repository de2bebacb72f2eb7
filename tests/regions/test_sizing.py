"""Sizing on the calibrated model: replica widths, memory, SLOs (p95, TTFT, TPOT) and queueing."""

from __future__ import annotations

import itertools
import math

import pytest

from regions.calibration import efficiency_of
from regions.catalog import load_catalog
from regions.sizing import (
    OperatingPoint,
    SizingAssumptions,
    kv_cache_bytes_per_token,
    llm_operating_points,
    measured_operating_points,
    pareto_front,
    replica_widths,
)
from workloads.profiles import LlmModel, MeasuredThroughput, Slo

ASSUME = SizingAssumptions()
MISTRAL_7B = LlmModel(
    name="e5", params_billion=7.1, precision="bf16", context_tokens=4096, layers=32, kv_heads=8, head_dim=128
)
LLAMA_70B = LlmModel(
    name="llama", params_billion=70.6, precision="bf16", context_tokens=8192, layers=80, kv_heads=8, head_dim=128,
    hidden_size=8192,
)  # fmt: skip
CHAT = Slo(p95_latency_ms=30_000, steady_rps=1, peak_rps=1, tokens_in=1000, tokens_out=250)


@pytest.fixture(scope="module")
def specs():
    return load_catalog().specs


def test_kv_cache_per_token_follows_the_cache_dtype():
    # 2 (K and V) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 131,072 bytes; fp8 halves it.
    assert kv_cache_bytes_per_token(MISTRAL_7B) == 131_072
    assert kv_cache_bytes_per_token(MISTRAL_7B.model_copy(update={"kv_cache_dtype": "fp8"})) == 65_536


def test_an_l4_cannot_serve_7b_bf16_embeddings_within_100_ms_at_peak(specs):
    """One prefill reads the 14.2 GB of weights at the calibrated share of the L4's 300 GB/s, plus
    the prefill overhead: over 90 ms. A single slot loaded to half its rate queues (M/M/1 p95 wait
    = ln 10 x 2 x service), and a batch of two doubles the arithmetic: nothing fits 100 ms."""
    slo = Slo(p95_latency_ms=100, steady_rps=1, peak_rps=1, tokens_in=256, tokens_out=0)
    l4 = efficiency_of("L4")
    floor_ms = (14.2e9 / (300e9 * l4.bandwidth) + l4.prefill_overhead_s) * 1000
    assert 90 < floor_ms < 100
    assert llm_operating_points(MISTRAL_7B, slo, specs["L4"], 1, ASSUME) == ()
    relaxed = llm_operating_points(MISTRAL_7B, slo.model_copy(update={"p95_latency_ms": 1000}), specs["L4"], 1, ASSUME)
    assert relaxed and all(p.service_ms >= floor_ms for p in relaxed)


def test_first_generation_inferentia_never_serves_llms(specs):
    assert llm_operating_points(MISTRAL_7B, CHAT, specs["Inferentia"], 16, ASSUME) == ()


def test_replica_widths_follow_the_server(specs):
    # vLLM on GPUs splits or replicates the 8 KV heads; Neuron shards over any number of chips.
    assert replica_widths(LLAMA_70B, specs["H100"], 8) == [1, 2, 4, 8]
    assert replica_widths(LLAMA_70B, specs["Inferentia2"], 12) == list(range(1, 13))


def test_a_70b_model_needs_memory_it_can_find(specs):
    assert llm_operating_points(LLAMA_70B, CHAT, specs["L4"], 1, ASSUME) == ()  # 141 GB of weights, 24 GiB
    on_eight = llm_operating_points(LLAMA_70B, CHAT, specs["H100"], 8, ASSUME)
    assert on_eight and min(p.accelerators_per_replica for p in on_eight) >= 2
    on_inf2 = llm_operating_points(LLAMA_70B, CHAT, specs["Inferentia2"], 12, ASSUME)
    assert any(p.accelerators_per_replica == 12 for p in on_inf2)  # 12 x 32 GiB holds it; 8 chips do not


def test_tpot_and_ttft_slos_bound_every_point(specs):
    slo = CHAT.model_copy(update={"ttft_p95_ms": 800, "tpot_p95_ms": 40})
    points = llm_operating_points(LLAMA_70B, slo, specs["H100"], 8, ASSUME)
    assert points
    for p in points:
        assert p.tpot_ms <= 40 and p.ttft_ms <= p.service_ms - (slo.p95_latency_ms - 800) + 1e-9
        assert p.e2e_ms <= p.service_ms
    loose = llm_operating_points(LLAMA_70B, CHAT, specs["H100"], 8, ASSUME)
    assert max(p.node_rps for p in loose) > max(p.node_rps for p in points)


def test_peak_load_queues(specs):
    """Loading a replica harder buys throughput with queueing (Erlang C) in TTFT and e2e."""
    points = llm_operating_points(LLAMA_70B, CHAT, specs["H100"], 8, ASSUME)
    same_shape = sorted(
        (p for p in points if (p.accelerators_per_replica, p.batch) == (points[-1].accelerators_per_replica,
                                                                          points[-1].batch)),
        key=lambda p: p.utilisation,
    )  # fmt: skip
    assert all(a.e2e_ms <= b.e2e_ms and a.replica_rps < b.replica_rps for a, b in itertools.pairwise(same_shape))
    assert all(p.utilisation <= 0.9 for p in points)


def test_fp8_weights_use_fp8_arithmetic_on_hopper_only(specs):
    fp8 = MISTRAL_7B.model_copy(update={"precision": "fp8"})
    from regions.sizing import model_shape

    assert model_shape(fp8, specs["H100"]).fp8_arithmetic
    assert not model_shape(fp8, specs["A100-80GB"]).fp8_arithmetic  # no fp8 tensor cores: dequantised
    assert not model_shape(MISTRAL_7B.model_copy(update={"precision": "int4"}), specs["H100"]).fp8_arithmetic


def test_a_hidden_size_is_estimated_when_missing(specs):
    from regions.sizing import model_shape

    # 12 x 80 layers x h^2 = 70.6e9 -> h = 8,576 (Llama 3 70B's real width is 8,192)
    estimate = model_shape(LLAMA_70B.model_copy(update={"hidden_size": None}), specs["H100"]).hidden_size
    assert estimate == round(math.sqrt(70.6e9 / 960))


def test_measured_points_fill_the_node():
    measured = MeasuredThroughput(
        accelerator="A100-80GB", accelerators_per_replica=2, requests_per_second=6, p95_latency_ms=300
    )
    (point,) = measured_operating_points(measured, 8)
    assert (point.replicas_per_node, point.node_rps, point.service_ms) == (4, 24, 300)
    assert measured_operating_points(measured, 1) == []


def test_pareto_front_drops_dominated_points():
    fast = OperatingPoint(accelerators_per_replica=1, replicas_per_node=1, batch=1, service_ms=10, replica_rps=5)
    slow_but_more = OperatingPoint(
        accelerators_per_replica=1, replicas_per_node=1, batch=4, service_ms=30, replica_rps=9
    )
    dominated = OperatingPoint(accelerators_per_replica=2, replicas_per_node=1, batch=1, service_ms=40, replica_rps=8)
    assert pareto_front([dominated, slow_but_more, fast]) == [fast, slow_but_more]
