"""Composes one environment from its validated configuration: profiles -> placement -> components."""

from __future__ import annotations

from pathlib import Path

import pulumi

from regions.catalog import Catalog, UnknownName, load_catalog
from regions.diagnosis import describe, stack_audience
from regions.names import check_profile_names
from regions.placement import PlacementError, place_fleet
from tensorfleet.fleet import FleetConfigError, compose_fleet, export_all
from tensorfleet.program_config import read_stack_config_in_program
from tensorfleet.stack_config import StackConfig, StackConfigInvalid
from workloads.loading import ProfileError, load_profile
from workloads.profiles import WorkloadProfile

# Profile paths in stack config are relative to the project root, the parent of this directory,
# whichever directory the Pulumi CLI or `tensorfleet plan` starts the program in.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_profiles(config: StackConfig, catalog: Catalog, source: str) -> list[WorkloadProfile]:
    """Each referenced profile with its overrides, its region names checked against the catalog;
    one workload name per stack."""
    profiles: list[WorkloadProfile] = []
    first_use: dict[str, int] = {}
    for index, ref in enumerate(config.workloads):
        path = (PROJECT_ROOT / ref.profile).resolve()
        if not path.is_relative_to(PROJECT_ROOT):
            raise StackConfigInvalid(
                f"{source}: invalid stack config\n  - tensorfleet:workloads.{index}.profile: {ref.profile!r} is "
                "outside the project; profiles are files of the project, named relative to its root"
            )
        try:
            profile = load_profile(path, ref.overrides)
        except ProfileError as exc:
            if not ref.overrides:
                raise
            # The bad value may come from the stack's overrides rather than the file: say both.
            where = f"{source}: tensorfleet:workloads.{index}.overrides applied to {exc.source}"
            raise ProfileError(where, exc.problems) from None
        names = check_profile_names(profile, catalog)
        if names:
            where = f"{ref.profile}" + (f" with tensorfleet:workloads.{index}.overrides" if ref.overrides else "")
            raise ProfileError(where, [f"{path}: {message}" for path, message in names])
        if profile.name in first_use:
            raise StackConfigInvalid(
                f"{source}: invalid stack config\n  - tensorfleet:workloads.{index}: {ref.profile} names workload "
                f"{profile.name!r}, already used by tensorfleet:workloads.{first_use[profile.name]}; "
                "workload names are identities and must be unique in a stack"
            )
        first_use[profile.name] = index
        profiles.append(profile)
    return profiles


def main() -> None:
    stack = pulumi.get_stack()
    source = f"stacks/Pulumi.{stack}.yaml"
    try:
        stack_config = read_stack_config_in_program(stack)
        catalog = load_catalog()
        try:
            settings = stack_config.placement_settings(catalog)
        except UnknownName as exc:
            raise StackConfigInvalid(f"{source}: invalid stack config\n  - {exc}") from None
        profiles = load_profiles(stack_config, catalog, source)
        try:
            plan = place_fleet(profiles, catalog, settings)
        except PlacementError as exc:
            files = {
                p.name: ref.profile if not ref.overrides else f"{ref.profile}, or tensorfleet:workloads.{i}.overrides"
                for i, (p, ref) in enumerate(zip(profiles, stack_config.workloads, strict=True))
            }
            raise pulumi.RunError(describe(exc, stack_audience(stack, files))) from None
        try:
            outputs = compose_fleet(plan, stack, stack_config, catalog)
        except FleetConfigError as exc:
            raise pulumi.RunError(f"{source}: {exc}") from None
    except (StackConfigInvalid, ProfileError, UnknownName) as exc:
        raise pulumi.RunError(str(exc)) from None
    export_all(outputs)


main()
