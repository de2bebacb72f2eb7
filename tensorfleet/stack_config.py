"""The typed per-environment configuration read from ``stacks/Pulumi.<stack>.yaml``.

Top-level keys are camelCase, one per concern, under the ``tensorfleet:`` namespace; nested keys
are the snake_case field names of the models below.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from regions.catalog import CLOUDS, Catalog, Cloud
from regions.geo import LatencyModel
from regions.settings import Objective, PlacementSettings
from regions.sizing import SizingAssumptions

__all__ = ["CONFIG_KEYS", "SECRET_CAPABLE", "StackConfig", "StackConfigInvalid", "parse_stack_config"]

Unit = Annotated[float, Field(gt=0, le=1)]


class _Model(BaseModel):
    # Strict: a YAML `true` or `"40"` is not a number, `4711` is not a string; no NaN or infinity.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class WorkloadRef(_Model):
    profile: str
    """Profile file, relative to the project root (``workloads/examples/chat-assistant-70b.yaml``)."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Fields deep-merged into the profile for this environment only (e.g. ``scaling``)."""


class LatencyConfig(_Model):
    path_stretch: Annotated[float, Field(ge=1, le=10)] = LatencyModel().path_stretch
    """Fibre route length over great-circle length (see regions/geo.py)."""


class SizingConfig(_Model):
    memory_utilisation: Unit = SizingAssumptions().memory_utilisation
    bandwidth_efficiency: Unit = SizingAssumptions().bandwidth_efficiency
    compute_efficiency: Unit = SizingAssumptions().compute_efficiency
    max_batch: Annotated[int, Field(ge=1, le=4096)] = SizingAssumptions().max_batch


class ExistingNetworkConfig(_Model):
    vpc_id: str
    private_subnet_ids: Annotated[dict[str, str], Field(min_length=2)]
    """Private subnet ID per availability-zone ID (``use1-az1``), two zones at least."""


class AwsConfig(_Model):
    """Settings for every AWS placement of the stack."""

    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    """The only account the stack may deploy to (the providers refuse any other)."""
    home_region: str = "us-east-1"
    """Region of the stack-wide alert topic and its key. Default: us-east-1."""
    kubernetes_version: str = "1.33"
    vpc_cidr: str = "10.64.0.0/16"
    """Range of every tensorfleet VPC (one per region; they are not peered). Default: 10.64.0.0/16."""
    nat_per_zone: bool = False
    """One NAT gateway per zone (zone-outage tolerant, dearer). Default: one per VPC."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """Outside production: CIDRs allowed to reach a public cluster endpoint. Default: none (private)."""
    admin_principal_arns: list[str] = Field(default_factory=list)
    """IAM principals given cluster admin through EKS access entries."""
    existing_networks: dict[str, ExistingNetworkConfig] = Field(default_factory=dict)
    """Bring-your-own VPC per region code; tensorfleet creates no network there."""
    capacity_blocks: dict[str, dict[str, Annotated[str, Field(pattern=r"^cr-[0-9a-f]+$")]]] = Field(
        default_factory=dict
    )
    """Capacity Blocks for ML you bought: region -> instance type -> reservation ID. On-demand
    placements of that type in that region launch into the block. Default: none."""
    create_autoscaling_service_linked_role: bool = False
    """Create AWSServiceRoleForAutoScaling first. The region keys' policies name it, and KMS rejects
    a policy naming a role that does not exist yet: turn this on in a fresh account. Default: off."""


class StackConfig(_Model):
    """Everything one environment decides; see stacks/Pulumi.dev.yaml for a worked example."""

    workloads: Annotated[list[WorkloadRef], Field(min_length=1)]
    objective: Objective = "balanced"
    budget_monthly_usd: Annotated[float, Field(gt=0)] | None = None
    """Stack-wide monthly ceiling, USD. Default: none."""
    carbon_price_usd_per_tonne: Annotated[float, Field(ge=0)] = 0.0
    """Carbon price for profiles without one. Default: 0."""
    hipaa_clouds: list[Literal["aws", "gcp", "azure"]] = Field(default_factory=lambda: list(CLOUDS))
    """Clouds under a business associate agreement. Default: all three."""
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    assumed_power_watts: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    """Per-chip power to assume where the spec sheet has none, e.g. ``{"Inferentia2": ...}``."""
    power_utilisation: Unit = 1.0
    """Average draw as a share of TDP for carbon estimates. Default 1.0 (an upper bound)."""
    cost_centre: str | None = None
    """Cost-allocation tag value for every resource. Default: none."""
    production: bool = False
    """Production: private cluster endpoints, protected keys, clusters and buckets. Default: no."""
    aws: AwsConfig | None = None
    """Required when any workload is placed on AWS."""
    budget_alert_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list
    )
    """Who receives budget alerts (each confirms the subscription by email). Default: nobody."""

    _secret_fields: frozenset[str] = PrivateAttr(default=frozenset())

    def is_secret(self, field: str) -> bool:
        """True when the stack marks this top-level field secret (``pulumi config set --secret``).

        Every resource input derived from a secret field must be a Pulumi secret. Only the fields in
        ``SECRET_CAPABLE`` can be secret: the others shape the plan, which reviewers read in clear.
        """
        return field in self._secret_fields

    def placement_settings(self, catalog: Catalog) -> PlacementSettings:
        """Placement settings with accelerator names canonicalised against the catalog."""
        clouds: tuple[Cloud, ...] = tuple(self.hipaa_clouds)
        return PlacementSettings(
            objective=self.objective,
            stack_budget_monthly_usd=self.budget_monthly_usd,
            carbon_price_usd_per_tonne=self.carbon_price_usd_per_tonne,
            hipaa_clouds=clouds,
            latency=LatencyModel(path_stretch=self.latency.path_stretch),
            sizing=SizingAssumptions(**self.sizing.model_dump()),
            assumed_power_watts={catalog.canonical_accelerator(k): v for k, v in self.assumed_power_watts.items()},
            power_utilisation=self.power_utilisation,
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


CONFIG_KEYS: dict[str, str] = {_camel(name): name for name in StackConfig.model_fields}
"""Stack config key (camelCase, after ``tensorfleet:``) to StackConfig field."""

SECRET_CAPABLE: frozenset[str] = frozenset({"cost_centre", "budget_alert_emails", "aws"})
"""Fields whose values only flow into resource inputs, so they can be kept secret end to end."""


class StackConfigInvalid(ValueError):
    """Stack configuration failed validation; ``str()`` names every key path and what was expected."""


def parse_stack_config(values: dict[str, Any], source: str, secret_keys: Collection[str] = ()) -> StackConfig:
    """Validates config values keyed by their camelCase config keys.

    ``secret_keys`` are the camelCase keys the stack marks secret; see :meth:`StackConfig.is_secret`.
    """
    unknown = sorted(set(values) - set(CONFIG_KEYS))
    problems = [f"tensorfleet:{key}: unknown key; known keys: {', '.join(sorted(CONFIG_KEYS))}" for key in unknown]
    for key in sorted(set(secret_keys) & set(CONFIG_KEYS)):
        if CONFIG_KEYS[key] not in SECRET_CAPABLE:
            capable = ", ".join(f"tensorfleet:{_camel(f)}" for f in sorted(SECRET_CAPABLE))
            problems.append(
                f"tensorfleet:{key}: cannot be a secret: it shapes the plan, which reviewers read in clear "
                f"(secrets are for {capable}); set it without --secret"
            )
    try:
        parsed = StackConfig.model_validate({CONFIG_KEYS[k]: v for k, v in values.items() if k in CONFIG_KEYS})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            head, *tail = [str(part) for part in error["loc"]]
            path = ".".join([f"tensorfleet:{_camel(head)}", *tail])
            received = "" if error["type"] == "missing" else f" (got {error['input']!r})"
            problems.append(f"{path}: {error['msg']}{received}")
        parsed = None
    if problems or parsed is None:
        raise StackConfigInvalid(f"{source}: invalid stack config\n" + "\n".join(f"  - {p}" for p in problems))
    parsed._secret_fields = frozenset(CONFIG_KEYS[k] for k in secret_keys if k in CONFIG_KEYS)
    return parsed
