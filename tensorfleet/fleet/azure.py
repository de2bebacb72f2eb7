"""The Azure part of a stack: one AzureRegionFleet per region of the plan, and consumption budgets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.azure import AgentPoolSpec, AzureRegionFleet, AzureRegionFleetArgs
from components.azure.storage import ARTIFACT_CONTAINER
from components.budget.azure import AzureBudgets, AzureBudgetsArgs
from components.fleet.pool import with_takeover
from components.naming import email_key
from regions.catalog import Catalog
from regions.placement import FleetPlan, StagePlacement
from tensorfleet.fleet.base import (
    BuiltFleet,
    ClusterTarget,
    FleetConfigError,
    budget_specs,
    gpu_slices,
    keyed_config,
    rows_by_region,
    secret_if,
    stack_labels,
)
from tensorfleet.stack_config import AzureConfig, StackConfig

__all__ = ["AzureFleet"]


class AzureFleet:
    """The Azure entry of the cloud registry."""

    cloud = "azure"

    def prepare(self, plan: FleetPlan, config: StackConfig, catalog: Catalog) -> _AzureLayout | None:
        by_region = rows_by_region(plan, "azure")
        if not by_region:
            return None
        if config.azure is None:
            raise FleetConfigError(
                "workloads are placed on Azure but tensorfleet:azure is not configured; set at least "
                "tensorfleet:azure.subscription_id and .tenant_id, or exclude Azure with placement.clouds "
                "in the profiles"
            )
        if not config.budget_alert_emails:
            raise FleetConfigError(
                "tensorfleet:budgetAlertEmails: workloads are placed on Azure, whose subscription budgets must "
                "alert at least one address; list who receives budget alerts"
            )
        emails = keyed_config(config.budget_alert_emails, email_key, "tensorfleet:budgetAlertEmails")
        return _AzureLayout(config.azure, by_region, emails)


@dataclass(frozen=True)
class _AzureLayout:
    settings: AzureConfig
    rows_by_region: dict[str, list[StagePlacement]]
    emails: dict[str, str]

    def build(self, plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog) -> BuiltFleet:
        settings = self.settings
        tags = stack_labels(environment, config)
        tenants = {w.profile.name: w.profile.tenant for w in plan.workloads}
        built = BuiltFleet()
        for region, rows in sorted(self.rows_by_region.items()):
            provider = azure_native.Provider(
                f"azure-{region}", subscription_id=settings.subscription_id, tenant_id=settings.tenant_id,
                location=region,
            )  # fmt: skip
            fleet = AzureRegionFleet(
                f"azure-{region}",
                AzureRegionFleetArgs(
                    subscription_id=settings.subscription_id,
                    tenant_id=settings.tenant_id,
                    region=region,
                    stack=environment,
                    agent_pools=tuple(
                        pool for row in rows for pool in _agent_pools(row, tenants[row.workload], settings)
                    ),
                    production=config.production,
                    node_cidr=settings.node_cidr,
                    pod_cidr=settings.pod_cidr,
                    service_cidr=settings.service_cidr,
                    public_access_cidrs=tuple(settings.public_access_cidrs),
                    admin_group_object_ids=tuple(settings.admin_group_object_ids),
                    tags=tags,
                ),
                pulumi.ResourceOptions(providers={"azure-native": provider}),
            )
            built.clusters[f"azure:{region}"] = {
                "cloud": "azure",
                "region": region,
                "clusterName": fleet.cluster_name,
                "endpoint": fleet.endpoint,
                "artifactBucket": fleet.storage_account,
                "nodeGroups": fleet.agent_pool_names,
                "resourceGroup": fleet.resource_group,
                "oidcIssuerUrl": fleet.oidc_issuer_url,
            }
            built.kubeconfigs[f"azure:{region}"] = fleet.kubeconfig
            built.targets.append(
                ClusterTarget(
                    cloud="azure", region=region, cluster_name=fleet.cluster_name, kubeconfig=fleet.kubeconfig,
                    rows=tuple(rows), identities=fleet.workload_identities, gpu_driver=settings.gpu_driver,
                    artifacts=pulumi.Output.concat("as://", fleet.storage_account, "/", ARTIFACT_CONTAINER, "/"),
                fleet=fleet, system_pool=fleet.system_pool,
                )
            )  # fmt: skip
        provider = azure_native.Provider(
            "azure-billing", subscription_id=settings.subscription_id, tenant_id=settings.tenant_id
        )
        secret = config.is_secret("budget_alert_emails")
        AzureBudgets(
            "azure-budgets",
            AzureBudgetsArgs(
                subscription_id=settings.subscription_id,
                budgets=budget_specs(plan, "azure", environment, config),
                alert_emails={key: secret_if(secret, address) for key, address in self.emails.items()},
            ),
            pulumi.ResourceOptions(providers={"azure-native": provider}),
        )
        return built


def _agent_pools(row: StagePlacement, tenant: str, settings: AzureConfig) -> list[AgentPoolSpec]:
    """The row's agent pool and, beside spot nodes that may take over another region's users, the
    on-demand pool that does."""
    choice = row.choice
    offering = choice.option.offering
    serving = AgentPoolSpec(
        workload=row.workload,
        stage=choice.stage,
        tenant=tenant,
        vm_size=offering.instance_type,
        accelerator=offering.accelerator,
        capacity=choice.option.capacity,
        nodes_min=choice.nodes_min,
        nodes_desired=choice.nodes_desired,
        nodes_max=choice.nodes_max,
        driver=settings.gpu_driver,
        nodes_per_replica=choice.option.point.nodes_per_replica,
        gpu_slices=gpu_slices(row),
        disk_gib=choice.option.disk_gib,
    )
    return with_takeover(serving, choice.takeover_nodes)
