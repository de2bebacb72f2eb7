"""Before `pulumi up`: can the AWS account actually launch what the plan asks for?

For every AWS placement: is the instance type offered in the region (EC2
DescribeInstanceTypeOfferings, by availability-zone ID), and is there vCPU quota headroom for its
family and capacity type (Service Quotas, against the vCPUs already running per
DescribeInstances)? The plan's max node counts are what must fit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from regions.bill import PLACEMENT_TYPE

__all__ = [
    "QUOTA_CODES",
    "Finding",
    "Requirement",
    "quota_bucket",
    "requirements_from_plan",
    "run_preflight",
    "vcpus_in_use",
]

# EC2 vCPU quota codes per instance family bucket and capacity type. As of 2026-11, source: the
# `aws service-quotas list-service-quotas --service-code ec2` names and codes ("Running On-Demand
# G and VT instances" L-DB2E81BA, "All G and VT Spot Instance Requests" L-3819A6DF, ...).
QUOTA_CODES: dict[tuple[str, str], tuple[str, str]] = {
    ("G and VT", "on-demand"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("G and VT", "spot"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("P", "on-demand"): ("L-417A185B", "Running On-Demand P instances"),
    ("P", "spot"): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("Inf", "on-demand"): ("L-1945791B", "Running On-Demand Inf instances"),
    ("Inf", "spot"): ("L-B5D1601B", "All Inf Spot Instance Requests"),
    ("Trn", "on-demand"): ("L-2C3B7624", "Running On-Demand Trn instances"),
    ("Trn", "spot"): ("L-6B0D517C", "All Trn Spot Instance Requests"),
}


@dataclass(frozen=True, slots=True)
class Requirement:
    """What one placement needs at its peak."""

    workload: str
    region: str
    instance_type: str
    capacity: Literal["on-demand", "spot"]
    nodes_max: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One row of the preflight table."""

    region: str
    subject: str
    """An instance type (offering check) or a quota name (quota check)."""
    check: Literal["offering", "quota"]
    ok: bool
    detail: str


def quota_bucket(instance_type: str) -> str:
    """The vCPU quota bucket of an instance family: ``G and VT``, ``P``, ``Inf`` or ``Trn``."""
    family = instance_type.split(".", 1)[0]
    for prefix, bucket in (("inf", "Inf"), ("trn", "Trn"), ("vt", "G and VT"), ("g", "G and VT"), ("p", "P")):
        if family.startswith(prefix):
            return bucket
    raise ValueError(f"{instance_type}: no accelerator vCPU quota bucket for family {family!r}")


def requirements_from_plan(plan: dict[str, Any]) -> list[Requirement]:
    """AWS placements of a ``tensorfleet.plan/v1`` document, from its WorkloadPlacement resources."""
    found = []
    for resource in plan["resources"]:
        inputs = resource["inputs"]
        if resource["type"] == PLACEMENT_TYPE and inputs["cloud"] == "aws":
            found.append(
                Requirement(
                    workload=f"{inputs['workload']}/{inputs['stage']}",
                    region=inputs["region"],
                    instance_type=inputs["instanceType"],
                    capacity=inputs["capacityType"],
                    nodes_max=int(inputs["nodes"]["max"]),
                )
            )
    return found


ClientFactory = Callable[[str, str], Any]
"""``(service, region) -> boto3 client``; tests pass clients aimed at a moto server or stubbed."""


def run_preflight(requirements: Sequence[Requirement], client: ClientFactory) -> list[Finding]:
    """Checks every requirement region by region; returns one finding per instance type and quota."""
    by_region: dict[str, list[Requirement]] = defaultdict(list)
    for requirement in requirements:
        by_region[requirement.region].append(requirement)
    findings: list[Finding] = []
    for region, needs in sorted(by_region.items()):
        ec2 = client("ec2", region)
        types = sorted({n.instance_type for n in needs})
        offered = _offered_zones(ec2, types)
        for instance_type in types:
            zones = offered.get(instance_type, [])
            findings.append(
                Finding(
                    region,
                    instance_type,
                    "offering",
                    bool(zones),
                    f"offered in {', '.join(zones)}" if zones else f"not offered in any {region} availability zone",
                )
            )
        vcpus = _vcpus(ec2, [t for t in types if offered.get(t)])
        in_use = vcpus_in_use(ec2)
        needed: dict[tuple[str, str], int] = defaultdict(int)
        for need in needs:
            if need.instance_type in vcpus:
                needed[(quota_bucket(need.instance_type), need.capacity)] += need.nodes_max * vcpus[need.instance_type]
        quotas = client("service-quotas", region)
        for (bucket, capacity), vcpus_needed in sorted(needed.items()):
            code, name = QUOTA_CODES[(bucket, capacity)]
            limit = quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
            used = in_use.get((bucket, capacity), 0)
            headroom = math.floor(limit) - used
            findings.append(
                Finding(
                    region,
                    f"{name} ({code})",
                    "quota",
                    vcpus_needed <= headroom,
                    f"needs {vcpus_needed} vCPUs at peak; quota {limit:g}, in use {used}, headroom {headroom}",
                )
            )
    return findings


def render(findings: Iterable[Finding]) -> str:
    """The findings as a table, blockers marked."""
    rows = [("region", "check", "subject", "status", "detail")]
    rows += [(f.region, f.check, f.subject, "ok" if f.ok else "BLOCKER", f.detail) for f in findings]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)), row[4]]) for row in rows)


def _offered_zones(ec2: Any, instance_types: list[str]) -> dict[str, list[str]]:
    zones: dict[str, list[str]] = defaultdict(list)
    paginator = ec2.get_paginator("describe_instance_type_offerings")
    pages = paginator.paginate(
        LocationType="availability-zone-id", Filters=[{"Name": "instance-type", "Values": instance_types}]
    )
    for page in pages:
        for offering in page["InstanceTypeOfferings"]:
            zones[offering["InstanceType"]].append(offering["Location"])
    return {t: sorted(z) for t, z in zones.items()}


def _vcpus(ec2: Any, instance_types: list[str]) -> dict[str, int]:
    if not instance_types:
        return {}
    described = ec2.describe_instance_types(InstanceTypes=instance_types)["InstanceTypes"]
    return {t["InstanceType"]: int(t["VCpuInfo"]["DefaultVCpus"]) for t in described}


def vcpus_in_use(ec2: Any) -> dict[tuple[str, str], int]:
    """vCPUs of pending and running accelerator instances, per quota bucket and capacity type."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    ):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                try:
                    bucket = quota_bucket(instance["InstanceType"])
                except ValueError:
                    continue  # not an accelerator family: counted against other quotas
                capacity = "spot" if instance.get("InstanceLifecycle") == "spot" else "on-demand"
                counts[(instance["InstanceType"], bucket, capacity)] += 1
    vcpus = _vcpus(ec2, sorted({instance_type for instance_type, _, _ in counts}))
    used: dict[tuple[str, str], int] = defaultdict(int)
    for (instance_type, bucket, capacity), count in counts.items():
        used[(bucket, capacity)] += count * vcpus[instance_type]
    return dict(used)
