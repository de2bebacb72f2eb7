"""Turns a fleet plan into components and the stack's typed outputs (called by stacks/__main__.py).

Each cloud is one :class:`~tensorfleet.fleet.base.CloudFleet` in ``CLOUD_FLEETS``; adding a cloud
is a new module and one line here.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.fleet import Workload
from components.fleet.usage import UsageRecord
from regions.catalog import Catalog
from regions.placement import FleetPlan
from tensorfleet.fleet.aws import AwsFleet
from tensorfleet.fleet.azure import AzureFleet
from tensorfleet.fleet.base import CloudFleet, FleetConfigError
from tensorfleet.fleet.gcp import GcpFleet
from tensorfleet.fleet.serving import serve_cluster
from tensorfleet.fleet.workloads import gateway_only_args, workload_args, workload_output
from tensorfleet.outputs import SCHEMA_VERSION, StackOutputs
from tensorfleet.stack_config import StackConfig

__all__ = ["CLOUD_FLEETS", "FleetConfigError", "compose_fleet", "export_all"]

CLOUD_FLEETS: tuple[CloudFleet, ...] = (AwsFleet(), GcpFleet(), AzureFleet())


def compose_fleet(plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog) -> dict[str, Any]:
    """Registers the workloads and their cloud fleets; returns the stack outputs (wire form).

    Every cloud's settings are checked first, so that bad config registers nothing.
    """
    prepared = [(fleet, fleet.prepare(plan, config, catalog)) for fleet in CLOUD_FLEETS]
    UsageRecord("usage", plan.settings.fleet.usage)
    workloads: dict[str, Any] = {}
    for workload_plan in plan.workloads:
        args = workload_args(workload_plan)
        Workload(workload_plan.profile.name, args)
        workloads[workload_plan.profile.name] = workload_output(args, workload_plan.profile.owner)
    for profile in plan.gateway_only:
        args = gateway_only_args(profile)
        Workload(profile.name, args)
        workloads[profile.name] = workload_output(args, profile.owner)
    kg = plan.monthly_kgco2
    outputs = StackOutputs.model_validate(
        {
            "schemaVersion": SCHEMA_VERSION,
            "environment": environment,
            "objective": plan.settings.objective,
            "workloads": workloads,
            "totals": {"monthlyUsd": round(plan.monthly_usd, 2), "monthlyKgco2": None if kg is None else round(kg, 3)},
        }
    ).model_dump(by_alias=True)
    # Kubeconfigs are exported on their own: a secret nested in ``clusters`` would make the whole
    # map secret, and app teams need endpoints and names in the clear.
    outputs["clusters"] = {}
    outputs["kubeconfigs"] = {}
    for _, cloud in prepared:
        if cloud is not None:
            built = cloud.build(plan, environment, config, catalog)
            outputs["clusters"].update(built.clusters)
            outputs["kubeconfigs"].update(built.kubeconfigs)
            for target in built.targets:
                serve_cluster(target, plan)
    return outputs


def export_all(outputs: dict[str, Any]) -> None:
    """Exports each top-level output (app teams read them by name)."""
    for key, value in outputs.items():
        pulumi.export(key, value)
