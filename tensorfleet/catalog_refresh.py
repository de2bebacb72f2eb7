"""Refreshes the AWS part of the catalog from AWS itself.

* On-demand Linux prices from the Price List API (``pricing:GetProducts``, shared tenancy, no
  pre-installed software, capacity status ``Used``), for the instance types the catalog knows.
* Zone offerings from EC2 ``DescribeInstanceTypeOfferings`` (by availability-zone ID) and the
  regions' zones from ``DescribeAvailabilityZones``.
* GPU vCPU quota headroom per region and quota (Service Quotas against running instances).

Rows keep their specs; a refreshed price names its source and date. Both files are written only
after everything was read, each through a temporary file, so a failure leaves the catalog as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tensorfleet.files import write_all_or_nothing
from tensorfleet.preflight import QUOTA_CODES, ClientFactory, vcpus_in_use

__all__ = ["QuotaHeadroom", "RefreshReport", "refresh_aws"]

PRICING_REGION = "us-east-1"  # the Price List query API is served from us-east-1 (and two others)


@dataclass(frozen=True, slots=True)
class QuotaHeadroom:
    region: str
    quota: str
    limit_vcpus: float
    used_vcpus: int

    @property
    def headroom_vcpus(self) -> float:
        return self.limit_vcpus - self.used_vcpus


@dataclass
class RefreshReport:
    """What a refresh changed and found."""

    prices_changed: list[tuple[str, str, float, float]] = field(default_factory=list)
    """(instance type, region, old USD/h, new USD/h)."""
    unpriced: list[tuple[str, str]] = field(default_factory=list)
    """Catalog rows the Price List API returned no on-demand price for (left unchanged)."""
    offering_rows: int = 0
    quotas: list[QuotaHeadroom] = field(default_factory=list)


def refresh_aws(data_dir: Path, client: ClientFactory, today: date | None = None) -> RefreshReport:
    """Refreshes ``accelerators.csv`` AWS prices and ``aws_az_offerings.csv`` in ``data_dir``."""
    stamp = (today or date.today()).isoformat()
    report = RefreshReport()
    rows, columns = _read(data_dir / "accelerators.csv")
    aws_rows = [r for r in rows if r["cloud"] == "aws"]
    prices = _prices(client("pricing", PRICING_REGION), sorted({r["instance_type"] for r in aws_rows}))
    for row in aws_rows:
        key = (row["instance_type"], row["region"])
        if key not in prices:
            report.unpriced.append(key)
            continue
        new = prices[key]
        old = float(row["hourly_usd"]) if row["hourly_usd"] else None
        if old is None or abs(old - new) > 1e-9:
            report.prices_changed.append((key[0], key[1], old if old is not None else 0.0, new))
            row["hourly_usd"] = f"{new:g}"
            row["price_source"] = "aws-pricing-api"
            row["notes"] = _with_note(row["notes"], f"price from the AWS Price List API on {stamp}")
    offerings = _offerings(client, aws_rows, stamp, report)
    for region in sorted({r["region"] for r in aws_rows}):
        report.quotas.extend(_headroom(client, region))
    write_all_or_nothing(
        {
            data_dir / "accelerators.csv": _csv(columns, rows),
            data_dir / "aws_az_offerings.csv": _csv(["instance_type", "region", "az_id", "source"], offerings),
        }
    )
    return report


def _prices(pricing: Any, instance_types: list[str]) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for instance_type in instance_types:
        filters = [
            {"Type": "TERM_MATCH", "Field": field_name, "Value": value}
            for field_name, value in (
                ("instanceType", instance_type),
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("preInstalledSw", "NA"),
                ("capacitystatus", "Used"),
            )
        ]
        token = None
        while True:
            page = pricing.get_products(
                ServiceCode="AmazonEC2",
                Filters=filters,
                FormatVersion="aws_v1",
                **({"NextToken": token} if token else {}),
            )
            for text in page["PriceList"]:
                item = json.loads(text)
                region = item["product"]["attributes"].get("regionCode")
                usd = _on_demand_usd(item)
                if region and usd is not None:
                    found[(instance_type, region)] = usd
            token = page.get("NextToken")
            if not token:
                break
    return found


def _on_demand_usd(item: dict[str, Any]) -> float | None:
    for term in item.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term["priceDimensions"].values():
            if dimension.get("unit") == "Hrs" and "USD" in dimension["pricePerUnit"]:
                return float(dimension["pricePerUnit"]["USD"])
    return None


def _offerings(
    client: ClientFactory, aws_rows: list[dict[str, str]], stamp: str, report: RefreshReport
) -> list[dict[str, str]]:
    source = f"EC2 DescribeInstanceTypeOfferings (availability-zone-id) on {stamp}"
    rows: list[dict[str, str]] = []
    types_by_region: dict[str, set[str]] = defaultdict(set)
    for row in aws_rows:
        types_by_region[row["region"]].add(row["instance_type"])
    for region, types in sorted(types_by_region.items()):
        ec2 = client("ec2", region)
        pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone-id", Filters=[{"Name": "instance-type", "Values": sorted(types)}]
        )
        found = sorted({(o["InstanceType"], o["Location"]) for page in pages for o in page["InstanceTypeOfferings"]})
        rows.extend({"instance_type": t, "region": region, "az_id": z, "source": source} for t, z in found)
        zones = ec2.describe_availability_zones(Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}])
        rows.extend(
            {"instance_type": "*", "region": region, "az_id": z["ZoneId"], "source": source}
            for z in sorted(zones["AvailabilityZones"], key=lambda z: z["ZoneId"])
        )
    report.offering_rows = sum(1 for r in rows if r["instance_type"] != "*")
    return rows


def _headroom(client: ClientFactory, region: str) -> list[QuotaHeadroom]:
    in_use = vcpus_in_use(client("ec2", region))
    quotas = client("service-quotas", region)
    result = []
    for (bucket, capacity), (code, name) in sorted(QUOTA_CODES.items()):
        if capacity != "on-demand":
            continue
        limit = quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
        result.append(QuotaHeadroom(region, f"{name} ({code})", float(limit), in_use.get((bucket, capacity), 0)))
    return result


def _with_note(notes: str, note: str) -> str:
    kept = [n for n in notes.split("; ") if n and not n.startswith("price from the AWS Price List API")]
    return "; ".join([*kept, note])


def _read(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader), list(reader.fieldnames or [])


def _csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
