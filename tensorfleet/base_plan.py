"""Reads the base ``plan.json`` given to ``tensorfleet plan --compare``, refusing anything it cannot trust.

The base usually comes from another branch's CI artifact: it may be truncated, hand-edited, from
an older or newer contract, or not a plan at all. A bad base must stop the comparison with one
short message naming the file and the field, never with a traceback or a misleading diff, and
never by echoing the input back (a plan can be megabytes long).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from tensorfleet.json_input import JsonInputError, field_path, load_json_file, short

__all__ = ["BasePlanError", "load_base_plan"]

PLAN_SCHEMA_ID = "tensorfleet.plan/v1"
_MAX_DETAIL = 160


class BasePlanError(JsonInputError):
    """The base plan cannot be used; ``str()`` is one line: ``<file>: <field>: <what was expected>``."""


def load_base_plan(path: Path) -> dict[str, Any]:
    """The validated ``tensorfleet.plan/v1`` document at ``path``.

    Raises:
        BasePlanError: unreadable, too large, not UTF-8, not JSON (NaN and Infinity included),
            a duplicate key, nested too deeply, or not valid against ``schema/plan.v1.json``.
    """
    try:
        document = load_json_file(path, "base plan")
    except JsonInputError as exc:
        raise BasePlanError(str(exc)) from None
    _check_schema(path, document)
    _check_unique_urns(path, document)
    return document


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    """The plan schema, open to added keys: v1 only ever gains keys, so a base plan written by a
    newer tensorfleet (main is often ahead of a pull request's branch) must still be read."""
    text = resources.files("tensorfleet").joinpath("schema/plan.v1.json").read_text(encoding="utf-8")
    return Draft202012Validator(_open(json.loads(text)))


def _open(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _open(v) for k, v in schema.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(schema, list):
        return [_open(v) for v in schema]
    return schema


def _check_schema(path: Path, document: Any) -> None:
    if not isinstance(document, dict):
        raise BasePlanError(f"{path}: (top level): expected a JSON object, got {_json_type(document)}")
    if document.get("schema") != PLAN_SCHEMA_ID:
        got = "missing" if "schema" not in document else f"got {short(document['schema'])}"
        raise BasePlanError(f"{path}: schema: expected {PLAN_SCHEMA_ID!r} (a tensorfleet plan.json), {got}")
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        where, expected = _explain(error)
        raise BasePlanError(f"{path}: {field_path(where)}: {expected}")


def _explain(error: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """The field and a short statement of what was expected, never the offending value in full."""
    where = tuple(error.absolute_path)
    kind, spec, value = error.validator, error.validator_value, error.instance
    if kind == "required" and isinstance(value, dict):
        missing = next(k for k in spec if k not in value)
        return (*where, missing), "missing; this field is required"
    if kind == "additionalProperties" and isinstance(value, dict):
        known = error.schema.get("properties", {})
        extra = next(k for k in value if k not in known)
        return (*where, extra), f"unknown field; expected only {', '.join(sorted(known))}"[:_MAX_DETAIL]
    if kind == "type":
        wanted = " or ".join(spec) if isinstance(spec, list) else spec
        return where, f"expected {wanted}, got {_json_type(value)}"
    if kind == "const":
        return where, f"expected {short(spec)}, got {short(value)}"
    if kind == "enum":
        return where, f"expected one of {', '.join(short(v) for v in spec)}; got {short(value)}"
    if kind == "pattern":
        return where, f"expected a string matching {spec}, got {short(value)}"
    if kind in ("minimum", "exclusiveMinimum", "minLength", "minItems"):
        return where, f"expected {kind} {spec}, got {short(value)}"
    return where, f"{kind} {short(spec)} not met"


def _check_unique_urns(path: Path, document: dict[str, Any]) -> None:
    first: dict[str, int] = {}
    for i, resource in enumerate(document["resources"]):
        j = first.setdefault(resource["urn"], i)
        if j != i:
            raise BasePlanError(f"{path}: resources[{i}].urn: expected a unique URN; resources[{j}] has it too")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
