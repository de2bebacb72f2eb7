"""The cloud-neutral record of each workload: its placements, costs and reasons, as app teams read them."""

from __future__ import annotations

from typing import Any

from components.fleet import WorkloadArgs, WorkloadPlacementArgs
from components.fleet.workload import placement_inputs
from regions.explain import explain
from regions.footprint import ROOT_DISK_GIB
from regions.milp import StagePlacement
from regions.placement import WorkloadPlan
from tensorfleet.outputs import PlacementOutput
from workloads.profiles import WorkloadProfile, weights_gb

__all__ = ["gateway_only_args", "workload_args", "workload_output"]


def workload_args(plan: WorkloadPlan) -> WorkloadArgs:
    reasons = explain(plan)
    stages = {stage.name: stage.model for stage in plan.profile.stages}
    placements = tuple(
        WorkloadPlacementArgs(
            workload=plan.profile.name,
            stage=row.choice.stage,
            cloud=row.region.cloud,
            region=row.region.code,
            instance_type=row.choice.option.offering.instance_type,
            accelerator=row.choice.option.offering.accelerator,
            accelerator_count=row.choice.option.offering.accelerator_count,
            capacity_type=row.choice.option.capacity,
            nodes_min=row.choice.nodes_min,
            nodes_desired=row.choice.nodes_desired,
            nodes_max=row.choice.nodes_max,
            accelerators_per_replica=row.choice.option.point.accelerators_per_replica,
            replicas_per_node=row.choice.option.point.replicas_per_node,
            nodes_per_replica=row.choice.option.point.nodes_per_replica,
            batch=row.choice.option.point.batch,
            hourly_usd=row.choice.option.usd_per_node_hour,
            monthly_usd=row.choice.monthly_usd,
            grid_gco2_per_kwh=row.region.grid_gco2_per_kwh,
            monthly_kgco2=row.choice.monthly_kgco2,
            reason=reasons[(row.region.key, row.choice.stage)],
            weights_gb=weights_gb(stages[row.choice.stage]),
            takeover_nodes=row.choice.takeover_nodes,
            replicas_per_gpu=row.choice.option.point.replicas_per_accelerator,
            mig_profile=row.choice.option.point.mig_profile,
            disk_gib=_stated_disk(row),
        )
        for row in plan.rows
    )
    profile = plan.profile
    return WorkloadArgs(
        owner=profile.owner,
        tenant=profile.tenant,
        budget_monthly_usd=profile.budget.monthly_usd,
        monthly_usd=plan.monthly_usd,
        monthly_kgco2=plan.monthly_kgco2,
        placements=placements,
        hipaa=profile.compliance.hipaa,
        max_gco2_per_kwh=profile.carbon.max_gco2_per_kwh,
    )


def workload_output(args: WorkloadArgs, owner: str) -> dict[str, Any]:
    # Each placement output is the subset of the component's wire-form inputs that app teams need.
    fields = [field.alias or name for name, field in PlacementOutput.model_fields.items()]
    return {
        "tenant": args.tenant,
        "owner": owner,
        "namespace": args.tenant,
        "gatewayOnly": args.gateway_only,
        "monthlyUsd": round(args.monthly_usd, 2),
        "placements": [
            {key: value for key, value in placement_inputs(p).items() if key in fields} for p in args.placements
        ],
    }


def gateway_only_args(profile: WorkloadProfile) -> WorkloadArgs:
    """A workload served only through the gateway: no placements, nothing billed by the stack."""
    return WorkloadArgs(
        owner=profile.owner,
        tenant=profile.tenant,
        budget_monthly_usd=profile.budget.monthly_usd,
        monthly_usd=0.0,
        monthly_kgco2=0.0,
        gateway_only=True,
        hipaa=profile.compliance.hipaa,
    )


def _stated_disk(row: StagePlacement) -> int | None:
    """The node disk a placement states: on EKS and GKE where it is not the default root disk; on
    AKS always, as it is what the kubelet's disk holds rather than a disk's size."""
    disk = row.choice.option.disk_gib
    return disk if row.region.cloud == "azure" or disk != ROOT_DISK_GIB else None
