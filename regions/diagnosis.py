"""Why placement failed, as data, and its wording for whoever ran the command.

Placement knows which constraint binds and the nearest value that would work; only the caller
knows how its user changes it: ``--budget`` for ``tensorfleet place``, ``tensorfleet:budgetMonthlyUsd``
in ``stacks/Pulumi.<stack>.yaml`` for ``tensorfleet plan`` and ``pulumi up``, a profile field in a
named file for either. A :class:`Diagnosis` holds the facts; :func:`describe` words them for an
:class:`Audience`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

__all__ = [
    "STACK_SETTINGS",
    "Audience",
    "Constraint",
    "Diagnosis",
    "PlacementError",
    "StackSetting",
    "Value",
    "describe",
    "place_audience",
    "stack_audience",
]

Constraint = Literal[
    "unknown_name",
    "duplicate_name",
    "model_size",
    "measured_accelerators",
    "budget",
    "stack_budget",
    "quota",
    "latency",
    "min_regions",
    "max_replicas",
    "carbon_cap",
    "capacity",
    "gpu_sharing",
    "node_disk",
    "accelerators",
    "unknown_carbon",
    "allowed_regions",
    "denied_regions",
    "clouds",
    "hipaa_clouds",
    "residency",
    "combined",
]
"""What binds. ``combined``: no single setting does; several must be relaxed at once."""

StackSetting = Literal["budget_monthly_usd", "quotas", "hipaa_clouds", "assumed_power_watts", "objective"]
"""Stack-wide placement settings a diagnosis can name (the fields of the stack configuration)."""
STACK_SETTINGS: tuple[StackSetting, ...] = get_args(StackSetting)

_NEUTRAL_NAMES: dict[str, str] = {
    "budget_monthly_usd": "the stack budget",
    "quotas": "the stack's accelerator quotas",
    "hipaa_clouds": "the stack's HIPAA clouds",
    "assumed_power_watts": "the stack's assumed chip power",
    "objective": "the placement objective",
}

Value = float | int | bool | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One reason a placement failed: the setting to change, its value and the nearest that works."""

    constraint: Constraint
    workload: str | None
    """The workload concerned; None for the stack as a whole."""
    setting: str
    """A profile field path (``budget.monthly_usd``), or a :data:`StackSetting` when ``stack_wide``."""
    current: Value
    nearest: Value
    """The nearest value that makes it feasible on its own; None where there is none to state."""
    problem: str
    """What is wrong, naming no setting (``is below the cheapest feasible plan, $1,971/month``)."""
    remedy: str
    """What to do, naming no setting (``raise it to at least $1,971/month``)."""
    stack_wide: bool = False
    """True when ``setting`` is a stack-wide setting rather than a profile field."""

    def value_text(self, value: Value) -> str:
        """A value in the setting's unit: ``$1,000/month``, ``20 ms``, ``['US', 'DE']``."""
        if isinstance(value, bool) or value is None:
            return str(value).lower()
        if isinstance(value, float | int) and self.constraint in ("budget", "stack_budget"):
            return f"${value:,.0f}/month"
        if isinstance(value, float | int) and self.constraint == "quota":
            return f"{value:,} accelerators"
        if isinstance(value, float | int) and self.constraint == "latency":
            return f"{value:,g} ms"
        if isinstance(value, float | int) and self.constraint == "carbon_cap":
            return f"{value:g} gCO2/kWh"
        if isinstance(value, tuple):
            return repr(list(value))
        return f"{value:g}" if isinstance(value, float) else str(value)


class PlacementError(ValueError):
    """No placement satisfies the constraints; ``diagnoses`` say why, binding constraint first.

    ``str()`` words them for no particular audience; use :func:`describe` to name the settings the
    way the user who ran the command can change them.
    """

    def __init__(self, diagnoses: Sequence[Diagnosis]) -> None:
        self.diagnoses = tuple(diagnoses)
        super().__init__(describe(self))


@dataclass(frozen=True, kw_only=True)
class Audience:
    """How the user who ran a command names what they can change."""

    setting_names: Mapping[str, str] = field(default_factory=dict)
    """Stack setting -> its name there (``--budget``); unnamed ones are described in words."""
    settings_file: str | None = None
    """Where named stack settings live (``stacks/Pulumi.dev.yaml``); None for command-line flags."""
    profile_files: Mapping[str, str] = field(default_factory=dict)
    """Workload name -> its profile file, as the user wrote it."""
    overrides: str | None = None
    """Where profile fields can be overridden for this run; None where they cannot."""


def place_audience(profile_files: Mapping[str, str]) -> Audience:
    """``tensorfleet place``: profile fields in their files, the stack budget as ``--budget``."""
    return Audience(setting_names={"budget_monthly_usd": "--budget"}, profile_files=profile_files)


def stack_audience(stack: str, profile_files: Mapping[str, str]) -> Audience:
    """``tensorfleet plan`` and ``pulumi up``: stack config keys and per-stack profile overrides."""
    source = f"stacks/Pulumi.{stack}.yaml"
    return Audience(
        setting_names={name: f"tensorfleet:{_camel(name)}" for name in STACK_SETTINGS},
        settings_file=source,
        profile_files=profile_files,
        overrides=f"tensorfleet:workloads[].overrides in {source}",
    )


def describe(error: PlacementError, audience: Audience | None = None) -> str:
    """The error as one message for ``audience`` (default: settings named in words, no files)."""
    who = audience or Audience()
    diagnoses = error.diagnoses
    names = [d for d in diagnoses if d.constraint in ("unknown_name", "duplicate_name")]
    if names:
        text = "\n".join(f"workload {d.workload!r}: {_where(d, who)}: {d.problem}" for d in names)
    elif diagnoses and diagnoses[0].constraint == "stack_budget":
        first = diagnoses[0]
        text = (
            f"stack budget {first.value_text(first.current)} {first.problem}. "
            f"Binding constraint: {_where(first, who)}; {first.remedy}"
        )
    elif diagnoses and diagnoses[0].workload is None:
        text = f"the stack cannot be placed. Binding constraint: {_line(diagnoses[0], who)}" + "".join(
            f"\n  - or: {_line(d, who)}" for d in diagnoses[1:]
        )
    else:
        text = _workload(diagnoses, who)
    if who.overrides and any(not d.stack_wide for d in diagnoses):
        text += f"\nProfile fields can be overridden for this stack under {who.overrides}."
    return text


def _workload(diagnoses: Sequence[Diagnosis], who: Audience) -> str:
    if not diagnoses:
        return "placement failed for no recorded reason"
    header = f"workload {diagnoses[0].workload!r} cannot be placed"
    first = diagnoses[0]
    if first.constraint == "combined":
        file = who.profile_files.get(first.workload or "")
        where = f" (profile {file})" if file else ""
        return f"{header}{where}: no single constraint is to blame. {first.problem}; {first.remedy}"
    return f"{header}. Binding constraint: {_line(first, who)}" + "".join(
        f"\n  - or: {_line(d, who)}" for d in diagnoses[1:]
    )


def _line(d: Diagnosis, who: Audience) -> str:
    return f"{_where(d, who)} = {d.value_text(d.current)} {d.problem}; {d.remedy}"


def _where(d: Diagnosis, who: Audience) -> str:
    """The setting as the audience writes it, with the file it lives in."""
    if d.stack_wide:
        name = who.setting_names.get(d.setting)
        if name is None:
            return f"{_NEUTRAL_NAMES.get(d.setting, d.setting)} ({d.setting})"
        return f"{name} (in {who.settings_file})" if who.settings_file else name
    file = who.profile_files.get(d.workload or "")
    return f"{d.setting} (in {file})" if file else d.setting


def _camel(name: str) -> str:
    """``budget_monthly_usd`` -> ``budgetMonthlyUsd``: the stack config key convention."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
