"""Turns a fleet plan into components and the stack's typed outputs (called by stacks/__main__.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws import AwsRegionFleet, AwsRegionFleetArgs, ExistingNetwork, NodeGroupSpec
from components.aws.kms import RegionKey, RegionKeyArgs
from components.budget.aws import AwsBudgets, AwsBudgetsArgs, BudgetSpec
from components.fleet import Workload, WorkloadArgs, WorkloadPlacementArgs
from components.fleet.workload import placement_inputs
from regions.catalog import Catalog
from regions.explain import explain
from regions.placement import FleetPlan, StagePlacement, WorkloadPlan
from tensorfleet.outputs import SCHEMA_VERSION, PlacementOutput, StackOutputs
from tensorfleet.stack_config import AwsConfig, StackConfig

__all__ = ["FleetConfigError", "compose_fleet", "export_all"]


class FleetConfigError(ValueError):
    """The plan needs configuration the stack does not have (e.g. an AWS account for AWS placements)."""


def compose_fleet(plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog) -> dict[str, Any]:
    """Registers the workloads and their cloud fleets; returns the stack outputs (wire form)."""
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
            hipaa=profile.compliance.hipaa,
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
    ).model_dump(by_alias=True)
    clusters, kubeconfigs = _aws_fleet(plan, environment, config, catalog)
    # Kubeconfigs are exported on their own: a secret nested in ``clusters`` would make the whole
    # map secret, and app teams need endpoints and names in the clear.
    outputs["clusters"] = clusters
    outputs["kubeconfigs"] = kubeconfigs
    return outputs


def _aws_fleet(
    plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One AwsRegionFleet per AWS region of the plan, plus the stack's budgets.

    Returns the cluster outputs and the (secret) kubeconfigs, each keyed by ``aws:<region>``.
    """
    rows_by_region: dict[str, list[StagePlacement]] = defaultdict(list)
    for workload_plan in plan.workloads:
        for row in workload_plan.rows:
            if row.region.cloud == "aws":
                rows_by_region[row.region.code].append(row)
    if not rows_by_region:
        return {}, {}
    settings = _require_aws(config)
    tags = {"environment": environment, "cost-centre": config.cost_centre or "unassigned", "managed-by": "tensorfleet"}
    providers: dict[str, aws.Provider] = {}

    def provider(region: str) -> aws.Provider:
        # One explicit provider per region; allowed_account_ids refuses to touch any other account.
        if region not in providers:
            providers[region] = aws.Provider(
                f"aws-{region}",
                region=region,
                allowed_account_ids=[settings.account_id],
                default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
            )
        return providers[region]

    tenants = {w.profile.name: w.profile.tenant for w in plan.workloads}
    depends: list[pulumi.Resource] = []
    if settings.create_autoscaling_service_linked_role:
        # IAM is global: one role, created before any key policy names it.
        depends.append(
            aws.iam.ServiceLinkedRole(
                "aws-autoscaling-service-role",
                aws_service_name="autoscaling.amazonaws.com",
                opts=pulumi.ResourceOptions(provider=provider(settings.home_region)),
            )
        )
    clusters: dict[str, Any] = {}
    kubeconfigs: dict[str, Any] = {}
    fleets: dict[str, AwsRegionFleet] = {}
    for region, rows in sorted(rows_by_region.items()):
        existing = settings.existing_networks.get(region)
        fleet = AwsRegionFleet(
            f"aws-{region}",
            AwsRegionFleetArgs(
                region=region,
                account_id=settings.account_id,
                stack=environment,
                zone_ids=catalog.zones[f"aws:{region}"][:6],
                node_groups=tuple(
                    _node_group(row, tenants[row.workload], settings.capacity_blocks.get(region, {})) for row in rows
                ),
                production=config.production,
                kubernetes_version=settings.kubernetes_version,
                vpc_cidr=settings.vpc_cidr,
                nat_per_zone=settings.nat_per_zone,
                public_access_cidrs=tuple(settings.public_access_cidrs),
                admin_principal_arns=tuple(settings.admin_principal_arns),
                existing_network=None
                if existing is None
                else ExistingNetwork(vpc_id=existing.vpc_id, private_subnet_ids=dict(existing.private_subnet_ids)),
            ),
            pulumi.ResourceOptions(providers={"aws": provider(region)}, depends_on=depends),
        )
        fleets[region] = fleet
        clusters[f"aws:{region}"] = {
            "cloud": "aws",
            "region": region,
            "clusterName": fleet.cluster_name,
            "endpoint": fleet.endpoint,
            "oidcProviderArn": fleet.oidc_provider_arn,
            "artifactBucket": fleet.artifact_bucket,
            "nodeGroups": fleet.node_group_names,
        }
        kubeconfigs[f"aws:{region}"] = fleet.kubeconfig
    _aws_budgets(plan, environment, config, settings, fleets, provider, depends)
    return clusters, kubeconfigs


def _aws_budgets(
    plan: FleetPlan,
    environment: str,
    config: StackConfig,
    settings: AwsConfig,
    fleets: dict[str, AwsRegionFleet],
    provider: Any,
    depends: list[pulumi.Resource],
) -> None:
    home = settings.home_region
    options = pulumi.ResourceOptions(providers={"aws": provider(home)}, depends_on=depends)
    if home in fleets:
        key_arn: pulumi.Input[str] = fleets[home].key_arn
    else:
        alias = f"tensorfleet-{environment}-{home}-alerts"
        key = RegionKey(f"aws-{home}-alerts-key", RegionKeyArgs(account_id=settings.account_id, alias=alias,
                                                                 production=config.production), options)  # fmt: skip
        key_arn = key.arn
    budgets = [
        BudgetSpec(name=w.profile.name, monthly_usd=w.profile.budget.monthly_usd, tags={"workload": w.profile.name})
        for w in plan.workloads
        if any(row.region.cloud == "aws" for row in w.rows)
    ]
    if config.budget_monthly_usd is not None:
        budgets.append(
            BudgetSpec(name="stack", monthly_usd=config.budget_monthly_usd, tags={"environment": environment})
        )
    AwsBudgets(
        "aws-budgets",
        AwsBudgetsArgs(
            account_id=settings.account_id,
            key_arn=key_arn,
            budgets=tuple(budgets),
            alert_emails=tuple(config.budget_alert_emails),
        ),
        options,
    )


def _require_aws(config: StackConfig) -> AwsConfig:
    if config.aws is None:
        raise FleetConfigError(
            "workloads are placed on AWS but tensorfleet:aws is not configured; set at least "
            "tensorfleet:aws.account_id (the 12-digit account the stack deploys to), or exclude AWS "
            "with placement.clouds in the profiles"
        )
    return config.aws


def _node_group(row: StagePlacement, tenant: str, capacity_blocks: dict[str, str]) -> NodeGroupSpec:
    choice = row.choice
    offering = choice.option.offering
    block = capacity_blocks.get(offering.instance_type) if choice.option.capacity == "on-demand" else None
    return NodeGroupSpec(
        workload=row.workload,
        stage=choice.stage,
        tenant=tenant,
        instance_type=offering.instance_type,
        accelerator=offering.accelerator,
        capacity=choice.option.capacity,
        zone_ids=offering.zones,
        nodes_min=choice.nodes_min,
        nodes_desired=choice.nodes_desired,
        nodes_max=choice.nodes_max,
        capacity_reservation_id=block,
    )


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
            reason=reasons[(row.region.key, row.choice.stage)],
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
