"""Reading resource properties the way the policy host hands them over (camelCase, maybe unknown)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError


def get(props: Mapping[str, Any], *path: str | int) -> Any:
    """The value at ``path``; None when any step is missing. Raises UnknownValueError when unknown."""
    value: Any = props
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def present(props: Mapping[str, Any], *path: str | int) -> bool:
    """True when the value is set, including values only known after deployment (a key ARN in preview)."""
    try:
        return get(props, *path) not in (None, "", [], {})
    except UnknownValueError:
        return True


UNKNOWN = object()
"""What :func:`known` returns for a value known only after deployment."""


def known(props: Mapping[str, Any], *path: str | int) -> Any:
    """The value, or :data:`UNKNOWN` during preview, so that one check can wait for the update while the
    others in the same stack policy still run. Resource policies use :func:`get` and let the
    analyzer report the whole rule as not runnable in preview."""
    try:
        return get(props, *path)
    except UnknownValueError:
        return UNKNOWN


def json_document(value: Any) -> dict[str, Any] | None:
    """A JSON policy document given as a string or a mapping; None when absent or malformed."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None
