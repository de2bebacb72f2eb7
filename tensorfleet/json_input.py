"""Reads a JSON file given on the command line, refusing anything that is not plain, finite JSON.

Such files (a base plan.json from another branch, a policy-pack config) may be truncated,
hand-edited or not JSON at all. Every failure is one short message naming the file and, where
there is one, the field; the input is never echoed back in full.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["MAX_BYTES", "MAX_DEPTH", "JsonInputError", "field_path", "load_json_file", "short"]

MAX_BYTES = 64 << 20
"""Largest JSON file read (64 MiB); a production plan is well under one."""
MAX_DEPTH = 64
"""Deepest nesting accepted; a plan nests fewer than ten levels."""

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxdict = 3
_repr.maxlevel = 1


class JsonInputError(ValueError):
    """A JSON input cannot be used; ``str()`` is ``<file>: <field>: <what was expected>``."""


class _Bad:
    """Stands in, while parsing, for a value JSON does not allow, so the walk can say where it was."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def load_json_file(path: Path, what: str) -> Any:
    """The JSON document at ``path`` (``what`` names it in messages: "base plan", "policy config").

    Raises:
        JsonInputError: not a regular file, unreadable, too large, not UTF-8, not JSON (NaN and
            Infinity included), a duplicate key, or nested too deeply.
    """
    document = _parse(path, _read(path, what), what)
    _check_shape(path, document)
    return document


def _read(path: Path, what: str) -> str:
    try:
        if path.exists() and not path.is_file():  # a FIFO or device would block or never end
            raise JsonInputError(f"{path}: cannot read the {what}: not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        if isinstance(exc, JsonInputError):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise JsonInputError(f"{path}: cannot read the {what}: {reason}") from None
    if len(data) > MAX_BYTES:
        size = f"{MAX_BYTES >> 20} MiB" if MAX_BYTES % (1 << 20) == 0 else f"{MAX_BYTES:,} bytes"
        raise JsonInputError(f"{path}: larger than {size}; expected a {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"{path}: not UTF-8 text (byte {exc.start}); expected a {what}") from None


def _parse(path: Path, text: str, what: str) -> Any:
    try:
        return json.loads(
            text,
            parse_constant=lambda token: _Bad(f"{token} is not JSON; expected a finite number or null"),
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise JsonInputError(f"{path}: nested more than {MAX_DEPTH} levels deep; expected a {what}") from None
    except ValueError:  # Python refuses to read integers of more than 4,300 digits
        raise JsonInputError(f"{path}: a number too long to read (more than 4,300 digits); expected a {what}") from None


def _finite(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(f"{short(text)} overflows; expected a finite number")


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
            raise JsonInputError(f"{path}: {field_path(where[:8])}...: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, _Bad):
            raise JsonInputError(f"{path}: {field_path(where)}: {value.problem}")
        children: Iterator[tuple[str | int, Any]]
        if isinstance(value, dict):
            children = iter(value.items())
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        stack.extend((child, (*where, key)) for key, child in reversed(list(children)))


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def field_path(where: tuple[str | int, ...]) -> str:
    """``resources[3].inputs.tags`` for a path of keys and indices; ``(top level)`` for the root."""
    out = ""
    for key in where:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _PLAIN_KEY.fullmatch(key):
            out += f".{key}" if out else key
        else:
            out += f"[{short(key)}]"
    return out or "(top level)"


def short(value: Any) -> str:
    return _repr.repr(value)
