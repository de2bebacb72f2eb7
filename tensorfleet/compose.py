"""Turns a fleet plan into components and the stack's typed outputs (called by stacks/__main__.py)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.fleet import Workload, WorkloadArgs, WorkloadPlacementArgs
from components.fleet.workload import placement_inputs
from regions.explain import explain
from regions.placement import FleetPlan, WorkloadPlan
from tensorfleet.outputs import SCHEMA_VERSION, PlacementOutput, StackOutputs

__all__ = ["compose_fleet"]


def compose_fleet(plan: FleetPlan, environment: str) -> dict[str, Any]:
    """Registers one Workload component per workload and returns the stack outputs (wire form)."""
    workloads: dict[str, Any] = {}
    for workload_plan in plan.workloads:
        args = _workload_args(workload_plan)
        Workload(workload_plan.profile.name, args)
        workloads[workload_plan.profile.name] = _workload_output(args, workload_plan.profile.owner)
    for profile in plan.gateway_only:
        args = WorkloadArgs(
            owner=profile.owner,
            tenant=profile.tenant,
            budget_monthly_usd=profile.budget.monthly_usd,
            monthly_usd=0.0,
            monthly_kgco2=0.0,
            gateway_only=True,
        )
        Workload(profile.name, args)
        workloads[profile.name] = _workload_output(args, profile.owner)
    kg = plan.monthly_kgco2
    outputs = StackOutputs.model_validate(
        {
            "schemaVersion": SCHEMA_VERSION,
            "environment": environment,
            "objective": plan.settings.objective,
            "workloads": workloads,
            "totals": {"monthlyUsd": round(plan.monthly_usd, 2), "monthlyKgco2": None if kg is None else round(kg, 3)},
        }
    )
    return outputs.model_dump(by_alias=True)


def _workload_args(plan: WorkloadPlan) -> WorkloadArgs:
    reasons = explain(plan)
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
            batch=row.choice.option.point.batch,
            hourly_usd=row.choice.option.usd_per_node_hour,
            monthly_usd=row.choice.monthly_usd,
            grid_gco2_per_kwh=row.region.grid_gco2_per_kwh,
            monthly_kgco2=row.choice.monthly_kgco2,
            reason=reasons[(row.region.key, row.choice.stage)].text,
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
    )


def _workload_output(args: WorkloadArgs, owner: str) -> dict[str, Any]:
    # Each placement output is the subset of the component's wire-form inputs that app teams need.
    fields = [field.alias or name for name, field in PlacementOutput.model_fields.items()]
    return {
        "tenant": args.tenant,
        "owner": owner,
        "namespace": args.tenant,
        "gatewayOnly": args.gateway_only,
        "monthlyUsd": round(args.monthly_usd, 2),
        "placements": [{key: placement_inputs(p)[key] for key in fields} for p in args.placements],
    }


def export_all(outputs: dict[str, Any]) -> None:
    """Exports each top-level output (app teams read them by name)."""
    for key, value in outputs.items():
        pulumi.export(key, value)
