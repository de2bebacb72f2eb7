"""azure-mgmt-containerservice's models (the AKS REST API, 2026-08-01) as the contract AKS agent
pool and cluster inputs are held to: unknown fields and enum values fail."""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from azure.mgmt.containerservice import models
from azure.mgmt.containerservice.models import _enums
from azure.mgmt.containerservice.models import _models as model_module

_NAMESPACE = {**vars(model_module), "_models": models, "_enums": _enums}
_ADDRESSING = {"resourceGroupName", "resourceName", "agentPoolName"}
"""Provider inputs that address the resource (in the request URL) rather than describe it."""
_TOP_LEVEL = {"location", "tags", "identity", "sku", "kind", "extendedLocation"}
"""ManagedCluster fields outside ``properties``; the provider flattens the rest of the body."""


def agent_pool_body(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """An AgentPool's provider inputs as the request body the provider sends (``properties`` flattened)."""
    return {"properties": {k: v for k, v in inputs.items() if k not in _ADDRESSING}}


def managed_cluster_body(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A ManagedCluster's provider inputs as its request body."""
    body: dict[str, Any] = {k: v for k, v in inputs.items() if k in _TOP_LEVEL}
    identity = body.get("identity")
    if isinstance(identity, Mapping) and isinstance(identity.get("userAssignedIdentities"), list):
        # The provider takes IDs; the API, a map of ID to an empty object.
        body["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
    body["properties"] = {k: v for k, v in inputs.items() if k not in _TOP_LEVEL | _ADDRESSING}
    return body


@functools.cache
def _fields(model: type) -> dict[str, Any]:
    """REST field name -> type of a model."""
    model()  # the SDK computes the field table on first use
    hints = typing.get_type_hints(model, _NAMESPACE)
    return {field._rest_name: hints[attr] for attr, field in model._attr_to_rest_field.items()}


def problems(value: Any, model: type) -> list[str]:
    """Every field of ``value`` the model does not define, and every enum value it does not list."""
    found: list[str] = []
    _walk(value, model, "", found)
    return found


def _walk(value: Any, kind: Any, path: str, found: list[str]) -> None:
    if value is None:
        return
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        enums = [a for a in options if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums:
            allowed = {member.value for e in enums for member in e}
            if value not in allowed:
                found.append(f"{path}: {value!r} is not one of {sorted(allowed)}")
            return
        if len(options) == 1:
            _walk(value, options[0], path, found)
        return
    if origin is list:
        (item,) = typing.get_args(kind)
        for i, element in enumerate(value if isinstance(value, list) else [value]):
            _walk(element, item, f"{path}[{i}]", found)
        return
    if origin is dict:
        _, item = typing.get_args(kind)
        for key, element in (value or {}).items():
            _walk(element, item, f"{path}.{key}", found)
        return
    if kind in _PRIMITIVES:
        # Wire numbers are floats; JSON sends an integral one as an integer.
        integral = kind is int and isinstance(value, float) and value.is_integer()
        if not integral and (
            not isinstance(value, _PRIMITIVES[kind]) or (kind is not bool and isinstance(value, bool))
        ):
            found.append(f"{path}: expected {kind.__name__}, got {value!r}")
        return
    if _is_model(kind):
        if not isinstance(value, Mapping):
            found.append(f"{path}: expected an object, got {value!r}")
            return
        fields = _fields(kind)
        for key, element in value.items():
            if key not in fields:
                found.append(f"{path}.{key}: no such field in {kind.__name__}")
            else:
                _walk(element, fields[key], f"{path}.{key}", found)


_PRIMITIVES: dict[Any, type | tuple[type, ...]] = {str: str, int: int, float: (int, float), bool: bool}


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and any(base.__name__ == "Model" for base in kind.__mro__[1:])
