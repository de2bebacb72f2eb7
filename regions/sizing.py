"""How many requests per second one node of an offering serves, and how fast.

LLMs are sized by a roofline model of statically batched serving on one replica of ``k``
accelerators (tensor parallel):

* memory: weights ``W = params x bytes/param`` plus one full ``context_tokens`` sequence of KV
  cache must fit in ``k x memory x memory_utilisation``; the rest bounds the batch ``b``;
* prefill of ``b`` prompts takes ``max(2·P·b·tokens_in / F, (W + b·kv·tokens_in) / BW)`` — compute
  bound for any real prompt;
* each decode step at batch ``b`` takes ``max((W + b·kv·ctx) / BW, 2·P·b / F)`` with ``ctx`` the
  mean context during decode — memory-bandwidth bound until ``b`` is large;
* a batch completes in ``T(b) = prefill + tokens_out x step``; that is the service latency, and the
  replica serves ``b / T(b)`` requests per second.

``F`` and ``BW`` are the chips' dense peak figures from ``accelerator_specs.csv`` times the
efficiencies in :class:`SizingAssumptions`. Models without a roofline (vision, ranking) use the
throughput the team measured (:class:`workloads.profiles.MeasuredModel`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from regions.catalog import AcceleratorSpec
from workloads.profiles import LlmModel, MeasuredThroughput, Slo

__all__ = [
    "BYTES_PER_PARAM",
    "OperatingPoint",
    "SizingAssumptions",
    "kv_cache_bytes_per_token",
    "llm_operating_points",
    "measured_operating_points",
    "pareto_front",
    "replica_memory_bytes",
    "sequence_bytes",
]

BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
_TENSOR_PARALLEL_SIZES = (1, 2, 4, 8, 16)


@dataclass(frozen=True, kw_only=True)
class SizingAssumptions:
    """Knobs of the roofline model; every default is either a cited figure or a stated bound."""

    memory_utilisation: float = 0.9
    """Share of device memory the server may use; vLLM's ``gpu_memory_utilization`` default."""
    bandwidth_efficiency: float = 1.0
    """Achieved over peak memory bandwidth. Default 1.0: the pure roofline, an upper bound."""
    compute_efficiency: float = 1.0
    """Achieved over peak dense FLOPS. Default 1.0: the pure roofline, an upper bound."""
    kv_cache_bytes: float = 2.0
    """Bytes per cached key or value element; 2.0 for a bf16 cache."""
    max_batch: int = 256
    """Largest concurrent batch considered per replica; bounds the search, not the hardware."""


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """One way to run a node: replica shape, batch, and what it delivers."""

    accelerators_per_replica: int
    replicas_per_node: int
    batch: int
    """Concurrent requests per replica."""
    service_ms: float
    """Service time of one request at this point, ms (network excluded)."""
    replica_rps: float
    """Requests per second one replica sustains."""

    @property
    def node_rps(self) -> float:
        """Requests per second one node sustains."""
        return self.replica_rps * self.replicas_per_node


def kv_cache_bytes_per_token(model: LlmModel, assumptions: SizingAssumptions) -> float:
    """Bytes of KV cache per token: keys and values, every layer, every KV head."""
    return 2 * model.layers * model.kv_heads * model.head_dim * assumptions.kv_cache_bytes


def llm_operating_points(
    model: LlmModel, slo: Slo, spec: AcceleratorSpec, accelerators_per_node: int, assumptions: SizingAssumptions
) -> tuple[OperatingPoint, ...]:
    """Every (replica size, batch) point within the SLO's p95 on this node shape; empty if none fits."""
    return _llm_points(
        model, slo.p95_latency_ms, slo.tokens_in, slo.tokens_out, spec, accelerators_per_node, assumptions
    )


@functools.lru_cache(maxsize=8192)
def _llm_points(
    model: LlmModel,
    p95_latency_ms: float,
    tokens_in: int,
    tokens_out: int,
    spec: AcceleratorSpec,
    accelerators_per_node: int,
    assumptions: SizingAssumptions,
) -> tuple[OperatingPoint, ...]:
    """Cached on exactly what sizing depends on: the workloads of a stack share models and chips."""
    params = model.params_billion * 1e9
    weights = params * BYTES_PER_PARAM[model.precision]
    kv_per_token = kv_cache_bytes_per_token(model, assumptions)
    tflops = spec.bf16_tflops
    if model.precision in ("fp8", "int8") and spec.fp8_int8_tflops:
        tflops = spec.fp8_int8_tflops  # int4 is weight-only quantisation: the arithmetic stays bf16
    needed = sequence_bytes(model, assumptions)
    points: list[OperatingPoint] = []
    for k in _TENSOR_PARALLEL_SIZES:
        if k > accelerators_per_node or accelerators_per_node % k:
            continue
        usable = _usable_bytes(spec, k, assumptions)
        if needed > usable:
            continue
        batch_by_memory = int((usable - weights) // (kv_per_token * (tokens_in + tokens_out)))
        bandwidth = k * spec.memory_bandwidth_gbps * 1e9 * assumptions.bandwidth_efficiency
        flops = k * tflops * 1e12 * assumptions.compute_efficiency
        for batch in _batch_ladder(min(batch_by_memory, assumptions.max_batch)):
            seconds = _batch_seconds(params, weights, kv_per_token, tokens_in, tokens_out, batch, bandwidth, flops)
            if seconds * 1000 > p95_latency_ms:
                break  # latency only grows with the batch
            points.append(
                OperatingPoint(
                    accelerators_per_replica=k,
                    replicas_per_node=accelerators_per_node // k,
                    batch=batch,
                    service_ms=seconds * 1000,
                    replica_rps=batch / seconds,
                )
            )
    return tuple(pareto_front(points))


def sequence_bytes(model: LlmModel, assumptions: SizingAssumptions) -> float:
    """What one replica must hold: the weights plus the KV cache of one full ``context_tokens`` sequence."""
    weights = model.params_billion * 1e9 * BYTES_PER_PARAM[model.precision]
    return weights + kv_cache_bytes_per_token(model, assumptions) * model.context_tokens


def replica_memory_bytes(spec: AcceleratorSpec, accelerators_per_node: int, assumptions: SizingAssumptions) -> float:
    """Usable memory of the largest tensor-parallel replica one node of this shape runs, bytes; 0 if none."""
    sizes = [k for k in _TENSOR_PARALLEL_SIZES if k <= accelerators_per_node and accelerators_per_node % k == 0]
    return _usable_bytes(spec, max(sizes, default=0), assumptions)


def _usable_bytes(spec: AcceleratorSpec, accelerators: int, assumptions: SizingAssumptions) -> float:
    return accelerators * spec.memory_gib * 2**30 * assumptions.memory_utilisation


def measured_operating_points(measured: MeasuredThroughput, accelerators_per_node: int) -> list[OperatingPoint]:
    """The team's measured point, replicated across the node's accelerators."""
    replicas = accelerators_per_node // measured.accelerators_per_replica
    if replicas < 1:
        return []
    return [
        OperatingPoint(
            accelerators_per_replica=measured.accelerators_per_replica,
            replicas_per_node=replicas,
            batch=1,
            service_ms=measured.p95_latency_ms,
            replica_rps=measured.requests_per_second,
        )
    ]


def pareto_front(points: list[OperatingPoint]) -> list[OperatingPoint]:
    """Drops points another point beats on both service time and node throughput."""
    ordered = sorted(points, key=lambda p: (p.service_ms, -p.node_rps))
    front: list[OperatingPoint] = []
    best_rps = 0.0
    for point in ordered:
        if point.node_rps > best_rps:
            front.append(point)
            best_rps = point.node_rps
    return front


def _batch_seconds(
    params: float,
    weights: float,
    kv_per_token: float,
    tokens_in: int,
    tokens_out: int,
    batch: int,
    bandwidth: float,
    flops: float,
) -> float:
    prefill = max(2 * params * batch * tokens_in / flops, (weights + batch * kv_per_token * tokens_in) / bandwidth)
    mean_context = tokens_in + tokens_out / 2
    step = max((weights + batch * kv_per_token * mean_context) / bandwidth, 2 * params * batch / flops)
    return prefill + tokens_out * step


def _batch_ladder(limit: int) -> list[int]:
    """Powers of two up to ``limit``, plus ``limit`` itself."""
    ladder = []
    batch = 1
    while batch <= limit:
        ladder.append(batch)
        batch *= 2
    if limit >= 1 and ladder[-1] != limit:
        ladder.append(limit)
    return ladder
