"""The versioned, typed stack outputs that app teams read through a stack reference.

The program exports exactly the fields of :class:`StackOutputs` (camelCase on the wire). A new
field is a minor change; renaming or removing one bumps ``SCHEMA_VERSION``.
"""

from __future__ import annotations

from typing import Literal

import pulumi
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "SCHEMA_VERSION",
    "ClusterOutput",
    "PlacementOutput",
    "StackOutputs",
    "Totals",
    "WorkloadOutput",
    "read_stack_outputs",
]

SCHEMA_VERSION = "tensorfleet.outputs/v1"


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class NodeCounts(_Wire):
    min: int
    desired: int
    max: int


class PlacementOutput(_Wire):
    """One stage of a workload in one region."""

    stage: str
    cloud: str
    region: str
    instance_type: str
    accelerator: str
    accelerator_count: int
    capacity_type: str
    nodes: NodeCounts
    takeover_nodes: int = 0
    """On-demand nodes beside spot ones that start when another region's users move here."""


class WorkloadOutput(_Wire):
    tenant: str
    owner: str
    namespace: str
    """Kubernetes namespace the workload's serving stack runs in (the tenant)."""
    gateway_only: bool
    monthly_usd: float
    """The workload's own capacity per month: its nodes, their disks and its models' storage."""
    placements: list[PlacementOutput]


class Totals(_Wire):
    monthly_usd: float
    """The stack's whole monthly bill as the planner counts it: nodes, their disks, storage, and each
    opened region's fixed costs (plan.json ``totals.monthly_usd``)."""
    monthly_kgco2: float | None = None
    """None where a placed chip's power is unpublished (its carbon unknown); Pulumi drops null
    outputs, so a reader sees the field missing."""


class ClusterOutput(_Wire):
    """One regional cluster (its kubeconfig is in ``StackOutputs.kubeconfigs``)."""

    cloud: str
    region: str
    cluster_name: str
    endpoint: str
    oidc_provider_arn: str | None = None
    artifact_bucket: str
    node_groups: dict[str, str]
    """Node group (or node pool) name per ``workload/stage``."""
    project: str | None = None
    """GCP: the project of the cluster."""
    workload_identity_pool: str | None = None
    """GCP: the Workload Identity pool (``<project>.svc.id.goog``) Kubernetes service accounts use."""
    resource_group: str | None = None
    """Azure: the resource group of the cluster."""
    oidc_issuer_url: str | None = None
    """Azure: the cluster's OIDC issuer for workload identity federation."""


class StackOutputs(_Wire):
    """Every output of a tensorfleet stack."""

    schema_version: Literal["tensorfleet.outputs/v1"]
    environment: str
    objective: str
    workloads: dict[str, WorkloadOutput]
    totals: Totals
    clusters: dict[str, ClusterOutput] = {}
    """Per ``cloud:region``. Added in v1 without a version change: readers of older stacks get ``{}``."""
    kubeconfigs: dict[str, str] = {}
    """Per ``cloud:region``; the whole output is a Pulumi secret."""


def read_stack_outputs(stack_name: str) -> pulumi.Output[StackOutputs]:
    """Reads a tensorfleet stack's outputs, validated, for use in another Pulumi program.

    Args:
        stack_name: fully qualified stack, e.g. ``"acme/tensorfleet/prod"``.
    """
    reference = pulumi.StackReference(stack_name)
    return reference.outputs.apply(lambda values: StackOutputs.model_validate(values))
