"""Accelerator quotas: a ceiling, per region and accelerator, on the chips every workload may run at peak.

A cloud account can launch only as many accelerators in a region as its quota allows (EC2 vCPU
quotas per instance family, GCP ``NVIDIA_*_GPUS`` and TPU quotas per region, Azure vCPU quotas
per VM family). The stack states the ones it must live within, as accelerators (chips) of one
kind in one region; the planner holds the sum over all workloads of accelerators at max nodes
(what the autoscaler may launch at peak, and, where failover is required, what a region must be
able to launch when it takes over another's users) within each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from regions.catalog import Catalog, UnknownName, did_you_mean, quoted

__all__ = ["MAX_QUOTA", "AcceleratorQuota", "quota_index", "resolve_quota"]

MAX_QUOTA = 1_000_000
"""The largest quota the stack config accepts: as good as none."""


@dataclass(frozen=True, slots=True)
class AcceleratorQuota:
    """At most ``limit`` ``accelerator`` chips in ``region`` (a ``cloud:code`` key) at peak."""

    region: str
    accelerator: str
    """Canonical accelerator name, as the catalog's offerings name it (``H100``, ``TPU v5e``)."""
    limit: int


def quota_index(quotas: Sequence[AcceleratorQuota]) -> dict[tuple[str, str], int]:
    """(region key, accelerator) -> position of its quota in ``quotas``."""
    return {(q.region, q.accelerator): i for i, q in enumerate(quotas)}


def resolve_quota(region: str, accelerator: str, limit: int, catalog: Catalog) -> AcceleratorQuota:
    """A quota with its accelerator canonicalised against the catalog.

    Raises:
        UnknownName: a region key or an accelerator the catalog does not offer; the message lists
            close matches.
    """
    if region not in catalog.regions:
        raise UnknownName(f"region {quoted(region)} is not in the catalog{did_you_mean(region, catalog.regions)}")
    name = catalog.canonical_accelerator(accelerator)
    if not any(o.accelerator == name for o in catalog.offerings):
        raise UnknownName(f"no offering of the catalog carries {quoted(name)}")
    return AcceleratorQuota(region, name, limit)
