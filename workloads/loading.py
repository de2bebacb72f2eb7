"""Loads profiles from YAML files into validated models, with one clear error per bad file."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workloads.profiles import WorkloadProfile

__all__ = ["ProfileError", "deep_merge", "load_profile", "parse_profile"]


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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(str(path), [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ProfileError(str(path), [f"expected a mapping at the top level, got {type(data).__name__}"])
    return parse_profile(deep_merge(data, overrides or {}), source=str(path))


def parse_profile(data: Mapping[str, Any], source: str) -> WorkloadProfile:
    """Validates already-parsed profile data; ``source`` names it in errors."""
    try:
        return WorkloadProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(source, [_describe(e) for e in exc.errors(include_url=False)]) from None


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


def _describe(error: Any) -> str:
    # Discriminated unions put the tag in the location ("model.llm.layers"); keep it, it says which kind.
    path = ".".join(str(part) for part in error["loc"]) or "(top level)"
    received = "" if error["type"] == "missing" else f" (got {error['input']!r})"
    return f"{path}: {error['msg']}{received}"
