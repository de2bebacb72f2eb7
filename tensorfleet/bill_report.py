"""The bill in the plan: priced lines of the program's registrations, and their plan.md section."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.fleet.usage import USAGE_TYPE, usage_from_inputs
from regions.bill import PLACEMENT_TYPE, BilledResource, BillLine, bill, total_usd
from regions.catalog import load_catalog
from regions.pricing import UsageAssumptions, load_price_book
from tensorfleet.engine import Registration

__all__ = ["bill_lines", "bill_section"]

_USAGE_WORDS = {
    "natGbPerGatewayMonth": "GB processed per NAT gateway-month",
    "controlPlaneLogGbPerClusterMonth": "GB of control-plane logs per cluster-month",
    "artifactVersions": "version(s) of each model's weights kept in the artifact bucket",
}


def bill_lines(
    registrations: Sequence[Registration], locations: Mapping[str, tuple[str | None, str | None]]
) -> tuple[list[dict[str, Any]], float]:
    """The plan's ``bill``, every priced line in a fixed order, and its total (of unrounded lines)."""
    usage = next((usage_from_inputs(r.inputs) for r in registrations if r.type == USAGE_TYPE), UsageAssumptions())
    resources = [
        BilledResource(r.urn, r.type, *locations[r.urn], inputs=_plain(r.inputs), parent=r.parent)
        for r in registrations
    ]
    lines = bill(resources, load_catalog(), load_price_book(), usage)
    rows = [_row(line) for line in lines]
    rows.sort(key=lambda r: (r["cloud"], r["region"], r["type"], r["urn"], r["item"]))
    return rows, total_usd(lines)


def _row(line: BillLine) -> dict[str, Any]:
    return {
        "urn": line.urn,
        "type": line.type,
        "item": line.item,
        "cloud": line.cloud,
        "region": line.region,
        "quantity": round(line.quantity, 3),
        "unit": line.unit,
        "unit_usd": line.unit_usd,
        "monthly_usd": None if line.monthly_usd is None else round(line.monthly_usd, 2),
        "source": line.source,
        "assumption": line.assumption,
        "workload": line.workload,
    }


def _plain(value: Any) -> Any:
    """Inputs with secret or unknown values left out: no bill rule reads one, and none may leak."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if _known(v)}
    if isinstance(value, list):
        return [_plain(v) for v in value if _known(v)]
    return value


def _known(value: Any) -> bool:
    return not (rpc.is_rpc_secret(value) or isinstance(value, Unknown))


def bill_section(plan: Mapping[str, Any], base: Mapping[str, Any] | None) -> list[str]:
    """plan.md: the bill by region and resource type, with the base's figures when there is one."""
    now, before = _by_region_type(plan), _by_region_type(base) if base else {}
    keys = sorted(now.keys() | before.keys())
    out = [
        "### Bill by region and resource type",
        "",
        "| region | resource type | $/month |" + (" base | change |" if base else ""),
        "|---|---|---|" + ("---|---|" if base else ""),
    ]
    for key in keys:
        line = f"| {key[0]} | `{key[1]}` | {_usd(now.get(key))} |"
        if base:
            line += f" {_usd(before.get(key))} | {_delta(now.get(key, 0.0), before.get(key, 0.0))} |"
        out.append(line)
    planned = sorted({b["cloud"] for b in plan.get("bill", []) if b["type"] == PLACEMENT_TYPE})
    if planned:
        clouds = ", ".join(planned)
        out += ["", f"The stack builds no fleet on {clouds} yet: those placements carry what a fleet there needs "
                "(cluster, logs, key, NAT, disks, storage), marked as not built by the stack yet."]  # fmt: skip
    unpriced = [b for b in plan.get("bill", []) if b["monthly_usd"] is None]
    stand_ins = [b for b in plan.get("bill", []) if "no sourced" in b["source"]]
    if unpriced:
        out += ["", f"{len(unpriced)} line(s) have no sourced price and are not in the total: "
                + ", ".join(sorted({f"{b['item']} ({b['cloud']})" for b in unpriced}))]  # fmt: skip
    if stand_ins:
        out += ["", f"{len(stand_ins)} line(s) use another region's list price where no price for their own "
                "region is sourced (plan.json `bill[].source` names it)."]  # fmt: skip
    usage = next((r["inputs"] for r in plan.get("resources", []) if r["type"] == USAGE_TYPE), None)
    if usage:
        stated = "; ".join(f"{usage[key]:g} {words}" for key, words in _USAGE_WORDS.items() if key in usage)
        out += ["", f"Usage assumptions (`tensorfleet:usage` overrides them): {stated}."]
    return out


def _by_region_type(plan: Mapping[str, Any] | None) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for line in (plan or {}).get("bill", []):
        totals[(f"{line['cloud']}:{line['region']}", line["type"])] += line["monthly_usd"] or 0.0
    return dict(totals)


def _usd(value: float | None) -> str:
    return "–" if value is None else f"${value:,.0f}"


def _delta(now: float, before: float) -> str:
    delta = now - before
    return f"{'+' if delta >= 0 else '-'}${abs(delta):,.0f}"
