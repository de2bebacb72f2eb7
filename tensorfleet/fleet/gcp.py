"""The GCP part of a stack: one GcpRegionFleet per region of the plan, and Cloud Billing budgets."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.budget.gcp import GcpBudgets, GcpBudgetsArgs
from components.fleet.pool import with_takeover
from components.gcp import ExistingGcpNetwork, GcpRegionFleet, GcpRegionFleetArgs, NodePoolSpec
from components.naming import email_key
from components.serving.images import family_of
from regions.catalog import Catalog
from regions.placement import FleetPlan, StagePlacement
from tensorfleet.fleet.base import (
    BuiltFleet,
    ClusterTarget,
    FleetConfigError,
    budget_specs,
    check_offered,
    check_region,
    gpu_slices,
    keyed_config,
    rows_by_region,
    secret_if,
    stack_labels,
)
from tensorfleet.stack_config import GcpConfig, StackConfig

__all__ = ["GcpFleet", "label_value"]


class GcpFleet:
    """The GCP entry of the cloud registry."""

    cloud = "gcp"

    def prepare(self, plan: FleetPlan, config: StackConfig, catalog: Catalog) -> _GcpLayout | None:
        by_region = rows_by_region(plan, "gcp")
        if not by_region:
            return None
        if config.gcp is None:
            raise FleetConfigError(
                "workloads are placed on GCP but tensorfleet:gcp is not configured; set at least "
                "tensorfleet:gcp.project, .project_number and .billing_account, or exclude GCP with "
                "placement.clouds in the profiles"
            )
        _check_region_keys(config.gcp, catalog)
        for rows in by_region.values():
            for row in rows:
                if not row.choice.option.offering.zones:
                    raise FleetConfigError(
                        f"{row.workload}: {row.choice.option.offering.instance_type} in {row.region.code} has no "
                        "zone in the catalog, so no node pool can be placed; exclude the region or refresh the catalog"
                    )
        if config.gcp.gpu_driver == "operator" and any(
            family_of(row.choice.option.offering.accelerator) == "nvidia" for rows in by_region.values() for row in rows
        ):
            raise FleetConfigError(
                "tensorfleet:gcp.gpu_driver: 'operator' cannot serve GKE GPU pools (the NVIDIA GPU operator "
                "does not install drivers on Container-Optimized OS nodes); use 'cloud', GKE's managed driver"
            )
        emails = keyed_config(config.budget_alert_emails, email_key, "tensorfleet:budgetAlertEmails")
        return _GcpLayout(config.gcp, by_region, emails)


@dataclass(frozen=True)
class _GcpLayout:
    settings: GcpConfig
    rows_by_region: dict[str, list[StagePlacement]]
    emails: dict[str, str]

    def build(self, plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog) -> BuiltFleet:
        settings = self.settings
        labels = {key: label_value(value) for key, value in stack_labels(environment, config).items()}
        tenants = {w.profile.name: w.profile.tenant for w in plan.workloads}
        built = BuiltFleet()
        for region, rows in sorted(self.rows_by_region.items()):
            provider = gcp.Provider(f"gcp-{region}", project=settings.project, region=region, default_labels=labels)
            existing = settings.existing_networks.get(region)
            reservations = settings.reservations.get(region, {})
            fleet = GcpRegionFleet(
                f"gcp-{region}",
                GcpRegionFleetArgs(
                    project=settings.project,
                    project_number=settings.project_number,
                    region=region,
                    stack=environment,
                    node_pools=tuple(
                        pool for row in rows for pool in _node_pools(row, tenants[row.workload], settings, reservations)
                    ),
                    production=config.production,
                    release_channel=settings.release_channel,
                    node_cidr=settings.node_cidr,
                    pod_cidr=settings.pod_cidr,
                    service_cidr=settings.service_cidr,
                    public_access_cidrs=tuple(settings.public_access_cidrs),
                    existing_network=None
                    if existing is None
                    else ExistingGcpNetwork(
                        network=existing.network,
                        subnetwork=existing.subnetwork,
                        pod_range=existing.pod_range,
                        service_range=existing.service_range,
                    ),
                    labels=labels,
                ),
                pulumi.ResourceOptions(providers={"gcp": provider}),
            )
            built.clusters[f"gcp:{region}"] = {
                "cloud": "gcp",
                "region": region,
                "clusterName": fleet.cluster_name,
                "endpoint": fleet.endpoint,
                "artifactBucket": fleet.artifact_bucket,
                "nodeGroups": fleet.node_pool_names,
                "project": settings.project,
                "workloadIdentityPool": fleet.workload_pool,
            }
            built.kubeconfigs[f"gcp:{region}"] = fleet.kubeconfig
            built.targets.append(
                ClusterTarget(
                    cloud="gcp", region=region, cluster_name=fleet.cluster_name, kubeconfig=fleet.kubeconfig,
                    rows=tuple(rows), identities=fleet.workload_identities, gpu_driver=settings.gpu_driver,
                    artifacts=pulumi.Output.concat("gs://", fleet.artifact_bucket, "/"),
                fleet=fleet, system_pool=fleet.system_pool,
                )
            )  # fmt: skip
        self._budgets(plan, environment, config, labels)
        return built

    def _budgets(
        self, plan: FleetPlan, environment: str, config: StackConfig, labels: dict[str, pulumi.Input[str]]
    ) -> None:
        """A budget per workload placed on GCP (by its node pools' ``workload`` label) and one for
        the stack (by ``environment``), with a provider that bills the Budgets API to the project."""
        settings = self.settings
        provider = gcp.Provider(
            "gcp-billing", project=settings.project, billing_project=settings.project, user_project_override=True,
            default_labels=labels,
        )  # fmt: skip
        secret = config.is_secret("budget_alert_emails")
        GcpBudgets(
            "gcp-budgets",
            GcpBudgetsArgs(
                project=settings.project,
                project_number=settings.project_number,
                billing_account=settings.billing_account,
                budgets=budget_specs(plan, "gcp", environment, config),
                alert_emails={key: secret_if(secret, address) for key, address in self.emails.items()},
                labels=labels,
            ),
            pulumi.ResourceOptions(providers={"gcp": provider}),
        )


def label_value(value: pulumi.Input[str]) -> pulumi.Input[str]:
    """A GCP label value: lowercase letters, digits, ``_`` and ``-``, at most 63 characters (a secret
    stays one)."""

    def clean(text: str) -> str:
        return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]

    if isinstance(value, str):
        return clean(value)
    return pulumi.Output.from_input(value).apply(clean)  # type: ignore[arg-type]


def _node_pools(
    row: StagePlacement, tenant: str, settings: GcpConfig, reservations: dict[str, str]
) -> list[NodePoolSpec]:
    """The row's node pool and, beside spot nodes that may take over another region's users, the
    on-demand pool that does."""
    choice = row.choice
    offering = choice.option.offering
    on_demand = choice.option.capacity == "on-demand"
    serving = NodePoolSpec(
        workload=row.workload,
        stage=choice.stage,
        tenant=tenant,
        machine_type=offering.instance_type,
        accelerator=offering.accelerator,
        accelerator_count=offering.accelerator_count,
        zones=offering.zones,
        capacity=choice.option.capacity,
        nodes_min=choice.nodes_min,
        nodes_desired=choice.nodes_desired,
        nodes_max=choice.nodes_max,
        driver=settings.gpu_driver,
        reservation=reservations.get(offering.instance_type) if on_demand else None,
        nodes_per_replica=choice.option.point.nodes_per_replica,
        gpu_slices=gpu_slices(row),
        disk_gib=choice.option.disk_gib,
    )
    return with_takeover(serving, choice.takeover_nodes, reservation=None)


def _check_region_keys(settings: GcpConfig, catalog: Catalog) -> None:
    """Region and machine-type keys of the GCP settings name real ones: a typo would otherwise be
    ignored silently (a new network where the team meant its own, nodes outside a reservation)."""
    for region, network in settings.existing_networks.items():
        check_region(catalog, "gcp", region, f"tensorfleet:gcp.existing_networks.{region}")
        if f"/regions/{region}/" not in network.subnetwork:
            raise FleetConfigError(
                f"tensorfleet:gcp.existing_networks.{region}.subnetwork: {network.subnetwork!r} is not in {region}"
            )
    for region, reserved in settings.reservations.items():
        check_region(catalog, "gcp", region, f"tensorfleet:gcp.reservations.{region}")
        check_offered(catalog, "gcp", region, reserved, f"tensorfleet:gcp.reservations.{region}")
