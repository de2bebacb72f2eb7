"""How many requests per second one node of an offering serves, and how fast, at peak load.

LLMs are sized by the calibrated performance model of :mod:`regions.performance` (a roofline with
per-family efficiencies fitted to published measurements, see :mod:`regions.calibration`):

* a replica spans ``k`` of the node's chips (tensor parallel), any ``k`` the node holds that the
  server can shard the model over (:func:`replica_widths`); the node runs ``chips // k`` replicas;
* weights plus one full ``context_tokens`` sequence of KV cache must fit in ``k x memory x
  memory_utilisation``; the rest bounds the concurrency, as does the server's own limit
  (``max_batch``, vLLM's ``max_num_seqs``);
* at each concurrency ``b`` the replica delivers requests/s, TTFT, TPOT and end-to-end time by
  continuous batching; at peak it runs at a utilisation ``ρ`` of that rate, and requests queue for
  a slot: the p95 wait of an M/M/c queue with ``c = b`` (Erlang C, :func:`p95_wait_s`) is added to
  TTFT and end-to-end time;
* a point qualifies when its p95 TPOT meets ``tpot_p95_ms``; its ``service_ms`` is what the
  placement adds the network round trip to: the larger of the p95 end-to-end time and the p95 TTFT
  shifted by ``p95_latency_ms - ttft_p95_ms``, so that ``service_ms + rtt <= p95_latency_ms``
  checks both SLOs at once.

Models without a roofline (vision, ranking) use the throughput the team measured
(:class:`workloads.profiles.MeasuredModel`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from regions.calibration import CHIP_FAMILIES, FP8_FAMILIES, efficiency_of, hardware_of, link_of
from regions.catalog import AcceleratorSpec, MigProfile
from regions.performance import (
    KV_BYTES,
    WEIGHT_BYTES,
    Efficiency,
    ModelShape,
    Serving,
    max_concurrency,
    p95_wait_s,
    pipelined,
    serve,
)
from workloads.profiles import GpuSharing, LlmModel, MeasuredThroughput, Slo

__all__ = [
    "BYTES_PER_PARAM",
    "UTILISATIONS",
    "GpuShare",
    "OperatingPoint",
    "SizingAssumptions",
    "gpu_share",
    "kv_cache_bytes_per_token",
    "llm_operating_points",
    "measured_operating_points",
    "model_shape",
    "pareto_front",
    "replica_memory_bytes",
    "replica_widths",
    "sequence_bytes",
    "shared_operating_points",
]

BYTES_PER_PARAM = {"bf16": WEIGHT_BYTES["bf16"], "fp8": WEIGHT_BYTES["fp8"], "int8": WEIGHT_BYTES["int8"],
                   "int4": WEIGHT_BYTES["int4"]}  # fmt: skip
UTILISATIONS = (0.5, 0.6, 0.7, 0.8, 0.9)
"""Shares of a replica's capacity the planner may load it to at peak; queueing grows with each."""


@dataclass(frozen=True, kw_only=True)
class SizingAssumptions:
    """Knobs of the sizing model; every default is either a cited figure or a stated bound."""

    memory_utilisation: float = 0.9
    """Share of device memory the server may use; vLLM's ``gpu_memory_utilization`` default."""
    bandwidth_efficiency: float | None = None
    """Achieved over peak memory bandwidth. Default: the chip family's calibrated figure."""
    compute_efficiency: float | None = None
    """Achieved over peak dense FLOPS. Default: the chip family's calibrated figure."""
    max_batch: int = 256
    """Most sequences a replica runs at once: vLLM's ``max_num_seqs`` default (256)."""
    kubelet_max_pods: int = 110
    """Most pods a node runs where no per-instance figure is known: the kubelet's default
    (``--max-pods``, also GKE Standard's default). EKS nodes take their instance type's figure
    (``regions/data/aws_max_pods.csv``)."""
    node_system_pods: int = 10
    """Pods of a node that are not model servers: a stated allowance for its DaemonSets (CNI, proxy,
    CSI node, device plugin, GPU and node exporters)."""
    max_nodes_per_replica: int = 4
    """Most nodes one replica may span (pipeline stages, a power of two), only for a model that no
    single node holds: a stated bound, as each stage adds a network hop to every token."""


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """One way to run a node: replica shape, concurrency, load, and what it delivers at peak."""

    accelerators_per_replica: int
    """Chips one replica spans, on all its nodes."""
    replicas_per_node: int
    batch: int
    """Concurrent requests per replica (per pipeline stage when the replica spans nodes)."""
    service_ms: float
    """Latency the network round trip is added to, ms: p95 end-to-end, or p95 TTFT shifted onto
    the end-to-end budget, whichever binds (see the module docstring)."""
    replica_rps: float
    """Requests per second one replica sustains at this point's peak load."""
    ttft_ms: float = 0.0
    """p95 time to first token, queueing included, ms (network excluded)."""
    tpot_ms: float = 0.0
    """Time per output token, ms."""
    e2e_ms: float = 0.0
    """p95 end-to-end service time, queueing included, ms (network excluded)."""
    utilisation: float = 1.0
    """Share of the replica's capacity in use at peak."""
    nodes_per_replica: int = 1
    """Nodes one replica spans: pipeline stages, each tensor parallel over a whole node."""
    replicas_per_accelerator: int = 1
    """Replicas that share one accelerator (MIG instances or time slices); 1 when each owns chips."""
    mig_profile: str | None = None
    """The MIG instance each replica runs on (``1g.10gb``); None for whole chips or time slices."""
    kv_cache_bytes: int | None = None
    """KV cache of one time-sliced replica, bytes: its share of the GPU's usable memory less the
    weights, as sized (the server is told it); None where the server measures it itself."""

    @property
    def per_node(self) -> float:
        """Replicas per node: below one (exactly ``1 / nodes_per_replica``) when a replica spans nodes."""
        return self.replicas_per_node / self.nodes_per_replica

    @property
    def tensor_parallel(self) -> int:
        """Chips one pipeline stage (one node's share of a replica) shards the model over."""
        return self.accelerators_per_replica // self.nodes_per_replica

    @property
    def node_rps(self) -> float:
        """Requests per second one node sustains."""
        return self.replica_rps * self.per_node


@dataclass(frozen=True, slots=True)
class GpuShare:
    """What one replica gets of a shared GPU, and how many replicas one GPU holds."""

    replicas_per_gpu: int
    memory: float
    """Share of the GPU's memory."""
    bandwidth: float
    """Share of its memory bandwidth."""
    compute: float
    """Share of its compute (SMs, or time)."""
    mig_profile: str | None = None
    """NVIDIA's name of the MIG instance; None for time slices."""

    def of(self, spec: AcceleratorSpec) -> AcceleratorSpec:
        """The spec of one share: the same chip (and calibration) with its share of each peak."""
        fp8 = spec.fp8_int8_tflops
        return replace(
            spec,
            memory_gib=spec.memory_gib * self.memory,
            memory_bandwidth_gbps=spec.memory_bandwidth_gbps * self.bandwidth,
            bf16_tflops=spec.bf16_tflops * self.compute,
            fp8_int8_tflops=None if fp8 is None else fp8 * self.compute,
        )


def gpu_share(sharing: GpuSharing, spec: AcceleratorSpec, mig: MigProfile | None) -> GpuShare | None:
    """A replica's share of one ``spec`` GPU under the profile's sharing; None where the GPU cannot
    be shared that way.

    MIG: the profile's fractions (NVIDIA's table; a memory slice carries its share of the memory
    controllers, so bandwidth follows memory). Time slicing: replicas take equal turns, each with
    an equal share of memory (nothing isolates it, so the server is told its share) — a stated model
    that charges nothing for switching between them.
    """
    if spec.vendor != "NVIDIA":
        return None
    if sharing.mig is not None:
        if mig is None:
            return None
        return GpuShare(mig.instances_per_gpu, mig.memory_fraction, mig.memory_fraction, mig.compute_fraction, mig.name)
    turns = sharing.time_slicing or 1
    return GpuShare(turns, 1 / turns, 1 / turns, 1 / turns)


def shared_operating_points(
    model: LlmModel, slo: Slo, spec: AcceleratorSpec, accelerators_per_node: int, share: GpuShare,
    assumptions: SizingAssumptions,
) -> tuple[OperatingPoint, ...]:  # fmt: skip
    """Every point within the SLO of replicas that each run on one share of a GPU: a one-chip replica
    sized on the share, ``replicas_per_gpu`` of them on every GPU of the node (no tensor parallelism
    across shares, no pipeline: a shared GPU serves models that fit one share)."""
    per_node = accelerators_per_node * share.replicas_per_gpu
    sliced = share.of(spec)
    points = llm_operating_points(model, slo, sliced, 1, assumptions)
    kv = None
    if share.mig_profile is None:  # time slices: every replica beside the others on the whole GPU
        kv = math.floor(sliced.memory_gib * 2**30 * assumptions.memory_utilisation - model_shape(model, sliced).weights)
    return tuple(
        replace(p, replicas_per_node=per_node, replicas_per_accelerator=share.replicas_per_gpu,
                mig_profile=share.mig_profile, kv_cache_bytes=kv)
        for p in points
    )  # fmt: skip


def model_shape(model: LlmModel, spec: AcceleratorSpec) -> ModelShape:
    """The performance model's view of a profile's LLM on one chip kind."""
    params = model.params_billion * 1e9
    hidden = model.hidden_size or round(math.sqrt(params / (12 * model.layers)))
    return ModelShape(
        params=params,
        active_params=(model.active_params_billion or model.params_billion) * 1e9,
        layers=model.layers,
        hidden_size=hidden,
        kv_heads=model.kv_heads,
        head_dim=model.head_dim,
        weight_bytes=BYTES_PER_PARAM[model.precision],
        kv_bytes=KV_BYTES[model.kv_cache_dtype],
        fp8_arithmetic=model.precision == "fp8" and CHIP_FAMILIES.get(spec.name) in FP8_FAMILIES,
    )


def kv_cache_bytes_per_token(model: LlmModel, assumptions: SizingAssumptions | None = None) -> float:
    """Bytes of KV cache per token: keys and values, every layer, every KV head, in the cache's dtype."""
    return 2 * model.layers * model.kv_heads * model.head_dim * KV_BYTES[model.kv_cache_dtype]


def replica_widths(model: LlmModel, spec: AcceleratorSpec, accelerators_per_node: int) -> list[int]:
    """Tensor-parallel sizes a node of this many chips can run for the model.

    GPU servers (vLLM) split KV heads evenly or replicate them: ``kv_heads % k == 0`` or
    ``k % kv_heads == 0``. Neuron shards over NeuronCores (two per chip) and pads heads, and TPU
    servers shard over chips likewise, so any width the node holds works there (an inf2.48xlarge
    runs Llama 3 70B across all 12 chips).
    """
    widths = range(1, accelerators_per_node + 1)
    if CHIP_FAMILIES.get(spec.name) in ("neuron", "tpu"):
        return list(widths)
    return [k for k in widths if model.kv_heads % k == 0 or k % model.kv_heads == 0]


def llm_operating_points(
    model: LlmModel,
    slo: Slo,
    spec: AcceleratorSpec,
    accelerators_per_node: int,
    assumptions: SizingAssumptions,
    node_network_gbps: float | None = None,
) -> tuple[OperatingPoint, ...]:
    """Every (replica width, concurrency, load) point within the SLO on this node; empty if none.

    A model that no single node holds may span several nodes, pipelined, where ``node_network_gbps``
    (the slowest node-to-node network of the nodes considered, Gbit/s) is known."""
    return _llm_points(
        model, slo.p95_latency_ms, slo.ttft_p95_ms, slo.tpot_p95_ms, slo.tokens_in, slo.tokens_out, spec,
        accelerators_per_node, assumptions, node_network_gbps,
    )  # fmt: skip


@functools.lru_cache(maxsize=8192)
def _llm_points(
    model: LlmModel,
    p95_ms: float,
    ttft_ms: float | None,
    tpot_ms: float | None,
    tokens_in: int,
    tokens_out: int,
    spec: AcceleratorSpec,
    accelerators_per_node: int,
    assumptions: SizingAssumptions,
    node_network_gbps: float | None,
) -> tuple[OperatingPoint, ...]:
    """Cached on exactly what sizing depends on: the workloads of a stack share models and chips."""
    efficiency = _efficiency(spec, assumptions)
    if efficiency is None:
        return ()
    shape = model_shape(model, spec)
    slo = _Targets(p95_ms, ttft_ms, tpot_ms)
    points: list[OperatingPoint] = []
    for k in replica_widths(model, spec, accelerators_per_node):
        hardware = hardware_of(spec, k, link_of(spec.name))
        if k > 1 and hardware.link is None:
            continue
        if sequence_bytes(model) > k * hardware.memory_bytes * assumptions.memory_utilisation:
            continue
        limit = min(max_concurrency(shape, hardware, tokens_in, tokens_out, assumptions.memory_utilisation),
                    assumptions.max_batch)  # fmt: skip
        for batch in _ladder(limit):
            state = serve(shape, hardware, efficiency, batch, tokens_in, tokens_out)
            if tpot_ms is not None and state.tpot_s * 1000 > tpot_ms:
                break  # TPOT only grows with the concurrency
            per_node = accelerators_per_node // k
            points += _loaded(state, batch, slo, accelerators_per_replica=k, replicas_per_node=per_node)
    too_big = sequence_bytes(model) > replica_memory_bytes(spec, accelerators_per_node, assumptions)
    if too_big and node_network_gbps is not None:
        points = _pipelined_points(
            model, shape, spec, accelerators_per_node, efficiency, assumptions, slo, tokens_in, tokens_out,
            node_network_gbps,
        )  # fmt: skip
    return tuple(pareto_front(points))


@dataclass(frozen=True, slots=True)
class _Targets:
    p95_ms: float
    ttft_ms: float | None
    tpot_ms: float | None


def _loaded(
    state: Serving, batch: int, slo: _Targets, *, accelerators_per_replica: int, replicas_per_node: int,
    nodes_per_replica: int = 1,
) -> list[OperatingPoint]:  # fmt: skip
    """The points of one replica state at each peak load whose p95 (queueing included) meets the SLO.
    ``batch`` is how many requests the replica runs at once (every stage's, when pipelined)."""
    points = []
    for share in UTILISATIONS:
        rate = share * state.requests_per_s
        wait = p95_wait_s(state.concurrency, state.e2e_s, rate)
        e2e = (state.e2e_s + wait) * 1000
        ttft = (state.ttft_s + wait) * 1000
        service = max(e2e, ttft + slo.p95_ms - slo.ttft_ms) if slo.ttft_ms is not None else e2e
        if service > slo.p95_ms:
            break  # queueing only grows with the load
        points.append(
            OperatingPoint(
                batch=batch, service_ms=service, replica_rps=rate, ttft_ms=ttft, tpot_ms=state.tpot_s * 1000,
                e2e_ms=e2e, utilisation=share, accelerators_per_replica=accelerators_per_replica,
                replicas_per_node=replicas_per_node, nodes_per_replica=nodes_per_replica,
            )
        )  # fmt: skip
    return points


def _pipelined_points(
    model: LlmModel,
    shape: ModelShape,
    spec: AcceleratorSpec,
    accelerators_per_node: int,
    efficiency: Efficiency,
    assumptions: SizingAssumptions,
    slo: _Targets,
    tokens_in: int,
    tokens_out: int,
    node_network_gbps: float,
) -> list[OperatingPoint]:
    """Replicas of ``n`` nodes (2, 4, ... up to ``max_nodes_per_replica``): tensor parallel over each
    whole node, pipeline parallel across nodes; the fewest stages that hold the model, and one more
    doubling (more stages hold more concurrent sequences). Activations cross the node network once
    per stage boundary, each hop costing the family's fitted collective latency plus the bytes at
    the network's rate."""
    k = accelerators_per_node
    if CHIP_FAMILIES.get(spec.name) in ("neuron", "tpu") or k not in replica_widths(model, spec, k):
        return []
    hardware = hardware_of(spec, k, link_of(spec.name))
    if k > 1 and hardware.link is None:
        return []
    network = node_network_gbps * 1e9 / 8  # bytes/s
    points: list[OperatingPoint] = []
    fitted = 0
    n = 2
    while n <= assumptions.max_nodes_per_replica and fitted < 2:
        layers = math.ceil(model.layers / n)
        fraction = layers / model.layers  # the stage with the most layers sets the pace
        stage_shape = replace(shape, params=shape.params * fraction, active_params=shape.active_params * fraction,
                              layers=layers)  # fmt: skip
        if sequence_bytes(model) * fraction <= k * hardware.memory_bytes * assumptions.memory_utilisation:
            fitted += 1
            held = max_concurrency(stage_shape, hardware, tokens_in, tokens_out, assumptions.memory_utilisation)
            for batch in _ladder(min(held // n, assumptions.max_batch)):
                stage = serve(stage_shape, hardware, efficiency, batch, tokens_in, tokens_out)
                hop_step = efficiency.allreduce_latency_s + batch * shape.hidden_size * 2 / network
                hop_prefill = efficiency.allreduce_latency_s + tokens_in * shape.hidden_size * 2 / network
                state = pipelined(stage, n, tokens_out, hop_step, hop_prefill)
                if slo.tpot_ms is not None and state.tpot_s * 1000 > slo.tpot_ms:
                    break
                points += _loaded(state, batch, slo, accelerators_per_replica=n * k, replicas_per_node=1,
                                  nodes_per_replica=n)  # fmt: skip
        n *= 2
    return points


def _efficiency(spec: AcceleratorSpec, assumptions: SizingAssumptions) -> Efficiency | None:
    calibrated = efficiency_of(spec.name)
    if calibrated is None:
        return None
    return Efficiency(
        bandwidth=assumptions.bandwidth_efficiency or calibrated.bandwidth,
        compute=assumptions.compute_efficiency or calibrated.compute,
        step_overhead_s=calibrated.step_overhead_s,
        prefill_overhead_s=calibrated.prefill_overhead_s,
        allreduce_latency_s=calibrated.allreduce_latency_s,
    )


def sequence_bytes(model: LlmModel, assumptions: SizingAssumptions | None = None) -> float:
    """What one replica must hold: the weights plus the KV cache of one full ``context_tokens`` sequence."""
    weights = model.params_billion * 1e9 * BYTES_PER_PARAM[model.precision]
    return weights + kv_cache_bytes_per_token(model) * model.context_tokens


def replica_memory_bytes(spec: AcceleratorSpec, accelerators_per_node: int, assumptions: SizingAssumptions) -> float:
    """Usable memory of the widest replica one node of this shape runs (all its chips), bytes."""
    return accelerators_per_node * spec.memory_gib * 2**30 * assumptions.memory_utilisation


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
            e2e_ms=measured.p95_latency_ms,
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


def _ladder(limit: int) -> list[int]:
    """Powers of two up to ``limit``, plus ``limit`` itself."""
    ladder = []
    batch = 1
    while batch <= limit:
        ladder.append(batch)
        batch *= 2
    if limit >= 1 and ladder[-1] != limit:
        ladder.append(limit)
    return ladder
