"""Before `pulumi up`: can the accounts actually launch what the plan asks for?

This module holds the model shared by the three clouds (Requirement, Finding, the table) and the
AWS checks. For every AWS placement: is the instance type offered in the region (EC2
DescribeInstanceTypeOfferings, by availability-zone ID), and is there vCPU quota headroom for its
family and capacity type (Service Quotas, against the vCPUs already running per
DescribeInstances)? The plan's max node counts are what must fit. GCP and Azure have their own
modules (:mod:`tensorfleet.preflight_gcp`, :mod:`tensorfleet.preflight_azure`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from regions.bill import PLACEMENT_TYPE
from regions.catalog import Cloud

if TYPE_CHECKING:
    from tensorfleet.stack_config import StackConfig

__all__ = [
    "QUOTA_CODES",
    "CloudUnreachable",
    "Finding",
    "Requirement",
    "check_aws",
    "one_line",
    "quota_bucket",
    "render",
    "report",
    "requirements_from_plan",
    "run_preflight",
    "stack_settings",
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


class CloudUnreachable(Exception):
    """A cloud with placements could not be asked (no config, no credentials, no answer, a refusal);
    ``str()`` is one line naming the cloud."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """What one placement needs at its peak."""

    workload: str
    region: str
    instance_type: str
    capacity: Literal["on-demand", "spot"]
    nodes_max: int
    accelerator: str = ""
    """Catalog accelerator name (``H100``, ``TPU v6e``); GCP quotas are counted per accelerator."""
    accelerators_per_node: int = 0
    """GPUs per node, or chips per TPU slice (one single-host slice is one node)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One row of the preflight table."""

    region: str
    subject: str
    """An instance type (offering check) or a quota name (quota check)."""
    check: Literal["offering", "quota"]
    ok: bool
    """False for a blocker: the plan cannot launch as it stands."""
    detail: str
    verified: bool = True
    """False when no API answer can settle the check (a quota no metric names): shown, never a blocker."""


def quota_bucket(instance_type: str) -> str:
    """The vCPU quota bucket of an instance family: ``G and VT``, ``P``, ``Inf`` or ``Trn``."""
    family = instance_type.split(".", 1)[0]
    for prefix, bucket in (("inf", "Inf"), ("trn", "Trn"), ("vt", "G and VT"), ("g", "G and VT"), ("p", "P")):
        if family.startswith(prefix):
            return bucket
    raise ValueError(f"{instance_type}: no accelerator vCPU quota bucket for family {family!r}")


def requirements_from_plan(plan: dict[str, Any], cloud: Cloud = "aws") -> list[Requirement]:
    """One cloud's placements of a ``tensorfleet.plan/v1`` document, from its WorkloadPlacement resources."""
    found = []
    for resource in plan["resources"]:
        inputs = resource["inputs"]
        if resource["type"] == PLACEMENT_TYPE and inputs["cloud"] == cloud:
            found.append(
                Requirement(
                    workload=f"{inputs['workload']}/{inputs['stage']}",
                    region=inputs["region"],
                    instance_type=inputs["instanceType"],
                    capacity=inputs["capacityType"],
                    nodes_max=int(inputs["nodes"]["max"]),
                    accelerator=inputs["accelerator"],
                    accelerators_per_node=int(inputs["acceleratorCount"]),
                )
            )
    return found


def stack_settings(stack: str) -> StackConfig:
    """The stack's validated config, read as the program reads it: GCP and Azure checks need the
    project and subscription it names.

    Raises:
        StackConfigError, StackConfigInvalid: the file is missing or the config does not validate.
    """
    from tensorfleet.engine import read_stack_config
    from tensorfleet.program_config import NAMESPACE, decode_value
    from tensorfleet.stack_config import parse_stack_config

    config, secret_keys = read_stack_config(stack)
    prefix = f"{NAMESPACE}:"
    values = {k[len(prefix) :]: decode_value(k[len(prefix) :], v) for k, v in config.items() if k.startswith(prefix)}
    secret = {k[len(prefix) :] for k in secret_keys if k.startswith(prefix)}
    return parse_stack_config(values, f"stacks/Pulumi.{stack}.yaml", secret)


ClientFactory = Callable[[str, str], Any]
"""``(service, region) -> boto3 client``; tests pass clients aimed at a moto server or stubbed."""


def check_aws(requirements: Sequence[Requirement], client: ClientFactory | None = None) -> list[Finding]:
    """:func:`run_preflight` with boto3's default credentials unless ``client`` is given.

    Raises:
        CloudUnreachable: AWS could not be asked.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    factory = client or (lambda service, region: boto3.client(service, region_name=region))
    try:
        return run_preflight(requirements, factory)
    except (BotoCoreError, ClientError) as exc:
        raise CloudUnreachable(f"AWS could not be asked: {one_line(exc)}") from None


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
    """The findings as a table, blockers marked, unverified checks named as such (never as ``ok``)."""
    rows = [("region", "check", "subject", "status", "detail")]
    rows += [(f.region, f.check, f.subject, _status(f), f.detail) for f in findings]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)), row[4]]) for row in rows)


def report(sections: Sequence[tuple[str, Sequence[Finding]]]) -> tuple[str, int]:
    """The report of every cloud's findings (a titled table each, then the totals), and the blocker count."""
    parts = []
    for title, findings in sections:
        blocking = sum(not f.ok for f in findings)
        parts.append(f"{title}: {blocking} blocker(s) in {len(findings)} check(s)\n{render(findings)}\n")
    every = [f for _, findings in sections for f in findings]
    blockers = sum(not f.ok for f in every)
    unverified = sum(not f.verified for f in every)
    parts.append(
        f"{blockers} blocker(s) in {len(every)} check(s)" + (f", {unverified} unverified" if unverified else "")
    )
    return "\n".join(parts), blockers


def _status(finding: Finding) -> str:
    if not finding.ok:
        return "BLOCKER"
    return "ok" if finding.verified else "unverified"


def one_line(error: BaseException) -> str:
    """An SDK error's text on one line: Azure and Google errors span several, the CLI prints one."""
    return " ".join(str(error).split()) or type(error).__name__


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
