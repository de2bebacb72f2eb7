"""The AWS part of a stack: one AwsRegionFleet per region of the plan, the budgets and their home region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws import AwsRegionFleet, AwsRegionFleetArgs, ExistingNetwork, NodeGroupSpec
from components.aws.kms import RegionKey, RegionKeyArgs
from components.aws.nodegroup import NEURON_CHIPS
from components.budget.aws import AwsBudgets, AwsBudgetsArgs
from components.fleet.pool import with_takeover
from components.k8s.addons import check_versions
from components.naming import email_key, principal_key
from regions.catalog import Catalog
from regions.placement import FleetPlan, StagePlacement
from regions.residency import Residency, expand_residency
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
from tensorfleet.stack_config import AwsConfig, StackConfig

__all__ = ["AwsFleet"]

AWS_VPC_ZONES = 6
"""Zones tensorfleet's VPC spans in a region, a private subnet each (us-east-1, the largest, has six)."""


class AwsFleet:
    """The AWS entry of the cloud registry."""

    cloud = "aws"

    def prepare(self, plan: FleetPlan, config: StackConfig, catalog: Catalog) -> _AwsLayout | None:
        return _aws_layout(plan, config, catalog)


@dataclass(frozen=True)
class _AwsLayout:
    """Where the AWS part of the stack goes, decided before anything is registered."""

    settings: AwsConfig
    rows_by_region: dict[str, list[StagePlacement]]
    """Placement rows per AWS region code, one region fleet each."""
    home: str
    """Region of the stack-wide alert topic, its key and the budgets."""
    admins: dict[str, str]
    """Cluster-admin principal ARN per stable key (a digest of the ARN, never its position)."""
    emails: dict[str, str]
    """Budget alert address per stable key (a digest of the address, never its position)."""

    def build(self, plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog) -> BuiltFleet:
        return _aws_fleet(self, plan, environment, config, catalog)


def _aws_layout(plan: FleetPlan, config: StackConfig, catalog: Catalog) -> _AwsLayout | None:
    """The AWS regions of the plan and the home region; None when nothing is placed on AWS."""
    by_region = rows_by_region(plan, "aws")
    if not by_region:
        return None
    settings = _require_aws(config)
    _check_region_keys(settings, catalog)
    neuron = any(r.choice.option.offering.accelerator in NEURON_CHIPS for rows in by_region.values() for r in rows)
    try:
        check_versions("aws", settings.kubernetes_version, ("neuron",) if neuron else ())
    except ValueError as exc:
        raise FleetConfigError(f"tensorfleet:aws.kubernetes_version: {exc}") from None
    return _AwsLayout(
        settings=settings,
        rows_by_region=by_region,
        home=_home_region(plan, settings.home_region, catalog),
        admins=keyed_config(settings.admin_principal_arns, principal_key, "tensorfleet:aws.admin_principal_arns"),
        emails=keyed_config(config.budget_alert_emails, email_key, "tensorfleet:budgetAlertEmails"),
    )


@dataclass(frozen=True)
class _AwsInputs:
    """The AWS settings as resource inputs: each a Pulumi secret when ``tensorfleet:aws`` is secret.

    Region codes, zone IDs, instance types and booleans stay plain even then: they shape the
    resource graph (and the plan reviewers read), and they are not secrets.
    """

    account_id: pulumi.Input[str]
    kubernetes_version: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    public_access_cidrs: tuple[pulumi.Input[str], ...]
    admin_principals: dict[str, pulumi.Input[str]]
    existing_networks: dict[str, ExistingNetwork]
    capacity_blocks: dict[str, dict[str, CapacityBlock]]
    """The block per instance type, per region code."""


@dataclass(frozen=True)
class CapacityBlock:
    """A Capacity Block for ML the stack's nodes launch into: its reservation (maybe a secret) and zone."""

    reservation_id: pulumi.Input[str]
    az_id: str


def _aws_inputs(layout: _AwsLayout, secret: bool) -> _AwsInputs:
    def wrap(value: str) -> pulumi.Input[str]:
        return secret_if(secret, value)

    settings = layout.settings
    return _AwsInputs(
        account_id=wrap(settings.account_id),
        kubernetes_version=wrap(settings.kubernetes_version),
        vpc_cidr=wrap(settings.vpc_cidr),
        public_access_cidrs=tuple(wrap(c) for c in settings.public_access_cidrs),
        admin_principals={key: wrap(arn) for key, arn in layout.admins.items()},
        existing_networks={
            region: ExistingNetwork(
                vpc_id=wrap(network.vpc_id),
                private_subnet_ids={zone: wrap(subnet) for zone, subnet in network.private_subnet_ids.items()},
            )
            for region, network in settings.existing_networks.items()
        },
        capacity_blocks={
            region: {
                instance_type: CapacityBlock(wrap(block.reservation_id), block.az_id)
                for instance_type, block in blocks.items()
            }
            for region, blocks in settings.capacity_blocks.items()
        },
    )


def _aws_fleet(
    layout: _AwsLayout, plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog
) -> BuiltFleet:
    """One AwsRegionFleet per AWS region of the plan, plus the stack's budgets.

    Every input made from ``tensorfleet:aws`` or ``tensorfleet:costCentre`` is a Pulumi secret when
    that key is (``config.is_secret``); region codes stay plain. Returns the cluster outputs and the
    (secret) kubeconfigs, each keyed by ``aws:<region>``.
    """
    settings = layout.settings
    inputs = _aws_inputs(layout, config.is_secret("aws"))
    tags = stack_labels(environment, config)
    providers: dict[str, aws.Provider] = {}

    def provider(region: str) -> aws.Provider:
        # One explicit provider per region; allowed_account_ids refuses to touch any other account.
        if region not in providers:
            providers[region] = aws.Provider(
                f"aws-{region}",
                region=region,
                allowed_account_ids=[inputs.account_id],
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
                opts=pulumi.ResourceOptions(provider=provider(layout.home)),
            )
        )
    clusters: dict[str, Any] = {}
    kubeconfigs: dict[str, Any] = {}
    fleets: dict[str, AwsRegionFleet] = {}
    targets: list[ClusterTarget] = []
    for region, rows in sorted(layout.rows_by_region.items()):
        blocks = inputs.capacity_blocks.get(region, {})
        fleet = AwsRegionFleet(
            f"aws-{region}",
            AwsRegionFleetArgs(
                region=region,
                account_id=inputs.account_id,
                stack=environment,
                zone_ids=catalog.zones[f"aws:{region}"][:AWS_VPC_ZONES],
                node_groups=tuple(g for row in rows for g in _node_groups(row, tenants[row.workload], blocks)),
                production=config.production,
                kubernetes_version=inputs.kubernetes_version,
                vpc_cidr=inputs.vpc_cidr,
                nat_per_zone=settings.nat_per_zone,
                public_access_cidrs=inputs.public_access_cidrs,
                admin_principals=inputs.admin_principals,
                existing_network=inputs.existing_networks.get(region),
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
        targets.append(
            ClusterTarget(
                cloud="aws", region=region, cluster_name=fleet.cluster_name, kubeconfig=fleet.kubeconfig,
                rows=tuple(rows), identities=fleet.workload_identities, gpu_driver="cloud",
                kubernetes_version=settings.kubernetes_version, kubernetes_version_secret=config.is_secret("aws"),
                artifacts=pulumi.Output.concat("s3://", fleet.artifact_bucket, "/"),
                fleet=fleet, system_pool=fleet.system_pool,
            )
        )  # fmt: skip
    options = pulumi.ResourceOptions(providers={"aws": provider(layout.home)}, depends_on=depends)
    _aws_budgets(plan, environment, config, layout, inputs.account_id, options)
    return BuiltFleet(clusters, kubeconfigs, targets)


def _aws_budgets(
    plan: FleetPlan,
    environment: str,
    config: StackConfig,
    layout: _AwsLayout,
    account_id: pulumi.Input[str],
    options: pulumi.ResourceOptions,
) -> None:
    """The budgets and their alert topic in the home region, encrypted with a key of their own.

    The alerts key never borrows the home region's fleet key: a fleet that comes or goes with a
    price refresh would otherwise replace the protected key under the topic. Alert e-mails are
    secrets when ``tensorfleet:budgetAlertEmails`` is."""
    home = layout.home
    alias = f"tensorfleet-{environment}-{home}-alerts"
    key = RegionKey(
        f"aws-{home}-alerts-key", RegionKeyArgs(account_id=account_id, alias=alias, production=config.production),
        options,
    )  # fmt: skip
    key_arn: pulumi.Input[str] = key.arn
    secret = config.is_secret("budget_alert_emails")
    AwsBudgets(
        "aws-budgets",
        AwsBudgetsArgs(
            account_id=account_id,
            key_arn=key_arn,
            budgets=budget_specs(plan, "aws", environment, config),
            alert_emails={key: secret_if(secret, address) for key, address in layout.emails.items()},
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


# --- the home region: stack-wide AWS resources, inside every workload's residency ---------------

HOME_HOLDS = "the stack-wide budget alert topic, its key and the AWS budgets"

Residencies = dict[str, tuple[Residency, frozenset[str]]]
"""Workload name -> (its expanded ``compliance.data_residency``, the AWS region codes that allows),
for each workload that restricts residency."""


DEFAULT_HOME = "us-east-1"
"""Where stack-wide resources go when every workload's residency allows it (AWS Budgets' own region)."""


def _home_region(plan: FleetPlan, pinned: str | None, catalog: Catalog) -> str:
    """The pinned home region once checked; else us-east-1 if every workload's residency allows
    it; else the first commercial-partition region (by code) that every residency allows.

    The choice depends on the profiles' residencies only, never on where the plan puts fleets,
    so a price refresh never moves (replaces) the alert topic, its key or the budgets.
    """
    residencies = _residencies(plan, catalog)
    if pinned is not None:
        return _checked_home(pinned, residencies, catalog)
    allowed = _allowed_everywhere(residencies, catalog)
    # China and GovCloud regions live in other AWS partitions, with accounts of their own.
    commercial = [code for code in allowed if not code.startswith(("cn-", "us-gov-"))]
    home = DEFAULT_HOME if DEFAULT_HOME in commercial else next(iter(commercial), None)
    if home is None:
        raise FleetConfigError(
            f"no AWS region can hold {HOME_HOLDS}: it must be one that every workload's "
            f"compliance.data_residency allows, and {_share_none(residencies)}; run such workloads in separate stacks"
        )
    return home


def _residencies(plan: FleetPlan, catalog: Catalog) -> Residencies:
    """Every workload's residency (gateway-only ones too) with the AWS regions it allows, by the
    placement's own rule (``Residency.allows``)."""
    aws_regions = [region for region in catalog.regions.values() if region.cloud == "aws"]
    result: Residencies = {}
    for profile in sorted([*(w.profile for w in plan.workloads), *plan.gateway_only], key=lambda p: p.name):
        residency = expand_residency(profile.compliance.data_residency)
        if residency:
            result[profile.name] = (residency, frozenset(r.code for r in aws_regions if residency.allows(r)))
    return result


def _allowed_everywhere(residencies: Residencies, catalog: Catalog) -> list[str]:
    """AWS region codes, sorted, that every residency allows."""
    codes = {region.code for region in catalog.regions.values() if region.cloud == "aws"}
    for _, allowed in residencies.values():
        codes &= allowed
    return sorted(codes)


def _check_region_keys(settings: AwsConfig, catalog: Catalog) -> None:
    """Region and instance-type keys of the AWS settings name real ones: a typo would otherwise be
    ignored silently (a new VPC where the team meant its own, on-demand nodes outside a block)."""
    for region in settings.existing_networks:
        _aws_region(catalog, region, f"tensorfleet:aws.existing_networks.{region}")
    for region, blocks in settings.capacity_blocks.items():
        _aws_region(catalog, region, f"tensorfleet:aws.capacity_blocks.{region}")
        check_offered(catalog, "aws", region, blocks, f"tensorfleet:aws.capacity_blocks.{region}")
        # The block itself proves the type is offered in its zone (the catalog's zone list may be
        # older than the block); the stack must have a subnet there.
        subnet_zones = sorted(_subnet_zones(settings, catalog, region))
        for instance_type, block in blocks.items():
            if block.az_id not in subnet_zones:
                raise FleetConfigError(
                    f"tensorfleet:aws.capacity_blocks.{region}.{instance_type}.az_id: {block.az_id!r} is not a zone "
                    f"the stack's subnets in {region} are in; those are {', '.join(subnet_zones) or 'none'}"
                )


def _subnet_zones(settings: AwsConfig, catalog: Catalog, region: str) -> set[str]:
    """The zones the region's node groups have private subnets in: the team's own network's, else the
    first six of the region (the ones tensorfleet's VPC spans)."""
    network = settings.existing_networks.get(region)
    if network is not None:
        return set(network.private_subnet_ids)
    return set(catalog.zones.get(f"aws:{region}", ())[:AWS_VPC_ZONES])


def _aws_region(catalog: Catalog, code: str, field: str) -> None:
    check_region(catalog, "aws", code, field)
    if code.startswith(("cn-", "us-gov-")):
        raise FleetConfigError(
            f"{field}: {code} is in another AWS partition (China or GovCloud), with accounts of its own; "
            "deploy it from a stack of that partition"
        )


def _checked_home(home: str, residencies: Residencies, catalog: Catalog) -> str:
    """The pinned home region if the catalog knows it and every workload's residency allows it."""
    _aws_region(catalog, home, "tensorfleet:aws.home_region")
    forbidding = {name: residency for name, (residency, codes) in residencies.items() if home not in codes}
    if not forbidding:
        return home
    allowed = _allowed_everywhere(residencies, catalog)
    hint = (
        f"regions every workload allows: {', '.join(allowed)}; or unset it to have one chosen"
        if allowed
        else f"no region qualifies: {_share_none(residencies)}"
    )
    raise FleetConfigError(
        f"tensorfleet:aws.home_region: {home!r} is outside the compliance.data_residency of "
        f"{_workloads(forbidding)}, and it would hold {HOME_HOLDS}; {hint}"
    )


def _share_none(residencies: Residencies) -> str:
    """Which residencies leave no AWS region: one alone, else the first pair, else all together."""
    for name, (residency, codes) in residencies.items():
        if not codes:
            return f"{_workloads({name: residency})} allows no AWS region"
    names = list(residencies)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if not residencies[first][1] & residencies[second][1]:
                pair = {first: residencies[first][0], second: residencies[second][0]}
                return f"{_workloads(pair)} share no AWS region"
    return f"{_workloads({name: residency for name, (residency, _) in residencies.items()})} share no AWS region"


def _workloads(residency_by_name: dict[str, Residency]) -> str:
    """``workload 'a' ([DE])`` or ``workloads 'a' ([DE]) and 'b' ([US])``."""
    parts = [f"{name!r} ([{residency.describe()}])" for name, residency in residency_by_name.items()]
    if len(parts) == 1:
        return f"workload {parts[0]}"
    return f"workloads {', '.join(parts[:-1])} and {parts[-1]}"


def _node_groups(row: StagePlacement, tenant: str, capacity_blocks: dict[str, CapacityBlock]) -> list[NodeGroupSpec]:
    """The row's node group and, beside spot nodes that may take over another region's users, the
    on-demand group that does. A group that launches into a Capacity Block uses the block's zone."""
    choice = row.choice
    offering = choice.option.offering
    block = capacity_blocks.get(offering.instance_type) if choice.option.capacity == "on-demand" else None
    serving = NodeGroupSpec(
        workload=row.workload,
        stage=choice.stage,
        tenant=tenant,
        instance_type=offering.instance_type,
        accelerator=offering.accelerator,
        capacity=choice.option.capacity,
        zone_ids=offering.zones if block is None else (block.az_id,),
        nodes_min=choice.nodes_min,
        nodes_desired=choice.nodes_desired,
        nodes_max=choice.nodes_max,
        capacity_reservation_id=None if block is None else block.reservation_id,
        accelerator_count=offering.accelerator_count,
        nodes_per_replica=choice.option.point.nodes_per_replica,
        gpu_slices=gpu_slices(row),
        disk_gib=choice.option.disk_gib,
    )
    return with_takeover(serving, choice.takeover_nodes, capacity_reservation_id=None, zone_ids=offering.zones)
