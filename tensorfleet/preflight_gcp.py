"""Preflight for GCP placements: offered in a zone of the region, and regional accelerator quota.

For every GCP region of the plan: is each machine type (for TPUs, the GKE machine type of the
slice) offered in at least one zone the catalog lists for it (Compute Engine ``machineTypes.get``
per zone; 404 means not offered there), and does the region's quota for its GPUs or TPU chips
(``regions.get`` -> ``quotas``: metric, limit, usage) have room for the plan's peak? Needed =
accelerators per node x max nodes; headroom = limit - usage.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httplib2
from google.auth.exceptions import GoogleAuthError
from googleapiclient.errors import HttpError

from components.gcp.accelerators import TPU_GENERATIONS, tpu_machine
from regions.catalog import load_catalog
from tensorfleet.preflight import CloudUnreachable, Finding, Requirement, one_line

if TYPE_CHECKING:
    from tensorfleet.stack_config import StackConfig

__all__ = [
    "API_ERRORS",
    "QUOTA_METRICS",
    "SCOPE",
    "check",
    "compute_service",
    "gke_machine_type",
    "quota_metric",
    "run",
]

# Regional quota metrics per GPU machine series and per TPU generation: (on-demand, spot). Spot
# VMs count against the PREEMPTIBLE_ metrics. Every name is a value of the `Quota.metric` enum in the
# compute v1 discovery document shipped with google-api-python-client (revision 20261106; a test
# holds the table to it). Keyed by machine series, not by the catalog's accelerator name, because
# the series fixes the GPU model (Compute Engine "About GPUs": A2 Standard A100 40GB, A2 Ultra A100
# 80GB, A3 High H100 80GB, G2 L4) while the catalog also calls A3 Mega's GPU "H100" (GKE's
# nvidia-h100-mega-80gb); and by TPU generation for the podslice machine types GKE uses (ct4p,
# ct5lp: "Plan TPUs in GKE").
# None: the enum names no metric. On-demand H100, and A3 Mega / A3 Ultra / A4 / G4, TPU v5p and
# v6e are absent from it, so their quota is reported unverified rather than guessed.
QUOTA_METRICS: dict[str, tuple[str | None, str | None]] = {
    "a2-highgpu": ("NVIDIA_A100_GPUS", "PREEMPTIBLE_NVIDIA_A100_GPUS"),
    "a2-megagpu": ("NVIDIA_A100_GPUS", "PREEMPTIBLE_NVIDIA_A100_GPUS"),
    "a2-ultragpu": ("NVIDIA_A100_80GB_GPUS", "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS"),
    "a3-highgpu": (None, "PREEMPTIBLE_NVIDIA_H100_GPUS"),
    "g2-standard": ("NVIDIA_L4_GPUS", "PREEMPTIBLE_NVIDIA_L4_GPUS"),
    "TPU v4": ("TPU_PODSLICE_V4", "PREEMPTIBLE_TPU_PODSLICE_V4"),
    "TPU v5e": ("TPU_LITE_PODSLICE_V5", "PREEMPTIBLE_TPU_LITE_PODSLICE_V5"),
}

SCOPE = "https://www.googleapis.com/auth/compute.readonly"
"""Read-only Compute Engine scope (listed in the compute v1 discovery document's ``auth``)."""

API_ERRORS: tuple[type[BaseException], ...] = (HttpError, GoogleAuthError, httplib2.HttpLib2Error, OSError)
"""What asking GCP can raise: an API refusal, missing or unusable credentials, no connection."""


def compute_service() -> Any:
    """Compute Engine v1 with Application Default Credentials, built from the discovery document the
    client ships (no network until the first call; credential problems surface here)."""
    import google.auth
    from googleapiclient.discovery import build

    credentials, _ = google.auth.default(scopes=[SCOPE])
    return build("compute", "v1", credentials=credentials, static_discovery=True, cache_discovery=False)


def check(
    requirements: Sequence[Requirement], settings: StackConfig, service: Callable[[], Any] | None = None
) -> tuple[str, list[Finding]]:
    """The GCP section of the report: :func:`run` in the stack's project (``tensorfleet:gcp.project``),
    with ``service`` or :func:`compute_service`.

    Raises:
        CloudUnreachable: no ``tensorfleet:gcp`` config, no credentials, or the API could not be asked.
    """
    if settings.gcp is None:
        raise CloudUnreachable("the plan places workloads on GCP but the stack sets no tensorfleet:gcp (its project)")
    project = settings.gcp.project
    try:
        return f"GCP project {project}", run(requirements, (service or compute_service)(), project)
    except API_ERRORS as exc:
        raise CloudUnreachable(f"GCP could not be asked (project {project}): {one_line(exc)}") from None


def run(requirements: Sequence[Requirement], compute: Any, project: str) -> list[Finding]:
    """Checks every GCP requirement region by region: offerings first, then quotas."""
    by_region: dict[str, list[Requirement]] = defaultdict(list)
    for requirement in requirements:
        by_region[requirement.region].append(requirement)
    findings: list[Finding] = []
    for region, needs in sorted(by_region.items()):
        findings += _offerings(compute, project, region, needs)
        findings += _quotas(compute, project, region, needs)
    return findings


def gke_machine_type(requirement: Requirement) -> str:
    """The Compute Engine machine type a node runs on: the instance type for GPU machines, the GKE
    TPU machine type (``ct6e-standard-4t``) for a Cloud TPU slice (``tpu-v6e-4``)."""
    if requirement.accelerator in TPU_GENERATIONS:
        return tpu_machine(requirement.accelerator, requirement.accelerators_per_node).machine_type
    return requirement.instance_type


def quota_metric(requirement: Requirement) -> str | None:
    """The regional quota metric the placement's accelerators count against; None where none is named."""
    key = requirement.accelerator if requirement.accelerator in TPU_GENERATIONS else _series(requirement)
    on_demand, spot = QUOTA_METRICS.get(key, (None, None))
    return spot if requirement.capacity == "spot" else on_demand


def _series(requirement: Requirement) -> str:
    """``a3-highgpu`` of ``a3-highgpu-1g``: the machine series, which fixes the GPU model."""
    return requirement.instance_type.rsplit("-", 1)[0]


def _offerings(compute: Any, project: str, region: str, needs: list[Requirement]) -> list[Finding]:
    """One finding per instance type: offered in at least one catalog zone, or a blocker."""
    findings = []
    for instance_type, need in sorted({n.instance_type: n for n in needs}.items()):
        machine = gke_machine_type(need)
        zones = _catalog_zones().get((region, instance_type), ())
        offered = [zone for zone in zones if _offers(compute, project, zone, machine)]
        subject = instance_type if machine == instance_type else f"{instance_type} ({machine})"
        if offered:
            detail = f"offered in {', '.join(offered)}"
        elif zones:
            detail = f"not offered in {', '.join(zones)} (the catalog's zones for it)"
        else:
            detail = f"the catalog lists no {region} zone for it"
        findings.append(Finding(region, subject, "offering", bool(offered), detail))
    return findings


def _offers(compute: Any, project: str, zone: str, machine_type: str) -> bool:
    """Whether the zone offers the machine type: ``machineTypes.get`` answers 404 where it does not."""
    try:
        compute.machineTypes().get(project=project, zone=zone, machineType=machine_type).execute()
    except HttpError as exc:
        if exc.resp.status == 404:
            return False
        raise
    return True


@functools.cache
def _catalog_zones() -> dict[tuple[str, str], tuple[str, ...]]:
    """(region, instance type) -> zones that offer it (``gcp_zone_offerings.csv``)."""
    return {(o.region, o.instance_type): o.zones for o in load_catalog().offerings if o.cloud == "gcp"}


def _quotas(compute: Any, project: str, region: str, needs: list[Requirement]) -> list[Finding]:
    """One finding per quota metric the region's placements need, then one per unverifiable quota."""
    needed: dict[str, int] = defaultdict(int)
    unnamed: dict[tuple[str, str], int] = defaultdict(int)
    for need in needs:
        count = need.accelerators_per_node * need.nodes_max
        metric = quota_metric(need)
        if metric is None:
            unnamed[(need.accelerator, need.capacity)] += count
        else:
            needed[metric] += count
    findings = []
    if needed:
        answer = compute.regions().get(project=project, region=region).execute()
        quotas = {q["metric"]: q for q in answer.get("quotas", [])}
        warning = answer.get("quotaStatusWarning")
        for metric, count in sorted(needed.items()):
            if metric not in quotas and warning:
                findings.append(_unread_quota(region, metric, count, warning))
            else:
                findings.append(_quota_finding(region, metric, count, quotas.get(metric)))
    for (accelerator, capacity), count in sorted(unnamed.items()):
        findings.append(
            Finding(
                region,
                f"{accelerator} {capacity}",
                "quota",
                True,
                f"needs {count} {_unit(accelerator)} at peak; the Compute Engine API names no regional quota "
                "metric for it: check the project's quotas in the console",
                verified=False,
            )
        )
    return findings


def _quota_finding(region: str, metric: str, count: int, quota: dict[str, Any] | None) -> Finding:
    unit = _unit(metric)
    if quota is None:
        return Finding(region, metric, "quota", False, f"needs {count} {unit} at peak; {region} lists no {metric}")
    limit, usage = float(quota["limit"]), float(quota["usage"])
    headroom = limit - usage
    return Finding(
        region,
        metric,
        "quota",
        count <= headroom,
        f"needs {count} {unit} at peak; quota {limit:g}, in use {usage:g}, headroom {headroom:g}",
    )


def _unread_quota(region: str, metric: str, count: int, warning: dict[str, Any]) -> Finding:
    """The region answered without its quotas (``Region.quotaStatusWarning``): unverified, not a blocker."""
    reason = warning.get("message") or warning.get("code") or "no reason given"
    return Finding(
        region,
        metric,
        "quota",
        True,
        f"needs {count} {_unit(metric)} at peak; {region} could not read its quotas ({reason})",
        verified=False,
    )


def _unit(name: str) -> str:
    """What a GCP accelerator quota counts: TPU chips or GPUs."""
    return "TPU chips" if "TPU" in name.upper() else "GPUs"
