"""Composes one environment from its validated configuration: profiles -> placement -> components."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from regions.catalog import UnknownName, load_catalog
from regions.placement import PlacementError, place_fleet
from tensorfleet.compose import FleetConfigError, compose_fleet, export_all
from tensorfleet.stack_config import CONFIG_KEYS, StackConfigInvalid, parse_stack_config
from workloads.loading import ProfileError, load_profile

# Profile paths in stack config are relative to the project root, the parent of this directory,
# whichever directory the Pulumi CLI or `tensorfleet plan` starts the program in.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _config_values(config: pulumi.Config) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        raw = config.get(key)
        if raw is None:
            continue
        try:  # structured values arrive as JSON text; plain strings ("balanced") stay strings
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def main() -> None:
    stack = pulumi.get_stack()
    source = f"stacks/Pulumi.{stack}.yaml"
    try:
        stack_config = parse_stack_config(_config_values(pulumi.Config()), source)
        catalog = load_catalog()
        settings = stack_config.placement_settings(catalog)
        profiles = [load_profile(PROJECT_ROOT / ref.profile, ref.overrides) for ref in stack_config.workloads]
        plan = place_fleet(profiles, catalog, settings)
        outputs = compose_fleet(plan, stack, stack_config, catalog)
    except (StackConfigInvalid, ProfileError, PlacementError, FleetConfigError, UnknownName) as exc:
        raise pulumi.RunError(str(exc)) from None
    export_all(outputs)


main()
