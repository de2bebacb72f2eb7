"""The placed workload as Pulumi resources.

``Workload`` groups everything a workload owns; ``WorkloadPlacement`` records one placement row
(a stage of the workload in one region) so that reviewers see it in every preview and diff, and so
that the cloud resources of later components can hang under it. Neither talks to a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from regions.bill import PLACEMENT_TYPE

__all__ = ["Workload", "WorkloadArgs", "WorkloadPlacement", "WorkloadPlacementArgs"]


@dataclass(frozen=True, kw_only=True)
class WorkloadArgs:
    """Identity and ownership of one workload."""

    owner: str
    """Accountable team; becomes the ``owner`` cost-allocation tag."""
    tenant: str
    """Tenant; becomes the Kubernetes namespace and budget scope."""
    budget_monthly_usd: float
    """The workload's monthly budget, USD."""
    monthly_usd: float
    """Estimated monthly cost of its accelerator capacity, USD (the planner's figure)."""
    monthly_kgco2: float | None
    """Estimated monthly emissions, kgCO2; None where a chip's power is unknown."""
    gateway_only: bool = False
    """True when all traffic goes to external providers through the gateway."""
    hipaa: bool = False
    """Protected health information: every resource in the workload's regions must be encrypted
    with customer-managed keys, TLS only, private (the hipaa-encryption policy checks it)."""
    max_gco2_per_kwh: float | None = None
    """The workload's grid-carbon cap (the carbon-aware-region policy checks it). Default: none."""
    placements: tuple[WorkloadPlacementArgs, ...] = ()
    """One entry per stage and region; each becomes a child WorkloadPlacement."""


@dataclass(frozen=True, kw_only=True)
class WorkloadPlacementArgs:
    """One placement row as the planner decided it. Units are in the names."""

    workload: str
    stage: str
    """Cascade stage (``main`` for single-model workloads)."""
    cloud: str
    region: str
    instance_type: str
    accelerator: str
    accelerator_count: int
    """Accelerators per node."""
    capacity_type: str
    """``on-demand`` or ``spot``."""
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    accelerators_per_replica: int
    """Chips one replica spans, on all its nodes."""
    replicas_per_node: int
    batch: int
    hourly_usd: float
    """Price of one node, USD per hour."""
    monthly_usd: float
    grid_gco2_per_kwh: float | None
    monthly_kgco2: float | None
    reason: str
    """Why this region and offering, and what the runners-up cost."""
    weights_gb: float | None = None
    """Size of the stage's model weights, GB, stored in the region's artifact bucket; None if unknown."""
    takeover_nodes: int = 0
    """Where the nodes are spot: on-demand nodes that may start when another region fails and its
    users move here (min and desired 0). Default: none."""
    nodes_per_replica: int = 1
    """Nodes one replica spans (pipeline stages). Default: one node."""
    replicas_per_gpu: int = 1
    """Replicas that share each GPU (MIG instances or time slices). Default: none share."""
    mig_profile: str | None = None
    """The MIG instance each replica runs on (``1g.10gb``); None for whole GPUs or time slices."""
    disk_gib: int | None = None
    """What each node's disk holds for the OS, images and its replicas' model caches, GiB, where it is
    not the default root disk (on AKS: always, the OS disk or the VM's temporary disk holds it)."""


class Workload(pulumi.ComponentResource):
    """Everything one workload owns in a stack."""

    monthly_usd: pulumi.Output[float]
    """Estimated monthly cost of the workload, USD."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _require(args.budget_monthly_usd > 0, "budget_monthly_usd", f"must be positive, got {args.budget_monthly_usd}")
        # The figures are passed as the component's inputs so that they are part of every preview
        # and diff; a component's inputs are stored in state exactly like its outputs.
        super().__init__("tensorfleet:fleet:Workload", name, workload_inputs(args), opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        # Child names hold the stage, cloud and region but not the instance type, so a new price or
        # a different instance type updates the placement in place instead of replacing it.
        for placement in args.placements:
            WorkloadPlacement(f"{name}-{placement.stage}-{placement.cloud}-{placement.region}", placement, child_opts)
        self.monthly_usd = pulumi.Output.from_input(args.monthly_usd)
        self.register_outputs({"monthlyUsd": self.monthly_usd})


class WorkloadPlacement(pulumi.ComponentResource):
    """One stage of a workload placed in one region (cloud resources attach here in later components)."""

    nodes_desired: pulumi.Output[int]
    """Desired node count from the planner."""

    def __init__(self, name: str, args: WorkloadPlacementArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _require(
            args.nodes_min <= args.nodes_desired <= args.nodes_max,
            "nodes_desired",
            f"must satisfy min <= desired <= max, got {args.nodes_min}/{args.nodes_desired}/{args.nodes_max}",
        )
        _require(args.accelerator_count >= 1, "accelerator_count", f"must be at least 1, got {args.accelerator_count}")
        super().__init__(PLACEMENT_TYPE, name, placement_inputs(args), opts)
        self.nodes_desired = pulumi.Output.from_input(args.nodes_desired)
        self.register_outputs({"nodesDesired": self.nodes_desired})


def workload_inputs(args: WorkloadArgs) -> dict[str, Any]:
    """Wire-form (camelCase) inputs of a Workload."""
    return {
        "owner": args.owner,
        "tenant": args.tenant,
        "budgetMonthlyUsd": args.budget_monthly_usd,
        "monthlyUsd": round(args.monthly_usd, 2),
        "monthlyKgco2": None if args.monthly_kgco2 is None else round(args.monthly_kgco2, 3),
        "gatewayOnly": args.gateway_only,
        "hipaa": args.hipaa,
        "maxGco2PerKwh": args.max_gco2_per_kwh,
    }


def placement_inputs(args: WorkloadPlacementArgs) -> dict[str, Any]:
    """Wire-form (camelCase) inputs of a WorkloadPlacement."""
    return {
        "workload": args.workload,
        "stage": args.stage,
        "cloud": args.cloud,
        "region": args.region,
        "instanceType": args.instance_type,
        "accelerator": args.accelerator,
        "acceleratorCount": args.accelerator_count,
        "capacityType": args.capacity_type,
        "nodes": {"min": args.nodes_min, "desired": args.nodes_desired, "max": args.nodes_max},
        "acceleratorsPerReplica": args.accelerators_per_replica,
        "replicasPerNode": args.replicas_per_node,
        "nodesPerReplica": args.nodes_per_replica,
        "batch": args.batch,
        "hourlyUsd": args.hourly_usd,
        "monthlyUsd": round(args.monthly_usd, 2),
        "gridGco2PerKwh": args.grid_gco2_per_kwh,
        "monthlyKgco2": None if args.monthly_kgco2 is None else round(args.monthly_kgco2, 3),
        "reason": args.reason,
        "weightsGb": args.weights_gb,
        # Only where there are some, so that placements without any keep their inputs unchanged.
        **({"takeoverNodes": args.takeover_nodes} if args.takeover_nodes else {}),
        **({"gpuSharing": _gpu_sharing(args)} if args.replicas_per_gpu > 1 else {}),
        **({"diskGib": args.disk_gib} if args.disk_gib is not None else {}),
    }


def _gpu_sharing(args: WorkloadPlacementArgs) -> dict[str, Any]:
    return {"replicasPerGpu": args.replicas_per_gpu, **({"migProfile": args.mig_profile} if args.mig_profile else {})}


def _require(condition: bool, path: str, reason: str) -> None:
    if not condition:
        raise pulumi.InputPropertiesError(
            "invalid component inputs", errors=[{"property_path": path, "reason": reason}]
        )
