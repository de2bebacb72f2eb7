"""Reads the base ``plan.json`` given to ``tensorfleet plan --compare``, refusing anything it cannot trust.

The base usually comes from another branch's CI artifact: it may be truncated, hand-edited, from
an older or newer contract, or not a plan at all. A bad base must stop the comparison with one
short message naming the file and the field, never with a traceback or a misleading diff, and
never by echoing the input back (a plan can be megabytes long).
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["MAX_BYTES", "MAX_DEPTH", "BasePlanError", "load_base_plan"]

PLAN_SCHEMA_ID = "tensorfleet.plan/v1"
MAX_BYTES = 64 << 20
"""Largest base plan read (64 MiB); a production plan is well under one."""
MAX_DEPTH = 64
"""Deepest nesting accepted; a plan nests fewer than ten levels."""
_MAX_DETAIL = 160

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxdict = 3
_repr.maxlevel = 1


class BasePlanError(ValueError):
    """The base plan cannot be used; ``str()`` is one line: ``<file>: <field>: <what was expected>``."""


class _Bad:
    """Stands in, while parsing, for a value JSON does not allow, so the walk can say where it was."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def load_base_plan(path: Path) -> dict[str, Any]:
    """The validated ``tensorfleet.plan/v1`` document at ``path``.

    Raises:
        BasePlanError: unreadable, too large, not UTF-8, not JSON (NaN and Infinity included),
            a duplicate key, nested too deeply, or not valid against ``schema/plan.v1.json``.
    """
    document = _parse(path, _read(path))
    _check_shape(path, document)
    _check_schema(path, document)
    _check_unique_urns(path, document)
    return document


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BasePlanError(f"{path}: cannot read the base plan: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_BYTES:
        raise BasePlanError(f"{path}: larger than {_size(MAX_BYTES)}; expected a plan.json written by tensorfleet")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BasePlanError(f"{path}: not UTF-8 text (byte {exc.start}); expected a plan.json") from None


def _parse(path: Path, text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_constant=lambda token: _Bad(f"{token} is not JSON; expected a finite number or null"),
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise BasePlanError(f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise BasePlanError(f"{path}: nested more than {MAX_DEPTH} levels deep; expected a plan.json") from None


def _finite(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(f"{_short(text)} overflows; expected a finite number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        mapping[key] = _Bad("duplicate key; expected each key once") if key in mapping else value
    return mapping


def _check_shape(path: Path, document: Any) -> None:
    """Refuses deep nesting and the values JSON does not allow, naming where (without recursion)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        value, where = stack.pop()
        if len(where) > MAX_DEPTH:
            raise BasePlanError(f"{path}: {_field(where[:8])}...: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, _Bad):
            raise BasePlanError(f"{path}: {_field(where)}: {value.problem}")
        children: Iterator[tuple[str | int, Any]]
        if isinstance(value, dict):
            children = iter(value.items())
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        stack.extend((child, (*where, key)) for key, child in reversed(list(children)))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    text = resources.files("tensorfleet").joinpath("schema/plan.v1.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


def _check_schema(path: Path, document: Any) -> None:
    if not isinstance(document, dict):
        raise BasePlanError(f"{path}: (top level): expected a JSON object, got {_json_type(document)}")
    if document.get("schema") != PLAN_SCHEMA_ID:
        got = "missing" if "schema" not in document else f"got {_short(document['schema'])}"
        raise BasePlanError(f"{path}: schema: expected {PLAN_SCHEMA_ID!r} (a tensorfleet plan.json), {got}")
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        where, expected = _explain(error)
        raise BasePlanError(f"{path}: {_field(where)}: {expected}")


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
        return where, f"expected {_short(spec)}, got {_short(value)}"
    if kind == "enum":
        return where, f"expected one of {', '.join(_short(v) for v in spec)}; got {_short(value)}"
    if kind == "pattern":
        return where, f"expected a string matching {spec}, got {_short(value)}"
    if kind in ("minimum", "exclusiveMinimum", "minLength", "minItems"):
        return where, f"expected {kind} {spec}, got {_short(value)}"
    return where, f"{kind} {_short(spec)} not met"


def _check_unique_urns(path: Path, document: dict[str, Any]) -> None:
    first: dict[str, int] = {}
    for i, resource in enumerate(document["resources"]):
        j = first.setdefault(resource["urn"], i)
        if j != i:
            raise BasePlanError(f"{path}: resources[{i}].urn: expected a unique URN; resources[{j}] has it too")


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _field(where: tuple[str | int, ...]) -> str:
    """``resources[3].inputs.tags`` for a path of keys and indices; ``(top level)`` for the root."""
    out = ""
    for key in where:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _PLAIN_KEY.fullmatch(key):
            out += f".{key}" if out else key
        else:
            out += f"[{_short(key)}]"
    return out or "(top level)"


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit:,} bytes"


def _short(value: Any) -> str:
    return _repr.repr(value)


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
