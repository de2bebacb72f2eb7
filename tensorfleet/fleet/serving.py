"""From the plan to each cluster's Kubernetes layer: every placement row of an LLM stage becomes one
model server, sized as the planner sized it (tensor-parallel width, replicas per node, batch, memory
fraction), in its tenant's namespace, beside the add-ons the cluster's pools need."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pulumi

from components.azure.agentpool import SPOT_TAINT
from components.fleet.identity import WorkloadIdentity
from components.gcp.accelerators import TPU_GENERATIONS, tpu_machine
from components.k8s.addons import AcceleratorPool, ClusterAddonsArgs, Vendor
from components.k8s.layer import KubernetesLayer, KubernetesLayerArgs
from components.k8s.tenant import TenantNamespaceArgs
from components.serving import ServerSpec
from components.serving.images import family_of
from components.serving.manifests import CustomServer, Toleration
from regions.milp import StagePlacement, WorkloadPlan
from regions.placement import FleetPlan
from regions.sizing import SizingAssumptions
from tensorfleet.fleet.base import ClusterTarget, gpu_slices
from workloads.profiles import LlmModel, MeasuredModel, weights_gb

__all__ = ["AKS_SPOT", "INSTANCE_TYPE_LABEL", "node_instance_type", "serve_cluster", "server_spec"]

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
"""The well-known label every cloud's kubelet sets to the node's machine type."""
AKS_SPOT = Toleration(*SPOT_TAINT.split(":")[0].split("="))
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


def serve_cluster(target: ClusterTarget, plan: FleetPlan) -> KubernetesLayer:
    """Registers the cluster's Kubernetes layer under its region fleet, once its system pool is up."""
    by_name = {w.profile.name: w for w in plan.workloads}
    servers: list[ServerSpec] = []
    for row in target.rows:
        identity = target.identities.get(row.workload, WorkloadIdentity())
        spec = server_spec(by_name[row.workload], row, plan.settings.sizing, identity.pod_labels, target.artifacts)
        if spec is not None:
            servers.append(spec)
    tenants: dict[str, dict[str, WorkloadIdentity]] = {}
    for workload, identity in target.identities.items():
        tenants.setdefault(by_name[workload].profile.tenant, {})[workload] = identity
    spot_on_aks = target.cloud == "azure" and any(row.choice.option.capacity == "spot" for row in target.rows)
    return KubernetesLayer(
        f"k8s-{target.cloud}-{target.region}",
        KubernetesLayerArgs(
            kubeconfig=target.kubeconfig,
            addons=ClusterAddonsArgs(
                cloud=target.cloud,
                region=target.region,
                cluster_name=target.cluster_name,
                pools=tuple(_pool(row, target.gpu_driver) for row in target.rows),
                extra_tolerations=(AKS_SPOT,) if spot_on_aks else (),
                leader_worker_sets=any(s.multi_node for s in servers),
                kubernetes_version=target.kubernetes_version,
                kubernetes_version_secret=target.kubernetes_version_secret,
            ),
            tenants=tuple(
                TenantNamespaceArgs(
                    namespace=tenant,
                    servers=tuple(s for s in servers if s.namespace == tenant),
                    identities=identities,
                )
                for tenant, identities in sorted(tenants.items())
            ),
            servers=tuple(servers),
        ),
        pulumi.ResourceOptions(parent=target.fleet, depends_on=[target.system_pool]),
    )


def _pool(row: StagePlacement, gpu_driver: Literal["cloud", "operator"]) -> AcceleratorPool:
    offering = row.choice.option.offering
    family = family_of(offering.accelerator)
    vendor: Vendor = "neuron" if family.startswith("neuron") else family  # type: ignore[assignment]
    return AcceleratorPool(
        vendor=vendor, driver=gpu_driver, instance_type=offering.instance_type, accelerator=offering.accelerator,
        gpu_slices=gpu_slices(row),
    )  # fmt: skip


def server_spec(
    plan: WorkloadPlan,
    row: StagePlacement,
    sizing: SizingAssumptions,
    pod_labels: Mapping[str, str] | None = None,
    artifacts: pulumi.Input[str] | None = None,
) -> ServerSpec | None:
    """The model server of one placement row: vLLM for an LLM (a stage with no output tokens, such as
    embeddings, runs its pooling runner), the team's own server for a measured model that names one;
    None for a measured model that names none. ``pod_labels``: what the cloud's identity binding
    needs on the pods; ``artifacts``: the workload's prefix of the region's artifact storage."""
    profile = plan.profile
    stage = next(s for s in profile.stages if s.name == row.choice.stage)
    model = stage.model
    if isinstance(model, MeasuredModel):
        if model.server is None:
            return None
        custom: CustomServer | None = CustomServer(
            image=model.server.image, args=tuple(model.server.args), port=model.server.port,
            health_path=model.server.health_path, metrics_port=model.server.metrics_port,
            metrics_path=model.server.metrics_path, queue_metric=model.server.queue_metric,
        )  # fmt: skip
    elif isinstance(model, LlmModel):
        custom = None
    else:
        return None
    choice = row.choice
    point = choice.option.point

    def replicas(nodes: int) -> int:
        return nodes * point.replicas_per_node // point.nodes_per_replica  # nodes come in whole groups

    scaling = profile.scaling
    spot_on_aks = row.region.cloud == "azure" and choice.option.capacity == "spot"
    target_ms = scaling.target_p95_latency_ms or profile.slo.p95_latency_ms
    return ServerSpec(
        workload=profile.name,
        stage=choice.stage,
        namespace=profile.tenant,
        model=model.name,
        accelerator=choice.option.offering.accelerator,
        accelerators_per_replica=point.tensor_parallel,
        replicas_per_node=point.replicas_per_node,
        nodes_per_replica=point.nodes_per_replica,
        max_num_seqs=point.batch,
        max_model_len=profile.slo.tokens_in + profile.slo.tokens_out,
        kv_cache_dtype=KV_CACHE_DTYPES[model.kv_cache_dtype] if isinstance(model, LlmModel) else "auto",
        memory_utilisation=_memory_share(row, sizing),
        kv_cache_bytes=point.kv_cache_bytes,
        weights_gb=weights_gb(model),
        replicas_min=0 if scaling.scale_to_zero else replicas(choice.nodes_min),
        replicas_max=replicas(choice.nodes_max),
        replicas_fallback=replicas(choice.nodes_desired),
        target_queue_depth=scaling.target_queue_depth,
        target_latency_s=target_ms / 1000,
        node_selector={
            "tensorfleet.io/workload": profile.name,
            INSTANCE_TYPE_LABEL: node_instance_type(row),
            **_gke_sharing_selector(row),
        },
        tolerations=(AKS_SPOT,) if spot_on_aks else (),
        pooling=profile.slo.tokens_out == 0,
        pod_labels=dict(pod_labels or {}),
        custom=custom,
        artifacts=None if artifacts is None else pulumi.Output.concat(artifacts, profile.name, "/"),
    )


def _memory_share(row: StagePlacement, sizing: SizingAssumptions) -> float:
    """vLLM's ``--gpu-memory-utilization``: a share of the device it sees. A MIG instance is a device
    of its own; time-sliced replicas all see the whole GPU, so each is told its share of it."""
    slices = gpu_slices(row)
    if slices is None or slices.mig_profile is not None:
        return sizing.memory_utilisation
    return sizing.memory_utilisation / slices.replicas_per_gpu


def _gke_sharing_selector(row: StagePlacement) -> dict[str, str]:
    """The node labels GKE puts on shared-GPU nodes, which GKE asks shared-GPU pods to select."""
    slices = gpu_slices(row)
    if row.region.cloud != "gcp" or slices is None:
        return {}
    if slices.mig_profile is not None:
        return {"cloud.google.com/gke-gpu-partition-size": slices.mig_profile}
    return {
        "cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
        "cloud.google.com/gke-max-shared-clients-per-gpu": str(slices.replicas_per_gpu),
    }
