"""The seam between the plan and one cloud's fleet: each cloud checks its config, then builds.

Every cloud's :class:`CloudFleet` is asked to ``prepare`` before any cloud builds, so a bad
setting on one cloud registers nothing on any.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pulumi

from components.budget.spec import BudgetSpec
from components.fleet.identity import WorkloadIdentity
from components.fleet.pool import GpuSlices
from components.naming import keyed
from regions.catalog import Catalog, UnknownName
from regions.placement import FleetPlan, StagePlacement
from tensorfleet.stack_config import StackConfig

__all__ = [
    "BuiltFleet",
    "CloudFleet",
    "ClusterTarget",
    "FleetConfigError",
    "PreparedFleet",
    "budget_specs",
    "check_offered",
    "check_region",
    "gpu_slices",
    "keyed_config",
    "rows_by_region",
    "secret_if",
    "stack_labels",
]


class FleetConfigError(ValueError):
    """The plan needs configuration the stack does not have (e.g. an AWS account for AWS placements)."""


@dataclass(frozen=True, kw_only=True)
class ClusterTarget:
    """One built cluster, as the serving layer needs it."""

    cloud: Literal["aws", "gcp", "azure"]
    region: str
    cluster_name: pulumi.Input[str]
    kubeconfig: pulumi.Input[str]
    """A Pulumi secret."""
    rows: tuple[StagePlacement, ...]
    """The placement rows the cluster runs."""
    identities: Mapping[str, WorkloadIdentity]
    """Per workload placed on the cluster: how its service account takes on its cloud identity."""
    gpu_driver: Literal["cloud", "operator"]
    """Who installs the NVIDIA driver on the cluster's GPU pools."""
    kubernetes_version: str | None = None
    """The cluster's minor version where the add-ons depend on it (EKS); None where the cloud keeps
    the cluster on a release channel (GKE, AKS)."""
    kubernetes_version_secret: bool = False
    """The version's config key is a secret."""
    artifacts: pulumi.Input[str]
    """The region's artifact storage as a URI prefix servers read (``s3://<bucket>/``,
    ``gs://<bucket>/``, ``as://<account>/artifacts/``); a workload's own prefix follows it."""
    fleet: pulumi.Resource
    """The region fleet: parent of the cluster's Kubernetes layer."""
    system_pool: pulumi.Resource
    """What the add-ons need running before they install."""


@dataclass
class BuiltFleet:
    """What one cloud's fleet exports, keyed by ``cloud:region``, and its clusters to serve from."""

    clusters: dict[str, Any] = field(default_factory=dict)
    kubeconfigs: dict[str, Any] = field(default_factory=dict)
    """Pulumi secrets, exported apart from the clusters so the endpoints stay readable."""
    targets: list[ClusterTarget] = field(default_factory=list)


class PreparedFleet(Protocol):
    """A cloud's part of the stack once its settings are checked; building it registers resources."""

    def build(self, plan: FleetPlan, environment: str, config: StackConfig, catalog: Catalog) -> BuiltFleet: ...


class CloudFleet(Protocol):
    """One cloud's builder: a registry entry in :mod:`tensorfleet.fleet`."""

    cloud: str

    def prepare(self, plan: FleetPlan, config: StackConfig, catalog: Catalog) -> PreparedFleet | None:
        """The checked layout of the cloud's part of ``plan``; None when nothing is placed there.

        Raises:
            FleetConfigError: the placements need settings the stack lacks or gets wrong.
        """
        ...


def rows_by_region(plan: FleetPlan, cloud: str) -> dict[str, list[StagePlacement]]:
    """Placement rows on ``cloud`` per region code, in plan order."""
    rows: dict[str, list[StagePlacement]] = defaultdict(list)
    for workload_plan in plan.workloads:
        for row in workload_plan.rows:
            if row.region.cloud == cloud:
                rows[row.region.code].append(row)
    return dict(rows)


def gpu_slices(row: StagePlacement) -> GpuSlices | None:
    """How the row's replicas share its GPUs, as the planner sized them; None when they own chips."""
    point = row.choice.option.point
    if point.replicas_per_accelerator == 1:
        return None
    return GpuSlices(replicas_per_gpu=point.replicas_per_accelerator, mig_profile=point.mig_profile)


def secret_if(secret: bool, value: str) -> pulumi.Input[str]:
    """The value as a Pulumi secret when its config key is secret, so every input made from it is one."""
    return pulumi.Output.secret(value) if secret else value


def keyed_config(values: list[str], key: Callable[[str], str], config_key: str) -> dict[str, str]:
    """Each entry of a config list under its stable key (never its position)."""
    try:
        return keyed(values, key)
    except ValueError as exc:
        raise FleetConfigError(f"{config_key}: {exc} (each entry names its own resources)") from None


def stack_labels(environment: str, config: StackConfig) -> dict[str, pulumi.Input[str]]:
    """Cost-allocation labels every resource carries; the cost centre is a secret when its key is."""
    cost_centre = secret_if(config.is_secret("cost_centre"), config.cost_centre or "unassigned")
    return {"environment": environment, "cost-centre": cost_centre, "managed-by": "tensorfleet"}


def check_region(catalog: Catalog, cloud: str, code: str, field: str) -> None:
    """A config key naming a region names one the catalog knows."""
    try:
        catalog.region(cloud, code)
    except UnknownName as exc:
        raise FleetConfigError(f"{field}: {exc}") from None


def check_offered(catalog: Catalog, cloud: str, region: str, names: Iterable[str], field: str) -> None:
    """Config keys naming instance (machine) types name accelerator types offered in the region."""
    offered = sorted({o.instance_type for o in catalog.offerings if o.cloud == cloud and o.region == region})
    for name in names:
        if name not in offered:
            close = difflib.get_close_matches(name, offered, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise FleetConfigError(
                f"{field}.{name}: no accelerator instance type of that name is offered in {region}{hint}"
            )


def budget_specs(plan: FleetPlan, cloud: str, environment: str, config: StackConfig) -> tuple[BudgetSpec, ...]:
    """A budget per workload placed on ``cloud`` (by its ``workload`` tag or label) and, with a stack
    budget, one for the stack (by ``environment``)."""
    budgets = [
        BudgetSpec(name=w.profile.name, monthly_usd=w.profile.budget.monthly_usd, tags={"workload": w.profile.name})
        for w in plan.workloads
        if any(row.region.cloud == cloud for row in w.rows)
    ]
    if config.budget_monthly_usd is not None:
        budgets.append(
            BudgetSpec(name="stack", monthly_usd=config.budget_monthly_usd, tags={"environment": environment})
        )
    return tuple(budgets)
