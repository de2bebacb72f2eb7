"""What ``pulumi up`` would do to the base plan's resources to reach this plan: the change set.

A reviewer of a catalog refresh or a profile edit needs to see the infrastructure consequence,
not only the cost: a node group replaced because its instance type moved, or a whole region's
cluster, key and bucket deleted because its last placement left. Deleting or replacing a
protected resource makes ``pulumi up`` fail, so those are listed apart.

Values the offline plan cannot know (``[unknown until deployed]``) or must not show
(``[secret]``) compare equal to anything: the plan cannot tell whether they changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tensorfleet.engine import SECRET_PLACEHOLDER
from tensorfleet.replace_rules import PROVIDER_KEY, forcing_properties
from tensorfleet.report import UNKNOWN_PLACEHOLDER

__all__ = ["KINDS", "ChangeKind", "PlanChanges", "ResourceChange", "changed_paths", "diff_plans"]

ChangeKind = Literal["replace", "delete", "create", "update"]
KINDS: tuple[ChangeKind, ...] = ("replace", "delete", "create", "update")
"""Most disruptive first: the order plan.md lists them in."""

_INCOMPARABLE = frozenset({UNKNOWN_PLACEHOLDER, SECRET_PLACEHOLDER})


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One resource that differs between the base plan and this plan."""

    urn: str
    kind: ChangeKind
    type: str
    name: str
    protect: bool
    """Protected in the base (the state ``pulumi up`` checks) or in this plan."""
    properties: tuple[str, ...] = ()
    """For a replacement, what forces it; for an update, what changed (dotted wire-form paths)."""

    @property
    def blocked(self) -> bool:
        """``pulumi up`` refuses to delete or replace a protected resource."""
        return self.protect and self.kind in ("delete", "replace")


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """The change set, sorted by URN, and what could not be judged."""

    changes: tuple[ResourceChange, ...]
    unchanged: int
    protect_known: bool
    """False when the base plan predates the ``protect`` field: protected deletes cannot be seen."""
    base_stack: str

    def of(self, kind: ChangeKind) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def protected(self) -> tuple[ResourceChange, ...]:
        """Deletes and replacements of protected resources: each makes ``pulumi up`` fail."""
        return tuple(c for c in self.changes if c.blocked)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.of("create")),
            "deleted": len(self.of("delete")),
            "replaced": len(self.of("replace")),
            "updated": len(self.of("update")),
            "unchanged": self.unchanged,
        }

    def to_json(self) -> dict[str, Any]:
        """The ``"changes"`` object of ``plan.json`` (present only when a base plan was given)."""
        return {
            "base_stack": self.base_stack,
            "counts": self.counts(),
            "created": [c.urn for c in self.of("create")],
            "deleted": [c.urn for c in self.of("delete")],
            "replaced": [c.urn for c in self.of("replace")],
            "updated": [c.urn for c in self.of("update")],
            "replace_reasons": {c.urn: list(c.properties) for c in self.of("replace")},
            "protected": [c.urn for c in self.protected],
            "protect_known": self.protect_known,
        }


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any]) -> PlanChanges:
    """Compares two ``tensorfleet.plan/v1`` documents resource by resource (by URN)."""
    before = {r["urn"]: r for r in base["resources"]}
    after = {r["urn"]: r for r in head["resources"]}
    changes: list[ResourceChange] = []
    unchanged = 0
    for urn in sorted(before.keys() | after.keys()):
        old, new = before.get(urn), after.get(urn)
        if old is None and new is not None:
            changes.append(_change(urn, "create", new, protect=bool(new.get("protect"))))
        elif new is None and old is not None:
            changes.append(_change(urn, "delete", old, protect=bool(old.get("protect"))))
        elif old is not None and new is not None:
            change = _compare(urn, old, new)
            if change is None:
                unchanged += 1
            else:
                changes.append(change)
    return PlanChanges(
        changes=tuple(changes),
        unchanged=unchanged,
        protect_known=all("protect" in r for r in base["resources"]),
        base_stack=str(base.get("stack", "")),
    )


def _compare(urn: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> ResourceChange | None:
    protect = bool(old.get("protect")) or bool(new.get("protect"))
    # Older plans have no provider field: no provider change can be seen then.
    if "provider" in old and "provider" in new and old["provider"] != new["provider"]:
        # The engine replaces unless the new provider's configuration diff allows the move; the
        # offline plan cannot ask the provider, so it reports the replacement it may cause.
        return _change(urn, "replace", new, protect, (PROVIDER_KEY,))
    paths = tuple(changed_paths(old.get("inputs", {}), new.get("inputs", {})))
    if not paths:
        return None
    forcing = forcing_properties(new["type"], paths)
    if forcing:
        return _change(urn, "replace", new, protect, forcing)
    return _change(urn, "update", new, protect, paths)


def _change(
    urn: str, kind: ChangeKind, resource: Mapping[str, Any], protect: bool, properties: tuple[str, ...] = ()
) -> ResourceChange:
    return ResourceChange(urn, kind, resource["type"], resource["name"], protect, properties)


def changed_paths(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Dotted paths (``a.b``, ``a[2]``) where two wire-form values differ, placeholders matching anything.

    Recursive: plan inputs nest a handful of levels, and :func:`tensorfleet.base_plan.load_base_plan`
    refuses a base plan nested deeper than it could walk.
    """
    if _is_placeholder(old) or _is_placeholder(new):
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old.keys() | new.keys()):
            child = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                yield child
            else:
                yield from changed_paths(old[key], new[key], child)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            yield path
        else:
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from changed_paths(a, b, f"{path}[{i}]")
    elif (type(old) is not type(new) and not (_is_number(old) and _is_number(new))) or old != new:
        yield path


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value in _INCOMPARABLE


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
