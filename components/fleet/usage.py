"""The usage the stack's bill assumes, recorded as a resource so that the plan and the policy pack read one figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from regions.pricing import UsageAssumptions

__all__ = ["USAGE_TYPE", "UsageRecord", "usage_from_inputs", "usage_inputs"]

USAGE_TYPE = "tensorfleet:fleet:UsageAssumptions"


def usage_inputs(usage: UsageAssumptions) -> dict[str, Any]:
    """Wire-form (camelCase) inputs of the record."""
    return {
        "natGbPerGatewayMonth": usage.nat_gb_per_gateway_month,
        "controlPlaneLogGbPerClusterMonth": usage.control_plane_log_gb_per_cluster_month,
        "artifactVersions": usage.artifact_versions,
    }


def usage_from_inputs(inputs: Mapping[str, Any]) -> UsageAssumptions:
    """The assumptions a record holds (the inverse of :func:`usage_inputs`)."""
    return UsageAssumptions(
        nat_gb_per_gateway_month=float(inputs["natGbPerGatewayMonth"]),
        control_plane_log_gb_per_cluster_month=float(inputs["controlPlaneLogGbPerClusterMonth"]),
        artifact_versions=int(inputs["artifactVersions"]),
    )


class UsageRecord(pulumi.ComponentResource):
    """Records the stack's usage assumptions; talks to no cloud."""

    def __init__(self, name: str, usage: UsageAssumptions, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(USAGE_TYPE, name, usage_inputs(usage), opts)
        self.register_outputs({})
