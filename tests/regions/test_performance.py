"""The calibrated performance model, worked by hand on a tiny model (figures in the comments)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from regions.performance import Efficiency, Hardware, ModelShape, decode_step_s, max_concurrency, prefill_s, serve

MODEL = ModelShape(
    params=1e9, active_params=1e9, layers=10, hidden_size=1024, kv_heads=2, head_dim=64,
    weight_bytes=2.0, kv_bytes=2.0, fp8_arithmetic=False,
)  # fmt: skip
# weights 2e9 B; KV per token 2 x 10 layers x 2 heads x 64 x 2 B = 5,120 B
CHIP = Hardware(chips=1, memory_bytes=10 * 2**30, bandwidth=1e12, bf16_flops=1e14, fp8_flops=2e14, link=None)
EFF = Efficiency(bandwidth=0.5, compute=0.5, step_overhead_s=1e-3, prefill_overhead_s=2e-3, allreduce_latency_s=10e-6)


def test_decode_is_memory_bound_plus_a_fixed_step():
    # memory (2e9 + 4 x 5120 x 1000) / (1e12 x 0.5) = 4.04096 ms; arithmetic 2 x 1e9 x 4 / 5e13 = 0.16 ms
    assert decode_step_s(MODEL, CHIP, EFF, 4, 1000) == pytest.approx(1e-3 + 4.04096e-3)


def test_a_mixture_of_experts_reads_only_routed_experts():
    moe = dataclasses.replace(MODEL, active_params=0.25e9)
    # batch 1 routes to 1 - 0.75 = 25% of the weights: 0.5e9 B, plus 5,120 x 1000 B of cache
    assert decode_step_s(moe, CHIP, EFF, 1, 1000) == pytest.approx(1e-3 + (0.5e9 + 5.12e6) / 5e11)
    # a large batch touches every expert: the dense weight traffic
    assert decode_step_s(moe, CHIP, EFF, 64, 0) == pytest.approx(1e-3 + 2e9 * (1 - 0.75**64) / 5e11)


def test_an_fp8_cache_halves_the_cache_and_fp8_weights_use_fp8_arithmetic():
    assert dataclasses.replace(MODEL, kv_bytes=1.0).kv_per_token == MODEL.kv_per_token / 2 == 2560
    fp8 = dataclasses.replace(MODEL, weight_bytes=1.0, fp8_arithmetic=True)
    int8_weight_only = dataclasses.replace(MODEL, weight_bytes=1.0, fp8_arithmetic=False)
    assert CHIP.flops(fp8) == 2e14 and CHIP.flops(int8_weight_only) == 1e14


def test_prefill_is_compute_bound_with_quadratic_attention():
    # (2 x 1e9 x 100 + 2 x 10 x 100^2 x 1024) / 5e13 = 4.004096 ms > weights 2e9 / 5e11 = 4 ms
    assert prefill_s(MODEL, CHIP, EFF, 100) == pytest.approx(2e-3 + 4.004096e-3)
    # three prompts in one pass: three times the arithmetic, one fixed cost
    assert prefill_s(MODEL, CHIP, EFF, 100, prompts=3) == pytest.approx(2e-3 + 3 * 4.004096e-3)


def test_tensor_parallel_pays_two_all_reduces_per_layer():
    pair = dataclasses.replace(CHIP, chips=2, link=1e11)
    single_chip_memory = (2e9 + 4 * 5120 * 1000) / (2 * 1e12 * 0.5)
    # 2 x 10 layers x (10 us + 2 x 1/2 x 4 tokens x 1024 x 2 B / 1e11 B/s)
    comm = 20 * (10e-6 + 4 * 1024 * 2 / 1e11)
    assert decode_step_s(MODEL, pair, EFF, 4, 1000) == pytest.approx(1e-3 + single_chip_memory + comm)
    assert decode_step_s(MODEL, dataclasses.replace(pair, link=None), EFF, 4, 1000) == float("inf")


def test_continuous_batching_steady_state():
    state = serve(MODEL, CHIP, EFF, 4, 100, 10)
    step = 1e-3 + (2e9 + 4 * 5120 * 105) / 5e11  # mean context 100 + 10/2
    prefill = 2e-3 + 4.004096e-3
    assert state.requests_per_s == pytest.approx(1 / (prefill + 10 * step / 4))
    assert state.output_tokens_per_s == pytest.approx(10 * state.requests_per_s)
    assert state.tpot_s == pytest.approx(step + 3 * prefill / 10)  # the three others' prefills
    # prompts arriving during a prefill (at the completion rate) join it
    joined = 2e-3 + (1 + state.requests_per_s * prefill) * 4.004096e-3
    assert state.ttft_s == pytest.approx(joined + step / 2)
    assert state.e2e_s == pytest.approx(state.ttft_s + 9 * state.tpot_s)


def test_static_batching_prefills_the_batch_together():
    state = serve(MODEL, CHIP, EFF, 4, 100, 10, batching="static")
    step = 1e-3 + (2e9 + 4 * 5120 * 105) / 5e11
    prefill = 2e-3 + 4 * 4.004096e-3
    assert state.ttft_s == pytest.approx(prefill) and state.tpot_s == pytest.approx(step)
    assert state.requests_per_s == pytest.approx(4 / (prefill + 10 * step))


def test_more_concurrency_buys_throughput_with_latency():
    states = [serve(MODEL, CHIP, EFF, b, 512, 256) for b in (1, 8, 64)]
    assert states[0].output_tokens_per_s < states[1].output_tokens_per_s < states[2].output_tokens_per_s
    assert states[0].tpot_s < states[1].tpot_s < states[2].tpot_s


def test_concurrency_is_bounded_by_the_cache_beside_the_weights():
    # (10 GiB x 0.9 - 2e9) / (5120 x (100 + 10/2)) = 7,663,676,416 / 537,600
    assert max_concurrency(MODEL, CHIP, 100, 10, 0.9) == 14255
    assert max_concurrency(dataclasses.replace(MODEL, params=1e10, active_params=1e10), CHIP, 100, 10, 0.9) == 0


def test_an_embedding_batch_shares_one_prefill():
    state = serve(MODEL, CHIP, EFF, 4, 100, 0)
    prefill = 2e-3 + 4 * 4.004096e-3
    assert state.requests_per_s == pytest.approx(4 / prefill) and state.e2e_s == pytest.approx(prefill)
    assert state.output_tokens_per_s == 0


def test_erlang_c_p95_wait():
    from regions.performance import p95_wait_s

    # one slot, 1 s service, 0.5 req/s: P(wait) = 0.5; P(W > t) = 0.5 e^{-0.5 t} = 0.05 -> t = 2 ln 10
    assert p95_wait_s(1, 1.0, 0.5) == pytest.approx(2 * math.log(10))
    assert p95_wait_s(8, 1.0, 1.0) == 0.0  # light load: fewer than 5 % of requests wait
    assert p95_wait_s(2, 1.0, 2.0) == math.inf
