"""Loads profiles from YAML files into validated models, with one clear error per bad file."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workloads.profiles import WorkloadProfile
from workloads.safe_yaml import YamlInputError, bounded, load_yaml_file

__all__ = ["ProfileError", "deep_merge", "describe_errors", "load_profile", "parse_profile"]


class ProfileError(ValueError):
    """A profile could not be read or validated; ``str()`` names the file, field paths and expectations."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid workload profile\n" + "\n".join(f"  - {p}" for p in problems))


def load_profile(path: Path, overrides: Mapping[str, Any] | None = None) -> WorkloadProfile:
    """Reads one profile; ``overrides`` (e.g. from stack config) are deep-merged before validation.

    Raises:
        ProfileError: unreadable file, malformed YAML or a field that fails validation.
    """
    try:
        data = load_yaml_file(path)
    except YamlInputError as exc:
        raise ProfileError(str(path), [str(exc)]) from None
    if not isinstance(data, dict):
        raise ProfileError(str(path), [f"expected a mapping of profile fields at the top level, got {_kind(data)}"])
    return parse_profile(deep_merge(data, overrides or {}), source=str(path))


def parse_profile(data: Mapping[str, Any], source: str) -> WorkloadProfile:
    """Validates already-parsed profile data; ``source`` names it in errors."""
    try:
        return WorkloadProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(source, describe_errors(exc.errors(include_url=False))) from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Returns a new ``base`` with ``override`` merged in; nested mappings merge, everything else replaces.

    Neither argument is modified, nor shares a mutable value with the result.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


MAX_PROBLEMS = 20
"""Most validation problems listed for one file; the rest are counted."""


def describe_errors(errors: list[Any], prefix: str = "") -> list[str]:
    """One bounded line per pydantic error: field path, what was expected, a short echo of the input."""
    lines = [_describe(e, prefix) for e in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"... and {len(errors) - MAX_PROBLEMS} more problem(s)")
    return lines


def _describe(error: Any, prefix: str) -> str:
    # Discriminated unions put the tag in the location ("model.llm.layers"); keep it, it says which kind.
    path = prefix + ".".join(str(part) for part in error["loc"]) or "(top level)"
    received = "" if error["type"] == "missing" else f" (got {bounded(error['input'])})"
    message = error["msg"] if len(error["msg"]) <= 300 else error["msg"][:300] + "..."
    return f"{path}: {message}{received}"


def _kind(value: Any) -> str:
    # The type only: the file may not be a profile at all, and its text is nobody's business here.
    return "nothing (an empty file)" if value is None else f"a {type(value).__name__}"
