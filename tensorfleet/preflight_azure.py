"""Preflight for Azure placements: the VM size is offered to the subscription, and vCPU quota fits.

For every Azure region of the plan: is each VM size listed for the region by Resource SKUs
(``resource_skus.list`` with ``location eq '<region>'``) and not restricted there for the
subscription (a ``Location`` restriction, e.g. reason ``NotAvailableForSubscription``)? And do the
regional usages (``usage.list``: ``name.value``, ``currentValue``, ``limit``) have room for the
plan's peak vCPUs (the size's ``vCPUs`` capability x max nodes)? Field names are those of
azure-mgmt-compute's models (``ResourceSku``, ``ResourceSkuRestrictions``, ``Usage``).

Which quotas: a regular VM must fit its size family's quota (the SKU's ``family`` is the usage
name) and the total regional vCPUs (``cores``); a Spot VM counts against the regional low-priority
vCPUs (``lowPriorityCores``) only. Source: Microsoft Learn, "Check vCPU quotas" and "Azure Spot
Virtual Machines" (quota), as of 2026-11. Zone restrictions are not blockers: AKS pools here are
regional (no availability zones are set).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from tensorfleet.preflight import CloudUnreachable, Finding, Requirement, one_line

if TYPE_CHECKING:
    from tensorfleet.stack_config import StackConfig

__all__ = ["API_ERRORS", "REGIONAL_VCPUS", "SPOT_VCPUS", "check", "compute_client", "run"]

REGIONAL_VCPUS = "cores"
"""Usage name of the total regional vCPUs quota ("Total Regional vCPUs")."""
SPOT_VCPUS = "lowPriorityCores"
"""Usage name of the regional Spot / low-priority vCPUs quota."""

API_ERRORS: tuple[type[BaseException], ...] = (AzureError,)
"""What asking Azure can raise: no credential, an API refusal, no connection (all AzureError)."""


def compute_client(subscription_id: str) -> Any:
    """A ComputeManagementClient for the subscription with DefaultAzureCredential (environment,
    workload or managed identity, Azure CLI login...); credential problems surface on the first call."""
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.compute import ComputeManagementClient

    return ComputeManagementClient(DefaultAzureCredential(), subscription_id)


def check(
    requirements: Sequence[Requirement], settings: StackConfig, client: Callable[[str], Any] | None = None
) -> tuple[str, list[Finding]]:
    """The Azure section of the report: :func:`run` in the stack's subscription
    (``tensorfleet:azure.subscription_id``), with ``client`` or :func:`compute_client`.

    Raises:
        CloudUnreachable: no ``tensorfleet:azure`` config, no credential, or the API could not be asked.
    """
    if settings.azure is None:
        raise CloudUnreachable("the plan places workloads on Azure but the stack sets no tensorfleet:azure")
    subscription = settings.azure.subscription_id
    try:
        return f"Azure subscription {subscription}", run(requirements, (client or compute_client)(subscription))
    except API_ERRORS as exc:
        raise CloudUnreachable(f"Azure could not be asked (subscription {subscription}): {one_line(exc)}") from None


def run(requirements: Sequence[Requirement], compute: Any) -> list[Finding]:
    """Checks every Azure requirement region by region: offerings first, then quotas."""
    by_region: dict[str, list[Requirement]] = defaultdict(list)
    for requirement in requirements:
        by_region[requirement.region].append(requirement)
    findings: list[Finding] = []
    for region, needs in sorted(by_region.items()):
        skus = _vm_skus(compute, region)
        usable: dict[str, Any] = {}
        for size in sorted({n.instance_type for n in needs}):
            finding = _offering(region, size, skus.get(size.lower()))
            findings.append(finding)
            if finding.ok:
                usable[size] = skus[size.lower()]
        findings += _quotas(compute, region, [n for n in needs if n.instance_type in usable], usable)
    return findings


def _vm_skus(compute: Any, region: str) -> dict[str, Any]:
    """The region's VM sizes by lower-case name (Resource SKUs lists disks and more besides)."""
    skus = compute.resource_skus.list(filter=f"location eq '{region}'")
    return {sku.name.lower(): sku for sku in skus if sku.resource_type == "virtualMachines"}


def _offering(region: str, size: str, sku: Any) -> Finding:
    """Offered, or a blocker: not listed in the region, or restricted there for the subscription."""
    if sku is None:
        return Finding(region, size, "offering", False, f"Resource SKUs lists no {size} in {region}")
    reason = _location_restriction(sku, region)
    if reason is not None:
        return Finding(region, size, "offering", False, f"restricted in {region} for this subscription ({reason})")
    return Finding(region, size, "offering", True, f"offered in {region} (family {sku.family})")


def _location_restriction(sku: Any, region: str) -> str | None:
    """The reason code of a restriction of the size across the whole region, if there is one."""
    for restriction in sku.restrictions or []:
        if restriction.type == "Location" and region.lower() in {v.lower() for v in restriction.values or []}:
            return str(restriction.reason_code or "no reason given")
    return None


def _vcpus(sku: Any) -> int:
    """The size's ``vCPUs`` capability."""
    for capability in sku.capabilities or []:
        if capability.name == "vCPUs":
            return int(capability.value)
    raise ValueError(f"Resource SKUs gives {sku.name} no vCPUs capability")


def _quotas(compute: Any, region: str, needs: list[Requirement], skus: dict[str, Any]) -> list[Finding]:
    """One finding per usage the region's offered placements need at their peak."""
    needed: dict[str, int] = defaultdict(int)
    for need in needs:
        sku = skus[need.instance_type]
        vcpus = _vcpus(sku) * need.nodes_max
        if need.capacity == "spot":
            needed[SPOT_VCPUS] += vcpus
        else:
            needed[sku.family] += vcpus
            needed[REGIONAL_VCPUS] += vcpus
    if not needed:
        return []
    usages = {u.name.value.lower(): u for u in compute.usage.list(region)}
    return [_quota_finding(region, name, count, usages.get(name.lower())) for name, count in sorted(needed.items())]


def _quota_finding(region: str, name: str, count: int, usage: Any) -> Finding:
    if usage is None:
        return Finding(region, name, "quota", False, f"needs {count} vCPUs at peak; {region} lists no {name} usage")
    headroom = usage.limit - usage.current_value
    return Finding(
        region,
        f"{usage.name.localized_value} ({usage.name.value})" if usage.name.localized_value else usage.name.value,
        "quota",
        count <= headroom,
        f"needs {count} vCPUs at peak; quota {usage.limit}, in use {usage.current_value}, headroom {headroom}",
    )
