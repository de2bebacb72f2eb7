"""The change set against a base plan, worded for the pull-request comment (``plan.md``).

Protected deletes and replacements come first and alone, next to the policy violations: they
make ``pulumi up`` fail, and the reviewer has to choose deliberately between unprotecting and
keeping the placement where it is.
"""

from __future__ import annotations

from tensorfleet.plan_diff import KINDS, PlanChanges, ResourceChange

__all__ = ["MAX_ROWS", "changes_section", "protected_section"]

MAX_ROWS = 50
"""Rows listed per table; the rest are counted (plan.json lists every URN)."""
_MAX_PROPERTIES = 4


def protected_section(changes: PlanChanges) -> list[str]:
    """The warning that heads the comment, or nothing when no protected resource is touched."""
    out: list[str] = []
    if not changes.protect_known:
        out += [
            "> **Note:** the base plan records no `protect` flags (it predates them), so deletes of protected "
            "resources cannot be flagged. Regenerate the base plan to see them.",
            "",
        ]
    blocked = changes.protected
    if not blocked:
        return out
    out += [
        f"### Protected resources deleted or replaced ({len(blocked)}): `pulumi up` will fail",
        "",
        "These resources are registered with `protect=True` (production keys, clusters, buckets). The engine "
        "refuses to delete or replace a protected resource, so `pulumi up` stops at the first one.",
        "",
        "| change | resource (URN) | type | because |",
        "|---|---|---|---|",
    ]
    out += [f"| {c.kind} | `{_cell(c.urn)}` | `{c.type}` | {_because(c)} |" for c in blocked[:MAX_ROWS]]
    if len(blocked) > MAX_ROWS:
        out.append(f"| | and {len(blocked) - MAX_ROWS} more (`changes.protected` in plan.json) | | |")
    out += [
        "",
        "To go ahead, decide deliberately: if the move is intended, make sure nothing still needed lives in "
        "the resource (a bucket's artifacts, data encrypted with a key), unprotect it "
        "(`pulumi state unprotect '<urn>'`) and run `pulumi up` again. Otherwise keep the placement where it is: "
        "restrict the workload in `tensorfleet:workloads` (`overrides: {placement: {allowed_regions: [...]}}`) "
        "or hold back the catalog change that moved it, and plan again.",
        "",
    ]
    return out


def changes_section(changes: PlanChanges, stack: str) -> list[str]:
    """Counts, then each changed resource, most disruptive first, at most MAX_ROWS rows."""
    counts = changes.counts()
    out = [
        "### Changes against the base plan",
        "",
        f"{counts['created']} to create, {counts['deleted']} to delete, {counts['replaced']} to replace, "
        f"{counts['updated']} to update, {counts['unchanged']} unchanged.",
        "",
    ]
    if changes.base_stack and changes.base_stack != stack:
        out += [
            f"> The base plan is for stack `{changes.base_stack}`, this plan for `{stack}`: URNs name their "
            "stack, so no resource matches.",
            "",
        ]
    ordered = sorted(changes.changes, key=lambda c: (not c.blocked, KINDS.index(c.kind), c.urn))
    if not ordered:
        return out
    out += ["| change | resource | type | properties |", "|---|---|---|---|"]
    for c in ordered[:MAX_ROWS]:
        flag = " (protected)" if c.blocked else ""
        out.append(f"| {c.kind}{flag} | {_cell(c.name)} | `{c.type}` | {_because(c)} |")
    if len(ordered) > MAX_ROWS:
        out.append(f"| | and {len(ordered) - MAX_ROWS} more (`changes` in plan.json) | | |")
    if changes.of("replace"):
        out += [
            "",
            "Replacement is judged from a documented table of properties per resource type "
            "(`tensorfleet/replace_rules.py`); resources that depend on a replaced one may be replaced too. "
            "`pulumi preview` has the final word.",
        ]
    return out


def _because(change: ResourceChange) -> str:
    if change.kind == "delete":
        return "no longer in the plan"
    if change.kind == "create":
        return "new in the plan"
    shown = ", ".join(f"`{_cell(p)}`" for p in change.properties[:_MAX_PROPERTIES])
    more = len(change.properties) - _MAX_PROPERTIES
    shown += f" and {more} more" if more > 0 else ""
    return f"changes {shown}" if change.kind == "replace" else shown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
