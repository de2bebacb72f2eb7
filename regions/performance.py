"""What one LLM replica delivers: a roofline skeleton with calibrated efficiencies.

The skeleton is the roofline of ``regions/sizing.py``, with what real servers add:

* a decode step of a continuous batch of ``b`` sequences at mean context ``c`` takes
  ``t0 + max((W_read(b) + b·kv·c) / (k·BW·η_bw), 2·A·b / (k·F·η_c)) + comm(b)``: a fixed per-step
  overhead ``t0`` (scheduling, kernel launches), memory traffic at the achieved share ``η_bw`` of
  peak bandwidth, arithmetic at the achieved share ``η_c`` of peak FLOPS, and tensor-parallel
  communication;
* ``W_read(b) = W·(1 - (1 - A/P)^b)``: a mixture-of-experts model reads only the experts its
  tokens route to (``A`` active of ``P`` parameters); a dense model (``A = P``) reads all weights;
* the KV cache holds ``kv = 2·layers·kv_heads·head_dim·bytes`` per token, in the cache's own
  dtype (bf16 or fp8);
* weight-only quantisation (int8, int4) shrinks ``W`` but not the arithmetic, which stays bf16;
  fp8 weights use fp8 arithmetic on chips that have it;
* tensor parallelism over ``k`` chips costs two all-reduces per layer and step, each
  ``α + 2(k-1)/k · b·hidden·2 bytes / link`` over the node's chip-to-chip link;
* a prefill of ``n`` prompt tokens takes ``t_pf0 + max((2·A·n + 2·layers·n²·hidden) / (k·F·η_c),
  W / (k·BW·η_bw)) + comm(n)``;
* with continuous batching at concurrency ``b`` a replica spends ``t_pf + tokens_out·t_step/b`` of
  its time per request; each sequence sees its tokens every ``t_step`` plus the prefills of the
  ``b - 1`` others spread over its ``tokens_out`` tokens.

``η_bw``, ``η_c``, ``t0``, ``t_pf0`` and ``α`` are fitted per chip family from published measurements
(``regions/data/serving_measurements.csv``, fitted by :mod:`regions.calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "KV_BYTES",
    "WEIGHT_BYTES",
    "Batching",
    "Efficiency",
    "Hardware",
    "ModelShape",
    "Serving",
    "decode_step_s",
    "max_concurrency",
    "p95_wait_s",
    "pipelined",
    "prefill_s",
    "serve",
]

WEIGHT_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
"""Bytes per weight by the precision the weights are stored in."""
KV_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}
"""Bytes per cached key or value element by the cache's dtype."""


@dataclass(frozen=True, kw_only=True)
class ModelShape:
    """What the performance model needs to know of a transformer."""

    params: float
    """Total parameters."""
    active_params: float
    """Parameters each token passes through (equal to ``params`` for a dense model)."""
    layers: int
    hidden_size: int
    kv_heads: int
    head_dim: int
    weight_bytes: float
    """Bytes per stored weight (see WEIGHT_BYTES)."""
    kv_bytes: float
    """Bytes per cached key or value element (see KV_BYTES)."""
    fp8_arithmetic: bool
    """True when weights are fp8 and the chip computes in fp8."""

    @property
    def weights(self) -> float:
        """Bytes of weights of the whole model."""
        return self.params * self.weight_bytes

    @property
    def kv_per_token(self) -> float:
        """Bytes of KV cache per token: keys and values, every layer, every KV head."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.kv_bytes


@dataclass(frozen=True, kw_only=True)
class Hardware:
    """One replica's chips: ``chips`` of one kind, with their peak figures."""

    chips: int
    memory_bytes: float
    """Per chip."""
    bandwidth: float
    """Peak memory bandwidth per chip, bytes/s."""
    bf16_flops: float
    """Peak dense bf16 FLOP/s per chip."""
    fp8_flops: float | None
    """Peak dense fp8/int8 FLOP/s per chip; None if the chip has no 8-bit arithmetic."""
    link: float | None
    """Chip-to-chip bandwidth one chip sends at, bytes/s; None when unknown (single chip only)."""

    def flops(self, model: ModelShape) -> float:
        """Peak FLOP/s per chip for the model's arithmetic."""
        return self.fp8_flops if model.fp8_arithmetic and self.fp8_flops else self.bf16_flops


@dataclass(frozen=True, kw_only=True)
class Efficiency:
    """Calibrated figures of one chip family and serving stack."""

    bandwidth: float
    """Achieved over peak memory bandwidth in decode."""
    compute: float
    """Achieved over peak dense FLOPS."""
    step_overhead_s: float
    """Fixed time of every decode step, seconds."""
    prefill_overhead_s: float
    """Fixed time of every prefill pass, seconds (some stacks run prefill as a separate graph)."""
    allreduce_latency_s: float
    """Fixed time of one all-reduce across the replica's chips, seconds."""


@dataclass(frozen=True, kw_only=True)
class Serving:
    """A replica at one steady concurrency, without queueing."""

    concurrency: int
    requests_per_s: float
    output_tokens_per_s: float
    ttft_s: float
    """Time to first token: the prompt's prefill, plus half a step of waiting when batched."""
    tpot_s: float
    """Time per output token seen by one sequence."""
    e2e_s: float
    """Time from the request to its last token."""


def _comm_s(model: ModelShape, hw: Hardware, eff: Efficiency, tokens: float) -> float:
    if hw.chips == 1:
        return 0.0
    if hw.link is None:
        return math.inf
    message = tokens * model.hidden_size * 2  # bf16 activations
    per_allreduce = eff.allreduce_latency_s + 2 * (hw.chips - 1) / hw.chips * message / hw.link
    return 2 * model.layers * per_allreduce


def decode_step_s(model: ModelShape, hw: Hardware, eff: Efficiency, batch: int, context: float) -> float:
    """Seconds of one decode step for ``batch`` sequences at mean ``context`` tokens."""
    share = model.active_params / model.params
    weights_read = model.weights * (1 - (1 - share) ** batch)
    memory = (weights_read + batch * model.kv_per_token * context) / (hw.chips * hw.bandwidth * eff.bandwidth)
    arithmetic = 2 * model.active_params * batch / (hw.chips * hw.flops(model) * eff.compute)
    return eff.step_overhead_s + max(memory, arithmetic) + _comm_s(model, hw, eff, batch)


def prefill_s(model: ModelShape, hw: Hardware, eff: Efficiency, tokens: int, prompts: float = 1.0) -> float:
    """Seconds to prefill ``prompts`` prompts of ``tokens`` tokens in one pass (attention is per prompt)."""
    flops = prompts * (2 * model.active_params * tokens + 2 * model.layers * tokens**2 * model.hidden_size)
    arithmetic = flops / (hw.chips * hw.flops(model) * eff.compute)
    memory = model.weights / (hw.chips * hw.bandwidth * eff.bandwidth)
    return eff.prefill_overhead_s + max(arithmetic, memory) + _comm_s(model, hw, eff, prompts * tokens)


def max_concurrency(model: ModelShape, hw: Hardware, tokens_in: int, tokens_out: int, memory_utilisation: float) -> int:
    """Sequences whose KV cache fits beside the weights (paged: each holds its mean context); 0 if
    the weights alone do not fit."""
    free = hw.chips * hw.memory_bytes * memory_utilisation - model.weights
    if free <= 0:
        return 0
    return int(free // (model.kv_per_token * (tokens_in + tokens_out / 2)))


Batching = Literal["continuous", "static"]
"""``continuous``: sequences join and leave the running batch at every step (vLLM, TensorRT-LLM,
TGI, JetStream). ``static``: a batch is prefilled together and decoded to its end before the next
(transformers-neuronx's benchmark mode)."""


def serve(
    model: ModelShape,
    hw: Hardware,
    eff: Efficiency,
    concurrency: int,
    tokens_in: int,
    tokens_out: int,
    *,
    batching: Batching = "continuous",
    arrival_rate: float | None = None,
) -> Serving:
    """Steady state of a replica kept at ``concurrency`` sequences, without queueing.

    Continuous batching: a prompt is prefilled together with the prompts that arrive while a
    prefill runs (``arrival_rate`` x prefill time of them; by default the replica's own completion
    rate), so TTFT grows with load. Static batching: the whole batch is prefilled at once.
    """
    out = max(tokens_out, 1)
    step = decode_step_s(model, hw, eff, concurrency, tokens_in + tokens_out / 2)
    if tokens_out == 0:  # embedding or scoring: the batch's prompts share one prefill pass, no decode
        prefill = prefill_s(model, hw, eff, tokens_in, prompts=concurrency)
        return Serving(
            concurrency=concurrency,
            requests_per_s=concurrency / prefill,
            output_tokens_per_s=0.0,
            ttft_s=prefill,
            tpot_s=0.0,
            e2e_s=prefill,
        )
    if batching == "static":
        prefill = prefill_s(model, hw, eff, tokens_in, prompts=concurrency)
        cycle = prefill + tokens_out * step
        return Serving(
            concurrency=concurrency,
            requests_per_s=concurrency / cycle,
            output_tokens_per_s=concurrency * tokens_out / cycle,
            ttft_s=prefill,
            tpot_s=step,
            e2e_s=prefill + max(tokens_out - 1, 0) * step,
        )
    prefill = prefill_s(model, hw, eff, tokens_in)
    per_request = prefill + tokens_out * step / concurrency
    tpot = step + (concurrency - 1) * prefill / out
    rate = arrival_rate if arrival_rate is not None else 1 / per_request
    joined = prefill_s(model, hw, eff, tokens_in, prompts=1 + rate * prefill)
    ttft = joined + (step / 2 if concurrency > 1 else 0.0)
    return Serving(
        concurrency=concurrency,
        requests_per_s=1 / per_request,
        output_tokens_per_s=tokens_out / per_request,
        ttft_s=ttft,
        tpot_s=tpot,
        e2e_s=ttft + max(tokens_out - 1, 0) * tpot,
    )


def pipelined(stage: Serving, stages: int, tokens_out: int, hop_step_s: float, hop_prefill_s: float) -> Serving:
    """A replica pipelined over ``stages`` nodes from what its slowest stage delivers.

    Each stage holds ``1/stages`` of the layers and runs ``stages`` batches in turn (vLLM keeps one
    batch per stage in flight), so the replica completes requests as fast as one stage does, with
    ``stages`` times the concurrency; every token crosses every stage, so a sequence sees each step
    and its prefill ``stages`` times over, plus a network hop between consecutive stages
    (``hop_step_s`` per decode step, ``hop_prefill_s`` per prefill; the caller prices the activations
    on the node network).
    """
    ttft = stages * stage.ttft_s + (stages - 1) * hop_prefill_s
    if tokens_out == 0:
        return replace(stage, concurrency=stages * stage.concurrency, ttft_s=ttft, e2e_s=ttft)
    tpot = stages * stage.tpot_s + (stages - 1) * hop_step_s
    return replace(
        stage,
        concurrency=stages * stage.concurrency,
        ttft_s=ttft,
        tpot_s=tpot,
        e2e_s=ttft + max(tokens_out - 1, 0) * tpot,
    )


def p95_wait_s(servers: int, service_s: float, arrival_rate: float) -> float:
    """p95 queueing delay of an M/M/c queue (Erlang C): ``servers`` slots of mean ``service_s``.

    A replica at concurrency ``b`` is ``b`` slots, each holding a request for its whole end-to-end
    time; exponential service is the conservative choice for LLM requests whose lengths vary.
    Returns infinity at or above saturation.
    """
    offered = arrival_rate * service_s
    if offered >= servers:
        return math.inf
    blocking = 1.0  # Erlang B by the stable recursion, then Erlang C
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    waiting = servers * blocking / (servers - offered * (1 - blocking))
    if waiting <= 0.05:
        return 0.0
    return math.log(waiting / 0.05) / (servers / service_s - arrival_rate)
