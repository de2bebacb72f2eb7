"""The typed per-environment configuration read from ``stacks/Pulumi.<stack>.yaml``.

Top-level keys are camelCase, one per concern, under the ``tensorfleet:`` namespace; nested keys
are the snake_case field names of the models below.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from regions.catalog import CLOUDS, Catalog, Cloud, UnknownName
from regions.footprint import FleetLayout
from regions.geo import LatencyModel
from regions.pricing import UsageAssumptions
from regions.quotas import MAX_QUOTA, resolve_quota
from regions.settings import Objective, PlacementSettings
from regions.sizing import SizingAssumptions
from workloads.loading import MAX_PROBLEMS, describe_errors
from workloads.safe_yaml import bounded

__all__ = ["CONFIG_KEYS", "SECRET_CAPABLE", "StackConfig", "StackConfigInvalid", "parse_stack_config"]

Unit = Annotated[float, Field(gt=0, le=1)]
ZoneId = Annotated[str, Field(pattern=r"^[a-z]{2,6}[0-9]-az[0-9]{1,2}$")]
"""An AWS availability-zone ID, e.g. ``use1-az1`` (the same physical zone in every account)."""
IamPrincipalArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/-]{1,512}$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", max_length=254)]


class _Model(BaseModel):
    # Strict: a YAML `true` or `"40"` is not a number, `4711` is not a string; no NaN or infinity.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class WorkloadRef(_Model):
    profile: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]
    """Profile file, relative to the project root (``workloads/examples/chat-assistant-70b.yaml``)."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Fields deep-merged into the profile for this environment only (e.g. ``scaling``)."""


class LatencyConfig(_Model):
    path_stretch: Annotated[float, Field(ge=1, le=10)] = LatencyModel().path_stretch
    """Fibre route length over great-circle length (see regions/geo.py)."""


class SizingConfig(_Model):
    memory_utilisation: Unit = SizingAssumptions().memory_utilisation
    bandwidth_efficiency: Unit | None = None
    """Achieved over peak memory bandwidth for every chip. Default: each chip family's calibrated figure."""
    compute_efficiency: Unit | None = None
    """Achieved over peak dense FLOPS for every chip. Default: each chip family's calibrated figure."""
    max_batch: Annotated[int, Field(ge=1, le=4096)] = SizingAssumptions().max_batch


class UsageConfig(_Model):
    """Usage behind the bill's usage-priced items; see :class:`regions.pricing.UsageAssumptions`."""

    nat_gb_per_gateway_month: Annotated[float, Field(ge=0, le=1e7)] = UsageAssumptions().nat_gb_per_gateway_month
    control_plane_log_gb_per_cluster_month: Annotated[float, Field(ge=0, le=1e6)] = (
        UsageAssumptions().control_plane_log_gb_per_cluster_month
    )
    artifact_versions: Annotated[int, Field(ge=1, le=1000)] = UsageAssumptions().artifact_versions


class QuotaConfig(_Model):
    """Accelerators one region may run at peak; see :mod:`regions.quotas`."""

    region: Annotated[str, Field(pattern=r"^(aws|gcp|azure):[a-z0-9-]{1,40}$")]
    """``cloud:region`` key, e.g. ``aws:us-east-1``."""
    accelerator: Annotated[str, Field(min_length=1, max_length=64)]
    """Accelerator as the catalog names it, e.g. ``H100``, ``TPU v5e``."""
    limit: Annotated[int, Field(ge=0, le=MAX_QUOTA)]
    """Chips (GPUs, Neuron chips or TPU chips), summed over every workload's max nodes."""


class ExistingNetworkConfig(_Model):
    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")]
    private_subnet_ids: Annotated[
        dict[ZoneId, Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]], Field(min_length=2, max_length=6)
    ]
    """Private subnet ID per availability-zone ID (``use1-az1``), two zones at least."""


class CapacityBlockConfig(_Model):
    reservation_id: Annotated[str, Field(pattern=r"^cr-[0-9a-f]+$")]
    """The block's capacity reservation (``cr-...``)."""
    az_id: ZoneId
    """The availability-zone ID the block is in (``AvailabilityZoneId`` of
    ``aws ec2 describe-capacity-reservations``): its nodes can launch only there."""

    @model_validator(mode="before")
    @classmethod
    def _not_a_bare_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                f"a Capacity Block is {{reservation_id: {value}, az_id: <zone ID>}}: it lives in one zone, "
                "where its nodes must launch (aws ec2 describe-capacity-reservations shows AvailabilityZoneId)"
            )
        return value


class AwsConfig(_Model):
    """Settings for every AWS placement of the stack."""

    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    """The only account the stack may deploy to (the providers refuse any other)."""
    home_region: str | None = None
    """Region of the stack-wide budget alert topic, its key and the AWS budgets; it must be an AWS
    region that every workload's ``compliance.data_residency`` allows. Default: us-east-1 where
    every residency allows it, else the first such commercial-partition region (by code). The
    default depends on residencies only, never on prices or placements; changing it replaces the
    topic, its key and the subscriptions."""
    kubernetes_version: Annotated[str, Field(pattern=r"^1\.[0-9]{2}$")] = "1.33"
    """EKS Kubernetes minor version, e.g. ``1.33``. Default: 1.33."""
    vpc_cidr: str = "10.64.0.0/16"
    """Range of every tensorfleet VPC (one per region; they are not peered): a private (RFC 1918) /16,
    split into a /19 per zone and public /24s. Default: 10.64.0.0/16."""
    nat_per_zone: bool = False
    """One NAT gateway per zone (zone-outage tolerant, dearer). Default: one per VPC."""
    public_access_cidrs: Annotated[list[str], Field(max_length=40)] = Field(default_factory=list)
    """Outside production: IPv4 CIDRs allowed to reach a public cluster endpoint (at most 40, EKS's
    limit; never ``/0``). Default: none (private)."""
    admin_principal_arns: list[IamPrincipalArn] = Field(default_factory=list)
    """IAM principals given cluster admin through EKS access entries (each at most once)."""
    existing_networks: dict[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")], ExistingNetworkConfig] = (
        Field(default_factory=dict)
    )
    """Bring-your-own VPC per region code; tensorfleet creates no network there."""
    capacity_blocks: dict[str, dict[str, CapacityBlockConfig]] = Field(default_factory=dict)
    """Capacity Blocks for ML you bought: region -> instance type -> the block's reservation ID and
    zone. On-demand placements of that type in that region launch into the block, in its zone.
    Default: none."""
    create_autoscaling_service_linked_role: bool = False
    """Create AWSServiceRoleForAutoScaling first. The region keys' policies name it, and KMS rejects
    a policy naming a role that does not exist yet: turn this on in a fresh account. Default: off."""

    @field_validator("vpc_cidr")
    @classmethod
    def _private_slash_16(cls, value: str) -> str:
        network = _ipv4_network(value)
        if network.prefixlen != 16 or not network.is_private:
            raise ValueError(f"must be a private (RFC 1918) IPv4 /16 such as 10.64.0.0/16, got {network}")
        return str(network)

    @field_validator("public_access_cidrs")
    @classmethod
    def _narrow_cidrs(cls, values: list[str]) -> list[str]:
        return _api_cidrs(values)

    @field_validator("admin_principal_arns")
    @classmethod
    def _unique_principals(cls, values: list[str]) -> list[str]:
        return _unique(values, "principal")


GcpRegionCode = Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+[0-9]{1,2}$")]
"""A GCP region code, e.g. ``us-central1``."""


class ExistingGcpNetworkConfig(_Model):
    network: Annotated[
        str, Field(pattern=r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    ]
    """``projects/<project>/global/networks/<name>``."""
    subnetwork: Annotated[
        str,
        Field(
            pattern=r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/regions/[a-z0-9-]+/subnetworks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
        ),
    ]
    """``projects/<project>/regions/<region>/subnetworks/<name>``, in the region it is given for."""
    pod_range: Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]
    """The subnetwork's secondary range for pods."""
    service_range: Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]
    """The subnetwork's secondary range for services."""


class GcpConfig(_Model):
    """Settings for every GCP placement of the stack."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    """The project every GCP resource of the stack goes in (one explicit provider per region)."""
    project_number: Annotated[str, Field(pattern=r"^[0-9]{6,20}$")]
    """The project's number: it names the service agents granted the region keys, and scopes the budgets."""
    billing_account: Annotated[str, Field(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")]
    """The Cloud Billing account the budgets belong to (its currency must be USD)."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """GKE release channel: GKE upgrades control planes and nodes within it. Default: REGULAR."""
    node_cidr: str = "10.64.0.0/20"
    """Node range of every tensorfleet subnetwork (one network per region; not peered)."""
    pod_cidr: str = "10.68.0.0/14"
    service_cidr: str = "10.72.0.0/20"
    public_access_cidrs: Annotated[list[str], Field(max_length=50)] = Field(default_factory=list)
    """Outside production: IPv4 CIDRs allowed to reach a public control-plane endpoint (GKE
    authorised networks). Default: none (private)."""
    existing_networks: dict[GcpRegionCode, ExistingGcpNetworkConfig] = Field(default_factory=dict)
    """Bring-your-own network per region code; tensorfleet creates no network there."""
    reservations: dict[
        GcpRegionCode, dict[str, Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]]
    ] = Field(default_factory=dict)
    """Compute Engine reservations you hold: region -> machine type (or Cloud TPU type) -> reservation
    name. On-demand pools of that type in that region consume it. Default: none."""
    gpu_driver: Literal["cloud", "operator"] = "cloud"
    """Who installs NVIDIA drivers on GPU pools: GKE's managed driver (``cloud``) or the serving
    layer's GPU operator (``operator``); never both. Default: cloud."""

    @field_validator("node_cidr", "pod_cidr", "service_cidr")
    @classmethod
    def _private_range(cls, value: str) -> str:
        network = _ipv4_network(value)
        if not network.is_private:
            raise ValueError(f"must be a private (RFC 1918) IPv4 range, got {network}")
        return str(network)

    @field_validator("public_access_cidrs")
    @classmethod
    def _narrow_cidrs(cls, values: list[str]) -> list[str]:
        return _api_cidrs(values)


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class AzureConfig(_Model):
    """Settings for every Azure placement of the stack."""

    subscription_id: Annotated[str, Field(pattern=_GUID)]
    """The subscription every Azure resource of the stack goes in; its budgets track it."""
    tenant_id: Annotated[str, Field(pattern=_GUID)]
    """The Entra ID tenant that owns the key vaults and signs the clusters' users in."""
    admin_group_object_ids: Annotated[list[Annotated[str, Field(pattern=_GUID)]], Field(max_length=10)] = Field(
        default_factory=list
    )
    """Entra ID groups made cluster administrators through Azure RBAC. Default: none (grant roles
    on each cluster yourself)."""
    node_cidr: str = "10.80.0.0/16"
    """Address space of every tensorfleet virtual network and its node subnet (one per region; not peered)."""
    pod_cidr: str = "10.244.0.0/16"
    """Pod range of the Azure CNI overlay (not routable outside the cluster)."""
    service_cidr: str = "10.96.0.0/16"
    public_access_cidrs: Annotated[list[str], Field(max_length=50)] = Field(default_factory=list)
    """Outside production: IPv4 CIDRs allowed to reach a public API server (authorised IP ranges).
    Default: none (private cluster)."""
    gpu_driver: Literal["cloud", "operator"] = "cloud"
    """Who installs NVIDIA drivers on GPU pools: AKS (``cloud``) or the serving layer's GPU operator
    (``operator``); never both. Default: cloud."""

    @field_validator("node_cidr", "pod_cidr", "service_cidr")
    @classmethod
    def _private_range(cls, value: str) -> str:
        network = _ipv4_network(value)
        if not network.is_private:
            raise ValueError(f"must be a private (RFC 1918) IPv4 range, got {network}")
        if network.prefixlen > 24:
            raise ValueError(f"must hold at least a /24, got {network}")
        return str(network)

    @field_validator("public_access_cidrs")
    @classmethod
    def _narrow_cidrs(cls, values: list[str]) -> list[str]:
        return _api_cidrs(values)


class StackConfig(_Model):
    """Everything one environment decides; see stacks/Pulumi.dev.yaml for a worked example."""

    workloads: Annotated[list[WorkloadRef], Field(min_length=1)]
    objective: Objective = "balanced"
    budget_monthly_usd: Annotated[float, Field(gt=0, le=1e9)] | None = None
    """Stack-wide monthly ceiling, USD (at most 1e9). Default: none."""
    carbon_price_usd_per_tonne: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    """Carbon price for profiles without one, USD per tonne CO2 (at most 10,000). Default: 0."""
    hipaa_clouds: list[Literal["aws", "gcp", "azure"]] = Field(default_factory=lambda: list(CLOUDS))
    """Clouds under a business associate agreement. Default: all three."""
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    """Usage assumptions of the bill (NAT traffic, control-plane logs, artifact versions)."""
    quotas: Annotated[list[QuotaConfig], Field(max_length=500)] = Field(default_factory=list)
    """Accelerator quotas the plan must live within, per region and accelerator. Default: none."""
    assumed_power_watts: dict[str, Annotated[float, Field(gt=0, le=5000)]] = Field(default_factory=dict)
    """Per-chip power to assume where the spec sheet has none, e.g. ``{"Inferentia2": ...}``."""
    power_utilisation: Unit = 1.0
    """Average draw as a share of TDP for carbon estimates. Default 1.0 (an upper bound)."""
    cost_centre: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w\s.:/=+@-]+$")] | None = None
    """Cost-allocation tag value for every resource (an AWS tag value: letters, digits, spaces and
    ``_ . : / = + - @``). Default: none."""
    production: bool = False
    """Production: private cluster endpoints, protected keys, clusters and buckets. Default: no."""
    aws: AwsConfig | None = None
    """Required when any workload is placed on AWS."""
    gcp: GcpConfig | None = None
    """Required when any workload is placed on GCP."""
    azure: AzureConfig | None = None
    """Required when any workload is placed on Azure."""
    budget_alert_emails: Annotated[list[Email], Field(max_length=50)] = Field(default_factory=list)
    """Who receives budget alerts (each confirms the subscription by email; each address once,
    compared case-insensitively). Default: nobody."""

    @field_validator("budget_alert_emails")
    @classmethod
    def _unique_emails(cls, values: list[str]) -> list[str]:
        _unique([v.lower() for v in values], "address")
        return values

    @field_validator("workloads")
    @classmethod
    def _unique_profiles(cls, values: list[WorkloadRef]) -> list[WorkloadRef]:
        _unique([v.profile for v in values], "profile")
        return values

    _secret_fields: frozenset[str] = PrivateAttr(default=frozenset())

    def is_secret(self, field: str) -> bool:
        """True when the stack marks this top-level field secret (``pulumi config set --secret``).

        Every resource input derived from a secret field must be a Pulumi secret. Only the fields in
        ``SECRET_CAPABLE`` can be secret: the others shape the plan, which reviewers read in clear.
        """
        return field in self._secret_fields

    def placement_settings(self, catalog: Catalog) -> PlacementSettings:
        """Placement settings with accelerator names canonicalised against the catalog.

        Raises:
            UnknownName: an accelerator or region the catalog does not know; the message names the
                config key.
        """
        clouds: tuple[Cloud, ...] = tuple(self.hipaa_clouds)
        try:
            power = {catalog.canonical_accelerator(k): v for k, v in self.assumed_power_watts.items()}
        except UnknownName as exc:
            raise UnknownName(f"tensorfleet:assumedPowerWatts: {exc}") from None
        quotas = []
        for i, q in enumerate(self.quotas):
            try:
                quotas.append(resolve_quota(q.region, q.accelerator, q.limit, catalog))
            except UnknownName as exc:
                raise UnknownName(f"tensorfleet:quotas.{i}: {exc}") from None
        if len({(q.region, q.accelerator) for q in quotas}) < len(quotas):
            raise UnknownName("tensorfleet:quotas: two entries name the same region and accelerator")
        return PlacementSettings(
            objective=self.objective,
            stack_budget_monthly_usd=self.budget_monthly_usd,
            carbon_price_usd_per_tonne=self.carbon_price_usd_per_tonne,
            hipaa_clouds=clouds,
            latency=LatencyModel(path_stretch=self.latency.path_stretch),
            sizing=SizingAssumptions(**self.sizing.model_dump()),
            fleet=FleetLayout(
                nat_per_zone=self.aws.nat_per_zone if self.aws else False,
                existing_networks=frozenset(self.aws.existing_networks) if self.aws else frozenset(),
                usage=UsageAssumptions(**self.usage.model_dump()),
            ),
            quotas=tuple(quotas),
            assumed_power_watts=power,
            power_utilisation=self.power_utilisation,
        )


def _ipv4_network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ValueError(f"expected an IPv4 CIDR such as 203.0.113.0/24: {exc}") from None


def _api_cidrs(values: list[str]) -> list[str]:
    """CIDRs allowed to reach a cluster API: IPv4, each once, none wider than a /8."""
    networks = [_ipv4_network(v) for v in values]
    for network in networks:
        if network.prefixlen < 8:
            raise ValueError(f"{network} opens the cluster API to a large part of the internet; list your own ranges")
    return _unique([str(n) for n in networks], "CIDR")


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"lists the {what} {value!r} twice")
        seen.add(value)
    return values


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


CONFIG_KEYS: dict[str, str] = {_camel(name): name for name in StackConfig.model_fields}
"""Stack config key (camelCase, after ``tensorfleet:``) to StackConfig field."""

SECRET_PLACEHOLDER = "[secret]"
"""What the offline plan reads in place of an encrypted (``secure:``) value it cannot decrypt."""

SECRET_CAPABLE: frozenset[str] = frozenset({"cost_centre", "budget_alert_emails", "aws"})
"""Fields whose values only flow into resource inputs, so they can be kept secret end to end."""


class StackConfigInvalid(ValueError):
    """Stack configuration failed validation; ``str()`` names every key path and what was expected."""


def parse_stack_config(values: dict[str, Any], source: str, secret_keys: Collection[str] = ()) -> StackConfig:
    """Validates config values keyed by their camelCase config keys.

    ``secret_keys`` are the camelCase keys the stack marks secret; see :meth:`StackConfig.is_secret`.
    Problems under a secret key never echo its value.
    """
    problems = [_unknown_key(key) for key in sorted(set(values) - set(CONFIG_KEYS))]
    for key in sorted(set(secret_keys) & set(CONFIG_KEYS)):
        if CONFIG_KEYS[key] not in SECRET_CAPABLE:
            capable = ", ".join(f"tensorfleet:{_camel(f)}" for f in sorted(SECRET_CAPABLE))
            problems.append(
                f"tensorfleet:{key}: cannot be a secret: it shapes the plan, which reviewers read in clear "
                f"(secrets are for {capable}); set it without --secret"
            )
    parsed: StackConfig | None = None
    try:
        parsed = StackConfig.model_validate({CONFIG_KEYS[k]: v for k, v in values.items() if k in CONFIG_KEYS})
    except ValidationError as exc:
        secret_fields = {CONFIG_KEYS[k] for k in secret_keys if k in CONFIG_KEYS}
        errors = exc.errors(include_url=False)
        for error in errors[:MAX_PROBLEMS]:
            head, *tail = [str(part) for part in error["loc"]]
            path = ".".join([f"tensorfleet:{_camel(head)}", *tail])
            if error["input"] == SECRET_PLACEHOLDER:
                problems.append(
                    f"{path}: encrypted (secure:); tensorfleet plan cannot decrypt it, and this value shapes the "
                    "plan, so it has no stand-in: set it in clear"
                )
            elif head in secret_fields:
                problems.append(f"{path}: invalid ({error['type']}); the value is secret and not shown")
            else:
                problems.extend(describe_errors([{**error, "loc": (path,)}]))
        if len(errors) > MAX_PROBLEMS:
            problems.append(f"... and {len(errors) - MAX_PROBLEMS} more problem(s)")
    if problems or parsed is None:
        raise StackConfigInvalid(f"{source}: invalid stack config\n" + "\n".join(f"  - {p}" for p in problems))
    parsed._secret_fields = frozenset(CONFIG_KEYS[k] for k in secret_keys if k in CONFIG_KEYS)
    return parsed


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key, list(CONFIG_KEYS), n=1)
    hint = f"did you mean tensorfleet:{close[0]}? " if close else ""
    return f"tensorfleet:{bounded(key)[1:-1]}: unknown key; {hint}known keys: {', '.join(sorted(CONFIG_KEYS))}"
