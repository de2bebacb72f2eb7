"""Google's container v1 discovery document (shipped with google-api-python-client) as the contract
GKE node pool inputs are held to: unknown fields and enum values fail."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import googleapiclient

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"

_POOL_RENAMES = {"nodeLocations": "locations", "nodeConfig": "config", "nodeCount": "initialNodeCount"}
"""Provider input -> API field, where the provider renames one."""
_PROVIDER_ONLY = {"project", "cluster", "location"}
"""Provider inputs that address the pool (in the request URL) rather than describe it."""


@functools.cache
def discovery(api: str) -> dict[str, Any]:
    return json.loads((DOCUMENTS / f"{api}.json").read_text())


def node_pool_body(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A pool's provider inputs as the ``NodePool`` body the provider sends to the API."""
    body = {_POOL_RENAMES.get(k, k): v for k, v in inputs.items() if k not in _PROVIDER_ONLY}
    config = dict(body.get("config") or {})
    if "guestAccelerators" in config:
        config["accelerators"] = [
            {
                ("acceleratorType" if k == "type" else "acceleratorCount" if k == "count" else k): v
                for k, v in accelerator.items()
            }
            for accelerator in config.pop("guestAccelerators")
        ]
    body["config"] = config
    if "autoscaling" in body:
        body["autoscaling"] = {**body["autoscaling"], "enabled": True}
    return body


def problems(value: Any, schema_name: str, api: str = "container.v1") -> list[str]:
    """Every field of ``value`` the schema does not define, and every enum value it does not list."""
    schemas = discovery(api)["schemas"]
    found: list[str] = []

    def walk(node: Any, schema: Mapping[str, Any], path: str) -> None:
        if "$ref" in schema:
            schema = schemas[schema["$ref"]]
        if "enum" in schema and node not in schema["enum"]:
            found.append(f"{path}: {node!r} is not one of {schema['enum']}")
        if schema.get("type") == "array" and isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, schema["items"], f"{path}[{i}]")
        elif schema.get("type") == "object" and isinstance(node, Mapping):
            properties = schema.get("properties")
            for key, item in node.items():
                if properties is None:
                    walk(item, schema.get("additionalProperties") or {}, f"{path}.{key}")
                elif key not in properties:
                    found.append(f"{path}.{key}: not a field of {schema.get('id', path)}")
                else:
                    walk(item, properties[key], f"{path}.{key}")

    walk(value, schemas[schema_name], schema_name)
    return found
