"""From the plan to model servers: each placement row of an LLM stage becomes one server, sized as
the planner sized it (tensor-parallel width, replicas per node, batch, memory fraction)."""

from __future__ import annotations

from components.gcp.accelerators import TPU_GENERATIONS, tpu_machine
from components.serving import ServerSpec
from components.serving.manifests import Toleration
from regions.milp import StagePlacement, WorkloadPlan
from regions.sizing import SizingAssumptions
from workloads.profiles import LlmModel, weights_gb

__all__ = ["AKS_SPOT", "INSTANCE_TYPE_LABEL", "node_instance_type", "server_spec"]

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
"""The well-known label every cloud's kubelet sets to the node's machine type."""
AKS_SPOT = Toleration("kubernetes.azure.com/scalesetpriority", "spot")
"""The taint AKS puts on spot pools."""
KV_CACHE_DTYPES = {"bf16": "auto", "fp8": "fp8"}
"""The profile's KV-cache precision as vLLM's ``--kv-cache-dtype`` (``auto``: the model's own)."""


def node_instance_type(row: StagePlacement) -> str:
    """The row's nodes' ``node.kubernetes.io/instance-type``: the catalog's instance type, except a
    GKE TPU slice, whose nodes are its GKE machine type (``tpu-v6e-4`` runs on ``ct6e-standard-4t``)."""
    offering = row.choice.option.offering
    if row.region.cloud == "gcp" and offering.accelerator in TPU_GENERATIONS:
        return tpu_machine(offering.accelerator, offering.accelerator_count).machine_type
    return offering.instance_type


def server_spec(plan: WorkloadPlan, row: StagePlacement, sizing: SizingAssumptions) -> ServerSpec | None:
    """The model server of one placement row; None where the stage is not an LLM vLLM can serve
    (a measured model brings its own server)."""
    profile = plan.profile
    stage = next(s for s in profile.stages if s.name == row.choice.stage)
    if not isinstance(stage.model, LlmModel):
        return None
    choice = row.choice
    point = choice.option.point
    per_node = point.replicas_per_node
    scaling = profile.scaling
    spot_on_aks = row.region.cloud == "azure" and choice.option.capacity == "spot"
    target_ms = scaling.target_p95_latency_ms or profile.slo.p95_latency_ms
    return ServerSpec(
        workload=profile.name,
        stage=choice.stage,
        namespace=profile.tenant,
        model=stage.model.name,
        accelerator=choice.option.offering.accelerator,
        accelerators_per_replica=point.accelerators_per_replica,
        replicas_per_node=per_node,
        max_num_seqs=point.batch,
        max_model_len=profile.slo.tokens_in + profile.slo.tokens_out,
        kv_cache_dtype=KV_CACHE_DTYPES[stage.model.kv_cache_dtype],
        memory_utilisation=sizing.memory_utilisation,
        weights_gb=weights_gb(stage.model),
        replicas_min=0 if scaling.scale_to_zero else choice.nodes_min * per_node,
        replicas_max=choice.nodes_max * per_node,
        replicas_fallback=choice.nodes_desired * per_node,
        target_queue_depth=scaling.target_queue_depth,
        target_latency_s=target_ms / 1000,
        node_selector={"tensorfleet.io/workload": profile.name, INSTANCE_TYPE_LABEL: node_instance_type(row)},
        tolerations=(AKS_SPOT,) if spot_on_aks else (),
    )
