"""Reads the stack's ``tensorfleet:`` config inside the program, the same way under ``pulumi up`` and
``tensorfleet plan``.

The language host hands the program every config value as text: strings as they are, anything
else (numbers, booleans, lists, objects) as JSON. Each key is therefore decoded by the type its
field declares: ``costCentre: "4711"`` stays the string ``4711``, ``budgetMonthlyUsd: 60000`` becomes
a number. Unknown keys, and secrets where none may be, are refused here, so both paths refuse the
same config with the same message.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

from pulumi.runtime import config as runtime_config

from tensorfleet.stack_config import CONFIG_KEYS, StackConfig, parse_stack_config

__all__ = ["NAMESPACE", "decode_value", "read_config_values", "read_stack_config_in_program"]

NAMESPACE = "tensorfleet"


def read_config_values() -> tuple[dict[str, str], set[str]]:
    """Every ``tensorfleet:`` key the stack sets (raw text) and the ones marked secret.

    The Pulumi SDK has no public way to list config keys. The language host's program runner
    fills the runtime's config map and secret keys (``set_all_config``) from ``PULUMI_CONFIG`` and
    ``PULUMI_CONFIG_SECRET_KEYS``; the mock engine fills the same map. Only the map is read, so a
    stray ``PULUMI_CONFIG`` in the environment of ``tensorfleet plan`` changes nothing.
    """
    prefix = f"{NAMESPACE}:"
    raw: dict[str, Any] = dict(runtime_config.CONFIG.get())
    values = {key[len(prefix) :]: str(value) for key, value in raw.items() if key.startswith(prefix)}
    secret = {key for key in values if runtime_config.is_config_secret(prefix + key)}
    return values, secret


def decode_value(key: str, text: str) -> Any:
    """A config value's text as its field's declared type: text fields keep it, others read JSON.

    Text that is not JSON is handed on as is, so the model says what it expected (``a valid
    number``) rather than a JSON parser's complaint.
    """
    field = CONFIG_KEYS.get(key)
    if field is None or _is_text(StackConfig.model_fields[field].annotation):
        return text
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return text


def read_stack_config_in_program(stack: str) -> StackConfig:
    """The validated StackConfig of the running stack (raises StackConfigInvalid)."""
    values, secret = read_config_values()
    decoded = {key: decode_value(key, text) for key, text in values.items()}
    return parse_stack_config(decoded, f"stacks/Pulumi.{stack}.yaml", secret)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _is_text(annotation: Any) -> bool:
    """True for ``str``, string Literals and optional or constrained forms of them."""
    origin = typing.get_origin(annotation)
    if annotation is str:
        return True
    if origin is Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _is_text(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return len(kinds) == 1 and _is_text(kinds[0])
    return False
