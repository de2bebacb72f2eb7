"""The roofline sizing model, checked against figures worked out by hand below."""

from __future__ import annotations

import pytest

from regions.catalog import load_catalog
from regions.sizing import (
    OperatingPoint,
    SizingAssumptions,
    kv_cache_bytes_per_token,
    llm_operating_points,
    measured_operating_points,
    pareto_front,
)
from workloads.profiles import LlmModel, MeasuredThroughput, Slo

ASSUME = SizingAssumptions()
MISTRAL_7B = LlmModel(
    name="e5", params_billion=7.1, precision="bf16", context_tokens=4096, layers=32, kv_heads=8, head_dim=128
)


@pytest.fixture(scope="module")
def specs():
    return load_catalog().specs


def test_kv_cache_per_token():
    # 2 (K and V) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 131,072 bytes.
    assert kv_cache_bytes_per_token(MISTRAL_7B, ASSUME) == 131_072


def test_embedding_model_on_one_l4(specs):
    """Prefill only (tokens_out = 0), 256-token prompts, p95 100 ms.

    Weights 7.1e9 x 2 = 14.2e9 B; KV per prompt 131,072 x 256 = 33,554,432 B.
    L4: 300 GB/s, 121 TFLOPS bf16, 24 GiB x 0.9 usable.
    b=1: compute 2 x 7.1e9 x 256 / 121e12 = 30.04 ms; memory (14.2e9 + 33.55e6) / 300e9 = 47.45 ms -> 47.45 ms.
    b=2: compute 60.09 ms; memory 47.56 ms -> 60.09 ms, 2 / 0.06009 = 33.29 rps.
    b=4: compute 120.2 ms > 100 ms, so the ladder stops.
    """
    slo = Slo(p95_latency_ms=100, steady_rps=1, peak_rps=1, tokens_in=256, tokens_out=0)
    points = llm_operating_points(MISTRAL_7B, slo, specs["L4"], 1, ASSUME)
    assert [(p.batch, p.accelerators_per_replica, p.replicas_per_node) for p in points] == [(1, 1, 1), (2, 1, 1)]
    assert points[0].service_ms == pytest.approx((14.2e9 + 33_554_432) / 300e9 * 1000)
    assert points[0].service_ms == pytest.approx(47.445, abs=0.001)
    assert points[1].service_ms == pytest.approx(2 * 7.1e9 * 2 * 256 / 121e12 * 1000)
    assert points[1].replica_rps == pytest.approx(33.29, abs=0.01)


def test_decode_is_bandwidth_bound_at_batch_one(specs):
    """7B bf16 on one H100 (3,350 GB/s, 989 TFLOPS), 100 tokens in, 100 out, batch 1.

    prefill: max(2 x 7e9 x 100 / 989e12 = 1.416 ms, (14e9 + 131,072 x 100) / 3.35e12 = 4.183 ms) = 4.183 ms
    step:    max((14e9 + 131,072 x 150) / 3.35e12 = 4.185 ms, 2 x 7e9 / 989e12 = 0.014 ms) = 4.185 ms
    total:   4.183 + 100 x 4.185 = 422.7 ms.
    """
    model = MISTRAL_7B.model_copy(update={"params_billion": 7.0})
    slo = Slo(p95_latency_ms=10_000, steady_rps=1, peak_rps=1, tokens_in=100, tokens_out=100)
    first = llm_operating_points(model, slo, specs["H100"], 1, ASSUME)[0]
    assert first.batch == 1
    prefill = (14e9 + 131_072 * 100) / 3.35e12
    step = (14e9 + 131_072 * 150) / 3.35e12
    assert first.service_ms == pytest.approx((prefill + 100 * step) * 1000)
    assert first.service_ms == pytest.approx(422.68, abs=0.01)


def test_a_70b_model_needs_memory_it_can_find(specs):
    llama70 = LlmModel(
        name="l", params_billion=70.6, precision="bf16", context_tokens=16384, layers=80, kv_heads=8, head_dim=128
    )
    slo = Slo(p95_latency_ms=60_000, steady_rps=1, peak_rps=1, tokens_in=1500, tokens_out=300)
    assert llm_operating_points(llama70, slo, specs["L4"], 1, ASSUME) == ()  # 141 GB of weights, 24 GiB of memory
    # 141.2 GB of weights + 5.4 GB for one 16k context need two 80 GiB H100s (2 x 80 x 2^30 x 0.9 = 154.6 GB).
    assert llm_operating_points(llama70, slo, specs["H100"], 1, ASSUME) == ()
    on_two = llm_operating_points(llama70, slo, specs["H100"], 2, ASSUME)
    assert on_two and {p.accelerators_per_replica for p in on_two} == {2}
    # Batch by memory: (154.6e9 - 141.2e9) / (327,680 B/token x 1,800 tokens) = 22 sequences.
    assert max(p.batch for p in on_two) == 22
    # On eight GPUs one TP8 replica has 4x the bandwidth and room for the full batch ladder, so it
    # beats four TP2 replicas on both latency and node throughput; every kept point fills the node.
    on_eight = llm_operating_points(llama70, slo, specs["H100"], 8, ASSUME)
    assert {p.replicas_per_node * p.accelerators_per_replica for p in on_eight} == {8}


def test_fp8_uses_the_fp8_compute_figure(specs):
    slo = Slo(p95_latency_ms=10_000, steady_rps=1, peak_rps=1, tokens_in=4096, tokens_out=0)
    bf16 = llm_operating_points(MISTRAL_7B, slo, specs["H100"], 1, ASSUME)[-1]
    fp8 = llm_operating_points(MISTRAL_7B.model_copy(update={"precision": "fp8"}), slo, specs["H100"], 1, ASSUME)
    same_batch = next(p for p in fp8 if p.batch == bf16.batch)
    # Compute-bound prefill: fp8 halves the bytes and runs at 1,979 instead of 989 TFLOPS.
    assert same_batch.service_ms == pytest.approx(bf16.service_ms * 989 / 1979, rel=1e-3)


def test_points_respect_the_slo_and_memory(specs):
    slo = Slo(p95_latency_ms=150, steady_rps=1, peak_rps=1, tokens_in=256, tokens_out=0)
    points = llm_operating_points(MISTRAL_7B, slo, specs["L4"], 1, ASSUME)
    assert all(p.service_ms <= 150 for p in points)
    assert max(p.batch for p in points) <= ASSUME.max_batch


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
