"""Reads a policy-pack config file (the ``--policy-pack-config`` format) and validates it against the
pack's own policy names and config schemas, as the Pulumi engine does before it starts the pack."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import jsonschema
from pulumi_policy import EnforcementLevel

from tensorfleet.json_input import JsonInputError, load_json_file
from tensorfleet.policy_run import _pack
from workloads.safe_yaml import bounded

__all__ = ["load_policy_config"]

_LEVELS = tuple(level.value for level in EnforcementLevel)


def load_policy_config(path: Path) -> dict[str, Any]:
    """The file's policy config, each entry checked against its policy's config schema."""
    config = load_json_file(path, "policy config")
    if not isinstance(config, dict):
        raise JsonInputError(f"{path}: (top level): expected an object of policy name to settings")
    policies = {policy.name: policy for policy in _pack()[0]}
    problems: list[str] = []
    for name, settings in config.items():
        if name not in policies:
            close = difflib.get_close_matches(name, list(policies), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"{bounded(name)}: unknown policy; {hint}known: {', '.join(sorted(policies))}")
            continue
        problems.extend(f"{name}{where}: {why}" for where, why in _settings_problems(settings, policies[name]))
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise JsonInputError(f"{path}: invalid policy config\n" + "\n".join(f"  - {p}" for p in shown))
    return config


def _settings_problems(settings: Any, policy: Any) -> list[tuple[str, str]]:
    if isinstance(settings, str):
        return [] if settings in _LEVELS else [("", f"expected one of {', '.join(_LEVELS)}, got {bounded(settings)}")]
    if not isinstance(settings, dict):
        return [("", f"expected an enforcement level or an object of settings, got {bounded(settings)}")]
    schema = policy.config_schema
    properties = dict(schema.properties) if schema else {}
    properties["enforcementLevel"] = {"type": "string", "enum": list(_LEVELS)}
    validator = jsonschema.Draft7Validator(
        {
            "type": "object",
            "properties": properties,
            "required": list(schema.required or []) if schema else [],
            "additionalProperties": False,
        }
    )
    return [
        ("." + ".".join(str(p) for p in error.absolute_path) if error.absolute_path else "", _message(error))
        for error in sorted(validator.iter_errors(settings), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown setting(s); expected {', '.join(sorted(error.schema.get('properties', {})))}"
    return f"expected {error.validator} {bounded(error.validator_value)}, got {bounded(error.instance)}"
