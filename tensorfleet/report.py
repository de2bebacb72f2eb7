"""The offline plan: ``plan.json`` (the ``tensorfleet.plan/v1`` contract) and ``plan.md`` for pull requests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from regions.bill import PACKAGE_CLOUDS, PLACEMENT_TYPE
from tensorfleet.bill_report import bill_lines, bill_section
from tensorfleet.engine import SECRET_PLACEHOLDER, ProgramRun, Registration

__all__ = ["PLAN_SCHEMA", "build_plan", "render_markdown", "render_table"]

PLAN_SCHEMA = "tensorfleet.plan/v1"
UNKNOWN_PLACEHOLDER = "[unknown until deployed]"


def build_plan(stack: str, run: ProgramRun, policy_results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The plan document for one program run (see the contract in the README)."""
    by_urn = {r.urn: r for r in run.registrations}
    placements = [_placement(r.inputs) for r in run.registrations if r.type == PLACEMENT_TYPE]
    locations = {reg.urn: _location(reg, by_urn) for reg in run.registrations}
    # A component has no provider of its own: it is where its resources are, if they agree.
    below: dict[str, set[tuple[str | None, str | None]]] = {}
    for reg in reversed(run.registrations):  # children are registered after their parents
        if locations[reg.urn] == (None, None) and len(below.get(reg.urn, ())) == 1:
            locations[reg.urn] = next(iter(below[reg.urn]))
        if reg.parent:
            below.setdefault(reg.parent, set()).update(
                below.get(reg.urn, set()) | {locations[reg.urn]} - {(None, None)}
            )
    resources = []
    for reg in run.registrations:
        cloud, region = locations[reg.urn]
        resources.append(
            {
                "urn": reg.urn,
                "type": reg.type,
                "name": reg.name,
                "parent": reg.parent,
                "cloud": cloud,
                "region": region,
                "inputs": _mask_secrets(reg.inputs),
                "protect": reg.protect,
                # A provider reference is "<urn>::<id>"; the URN is what identifies the provider.
                "provider": reg.provider.rsplit("::", 1)[0] if reg.provider else None,
            }
        )
    bill, bill_usd = bill_lines(run.registrations, locations)
    kgs = [p["monthly_kgco2"] for p in placements]
    # The engine registers resources as their inputs resolve, an order that varies between runs;
    # the plan lists everything in a fixed order so that two plans of the same program diff clean.
    placements.sort(key=lambda p: (p["workload"], p["cloud"], p["region"], p["instance_type"]))
    resources.sort(key=lambda r: r["urn"])
    results = sorted(policy_results or [], key=lambda r: (r["policy"], r["urn"] or "", r["message"]))
    return {
        "schema": PLAN_SCHEMA,
        "stack": stack,
        "placements": placements,
        "resources": resources,
        "policy_results": results,
        "bill": bill,
        "totals": {
            "monthly_usd": round(bill_usd, 2),
            "accelerators_monthly_usd": round(sum(p["monthly_usd"] for p in placements), 2),
            "monthly_kgco2": None if any(k is None for k in kgs) else round(sum(kgs), 3),
            "resources": len(resources),
        },
    }


def _placement(inputs: Mapping[str, Any]) -> dict[str, Any]:
    nodes = inputs["nodes"]
    return {
        "workload": inputs["workload"] if inputs["stage"] == "main" else f"{inputs['workload']}/{inputs['stage']}",
        "cloud": inputs["cloud"],
        "region": inputs["region"],
        "instance_type": inputs["instanceType"],
        "accelerator": inputs["accelerator"],
        "accelerator_count": int(inputs["acceleratorCount"]),
        "capacity_type": inputs["capacityType"],
        "nodes": {"min": int(nodes["min"]), "desired": int(nodes["desired"]), "max": int(nodes["max"])},
        "hourly_usd": float(inputs["hourlyUsd"]),
        "monthly_usd": float(inputs["monthlyUsd"]),
        "grid_gco2_per_kwh": inputs.get("gridGco2PerKwh"),
        "monthly_kgco2": inputs.get("monthlyKgco2"),
        "reason": inputs["reason"],
        **({"takeover_nodes": int(inputs["takeoverNodes"])} if inputs.get("takeoverNodes") else {}),
        **({"gpu_sharing": _gpu_sharing(inputs["gpuSharing"])} if inputs.get("gpuSharing") else {}),
    }


def _gpu_sharing(sharing: Mapping[str, Any]) -> dict[str, Any]:
    mig = sharing.get("migProfile")
    return {"replicas_per_gpu": int(sharing["replicasPerGpu"]), **({"mig_profile": mig} if mig else {})}


def _location(reg: Registration, by_urn: Mapping[str, Registration]) -> tuple[str | None, str | None]:
    """Cloud and region from the resource's own inputs, else its provider's, else its parent's."""
    seen = set()
    current: Registration | None = reg
    while current is not None and current.urn not in seen:
        seen.add(current.urn)
        if "cloud" in current.inputs and "region" in current.inputs:
            return current.inputs["cloud"], current.inputs["region"]
        provider = _provider_location(current, by_urn)
        if provider is not None:
            return provider
        current = by_urn.get(current.parent or "")
    return None, None


def _provider_location(reg: Registration, by_urn: Mapping[str, Registration]) -> tuple[str, str | None] | None:
    if reg.type.startswith("pulumi:providers:"):
        package = reg.type.removeprefix("pulumi:providers:")
        if package not in PACKAGE_CLOUDS:
            return None  # e.g. a cluster's Kubernetes provider: located by what it is registered under
        return PACKAGE_CLOUDS[package], reg.inputs.get("region") or reg.inputs.get("location")
    if reg.provider:
        provider = by_urn.get(reg.provider.rsplit("::", 1)[0])  # a provider reference is "<urn>::<id>"
        if provider is not None:
            return _provider_location(provider, by_urn)
    return None


def _mask_secrets(value: Any) -> Any:
    """Plan-safe inputs: every Pulumi secret masked, every value not known until deployment marked."""
    if rpc.is_rpc_secret(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, Unknown):
        return UNKNOWN_PLACEHOLDER
    if isinstance(value, Mapping):
        return {k: _mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets(v) for v in value]
    return value


def render_table(plan: Mapping[str, Any]) -> str:
    """The placement table and totals as plain text for the terminal."""
    header = ("workload", "cloud", "region", "instance type", "accel", "nodes min/des/max", "$/month", "kgCO2/mo")
    rows = [
        (
            p["workload"],
            p["cloud"],
            p["region"],
            p["instance_type"],
            f"{p['accelerator_count']}x {p['accelerator']}",
            f"{p['nodes']['min']}/{p['nodes']['desired']}/{p['nodes']['max']}",
            f"{p['monthly_usd']:,.0f}",
            _kg(p["monthly_kgco2"]),
        )
        for p in plan["placements"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)) for line in (header, *rows)]
    totals = plan["totals"]
    lines.append("")
    gateway = [
        r["name"]
        for r in plan["resources"]
        if r["type"] == "tensorfleet:fleet:Workload" and r["inputs"].get("gatewayOnly")
    ]
    if gateway:
        lines.append(f"served through the gateway only (no accelerators): {', '.join(gateway)}")
    lines.append(
        f"stack {plan['stack']}: ${totals['monthly_usd']:,.0f}/month, {_kg(totals['monthly_kgco2'])} kgCO2/month, "
        f"{totals['resources']} resources, {len(plan['policy_results'])} policy result(s)"
    )
    changes = plan.get("changes")
    if changes:
        n = changes["counts"]
        lines.append(
            f"against the base plan: {n['created']} to create, {n['deleted']} to delete, {n['replaced']} to replace, "
            f"{n['updated']} to update"
        )
        if changes["protected"]:
            lines.append(
                f"{len(changes['protected'])} protected resource(s) deleted or replaced: "
                "pulumi up will fail (see plan.md)"
            )
    return "\n".join(lines)


def render_markdown(plan: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> str:
    """A pull-request comment: what blocks the plan first, then totals (and the change), then placements.

    With a base plan, protected resources that would be deleted or replaced head the comment (they
    make ``pulumi up`` fail), and the change set against the base follows the placements.
    """
    # Imported here: the change set reads this module's placeholders.
    from tensorfleet.change_report import changes_section, protected_section
    from tensorfleet.plan_diff import diff_plans

    changes = diff_plans(base, plan) if base else None
    out = [f"## tensorfleet plan: `{plan['stack']}`", ""]
    if changes is not None:
        out += protected_section(changes)
    violations = plan["policy_results"]
    if violations:
        out += [
            f"### Policy violations ({len(violations)})",
            "",
            "| policy | enforcement | resource | message |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {v['policy']} | {v['enforcement']} | {_where(v['urn'])} | {_cell(v['message'])} |" for v in violations
        ]
        out.append("")
    else:
        out += ["No policy violations.", ""]
    totals = plan["totals"]
    out += [
        "### Totals",
        "",
        "| | this plan |" + (" base | change |" if base else ""),
        "|---|---|" + ("---|---|" if base else ""),
    ]
    figures = (
        ("monthly cost (the whole bill)", "monthly_usd", "$"),
        ("of which accelerator nodes", "accelerators_monthly_usd", "$"),
        ("monthly carbon", "monthly_kgco2", "kg"),
    )
    for label, key, unit in figures:
        line = f"| {label} | {_amount(totals.get(key), unit)} |"
        if base:
            before = base["totals"].get(key)
            line += f" {_amount(before, unit)} | {_change(totals[key], before, unit)} |"
        out.append(line)
    out.append(
        f"| resources | {totals['resources']} |"
        + (f" {base['totals']['resources']} | {totals['resources'] - base['totals']['resources']:+d} |" if base else "")
    )
    out += [
        "",
        "### Placements",
        "",
        "| workload | cloud | region | instance type | accelerators | nodes min/desired/max | $/month | kgCO2/month |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in plan["placements"]:
        out.append(
            f"| {p['workload']} | {p['cloud']} | {p['region']} | `{p['instance_type']}` | {p['accelerator_count']}x "
            f"{p['accelerator']} | {p['nodes']['min']}/{p['nodes']['desired']}/{p['nodes']['max']} | "
            f"{p['monthly_usd']:,.0f} | {_kg(p['monthly_kgco2'])} |"
        )
    out += ["", *bill_section(plan, base)]
    if base:
        out += ["", *_placement_changes(plan, base)]
    if changes is not None:
        out += ["", *changes_section(changes, plan["stack"])]
    out += ["", "<details><summary>Why each placement</summary>", ""]
    out += [f"- **{p['workload']}** in {p['cloud']}:{p['region']}: {p['reason']}" for p in plan["placements"]]
    out += ["", "</details>", ""]
    return "\n".join(out)


def _placement_changes(plan: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    def keyed(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
        return {(p["workload"], p["cloud"], p["region"]): p for p in doc["placements"]}

    now, before = keyed(plan), keyed(base)
    lines = []
    for key in sorted(now.keys() - before.keys()):
        lines.append(f"- added: {key[0]} in {key[1]}:{key[2]} ({now[key]['instance_type']})")
    for key in sorted(before.keys() - now.keys()):
        lines.append(f"- removed: {key[0]} in {key[1]}:{key[2]} ({before[key]['instance_type']})")
    for key in sorted(now.keys() & before.keys()):
        a, b = now[key], before[key]
        if (a["instance_type"], a["nodes"]) != (b["instance_type"], b["nodes"]):
            lines.append(
                f"- changed: {key[0]} in {key[1]}:{key[2]}: {b['instance_type']} {b['nodes']['desired']} nodes -> "
                f"{a['instance_type']} {a['nodes']['desired']} nodes"
            )
    return ["### Placement changes against base", "", *(lines or ["- none"])]


def _kg(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "unknown"
    return f"${value:,.0f}" if unit == "$" else f"{value:,.0f} kgCO2"


def _change(now: float | None, before: float | None, unit: str) -> str:
    if now is None or before is None:
        return "n/a"
    delta = now - before
    pct = f" ({delta / before:+.1%})" if before else ""
    return (f"{'+' if delta >= 0 else '-'}${abs(delta):,.0f}" if unit == "$" else f"{delta:+,.0f} kgCO2") + pct


def _where(urn: str | None) -> str:
    """A violation's resource for the table; stack-wide violations have none."""
    return f"`{urn}`" if urn else "(stack)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
