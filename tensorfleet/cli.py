"""``tensorfleet``: the offline plan of a stack, and quick what-if placements of profiles."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tensorfleet.files import write_all_or_nothing

__all__ = ["main"]


class CliError(Exception):
    """A user-facing failure: printed as one message, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorfleet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="run the stack's program under the mock engine and report the plan")
    plan.add_argument("--stack", required=True, help="environment: stacks/Pulumi.<stack>.yaml")
    plan.add_argument("--json", type=Path, default=Path("plan.json"), help="where to write plan.json")
    plan.add_argument("--md", type=Path, default=Path("plan.md"), help="where to write plan.md")
    plan.add_argument("--objective", choices=("cost", "carbon", "balanced"), help="override tensorfleet:objective")
    plan.add_argument("--compare", type=Path, help="a base plan.json to compare against in plan.md")
    plan.add_argument(
        "--policy-config",
        type=Path,
        help="policy-pack config JSON (as for pulumi --policy-pack-config); the stack ceiling defaults to "
        "tensorfleet:budgetMonthlyUsd",
    )
    plan.set_defaults(handler=_plan)

    preflight = commands.add_parser(
        "preflight", help="check the AWS account can launch the stack's plan (offerings, vCPU quotas)"
    )
    preflight.add_argument("--stack", required=True, help="environment: stacks/Pulumi.<stack>.yaml")
    preflight.set_defaults(handler=_preflight)

    catalog = commands.add_parser("catalog", help="catalog maintenance")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    refresh = catalog_commands.add_parser("refresh", help="refresh prices and offerings from the cloud's APIs")
    refresh.add_argument("--cloud", required=True, choices=("aws",), help="only AWS has a refresh so far")
    refresh.add_argument("--data-dir", type=Path, help="catalog data to update (default: regions/data)")
    refresh.set_defaults(handler=_refresh)

    place = commands.add_parser("place", help="place profiles without a stack (what-if)")
    place.add_argument("profiles", nargs="+", type=Path, help="workload profile YAML files")
    place.add_argument("--objective", choices=("cost", "carbon", "balanced"), default="balanced")
    place.add_argument("--budget", type=float, help="stack budget, USD per month")
    place.add_argument("--carbon-price", type=float, default=0.0, help="USD per tonne CO2 for profiles without one")
    place.set_defaults(handler=_place)
    return parser


def _plan(args: argparse.Namespace) -> int:
    from tensorfleet.report import render_markdown, render_table

    base = _read_base(args.compare) if args.compare else None
    overrides = _read_json_object(args.policy_config, "policy config") if args.policy_config else {}
    plan = _offline_plan(args.stack, args.objective, policy_overrides=overrides)
    markdown = render_markdown(plan, base)
    try:
        write_all_or_nothing({args.json: json.dumps(plan, indent=2) + "\n", args.md: markdown})
    except OSError as exc:
        raise CliError(f"cannot write the plan: {exc}") from None
    print(render_table(plan))
    print(f"\nwrote {args.json} and {args.md}")
    from tensorfleet.policy_run import is_blocking

    if is_blocking(plan["policy_results"]):
        mandatory = [r for r in plan["policy_results"] if r["enforcement"] == "mandatory"]
        print(f"\n{len(mandatory)} mandatory policy violation(s): the plan does not pass", file=sys.stderr)
        return 1
    return 0


def _preflight(args: argparse.Namespace, client: Any = None) -> int:
    """Exit 0 when everything fits, 3 when a blocker was found, 2 when AWS could not be asked."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from tensorfleet.preflight import render, requirements_from_plan, run_preflight

    requirements = requirements_from_plan(_offline_plan(args.stack, None))
    if not requirements:
        print(f"stack {args.stack} places nothing on AWS; nothing to check")
        return 0
    factory = client or (lambda service, region: boto3.client(service, region_name=region))
    try:
        findings = run_preflight(requirements, factory)
    except (BotoCoreError, ClientError) as exc:
        raise CliError(f"AWS could not be asked: {exc}") from None
    print(render(findings))
    blockers = [f for f in findings if not f.ok]
    print(f"\n{len(blockers)} blocker(s) in {len(findings)} check(s)")
    return 3 if blockers else 0


def _refresh(args: argparse.Namespace, client: Any = None) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from regions.catalog import DATA_DIR
    from tensorfleet.catalog_refresh import refresh_aws

    data_dir = args.data_dir or DATA_DIR
    factory = client or (lambda service, region: boto3.client(service, region_name=region))
    try:
        report = refresh_aws(data_dir, factory)
    except (BotoCoreError, ClientError) as exc:
        raise CliError(f"AWS could not be asked; the catalog is unchanged: {exc}") from None
    except OSError as exc:
        raise CliError(f"cannot write the catalog in {data_dir}: {exc}") from None
    for instance_type, region, old, new in report.prices_changed:
        print(f"price  {region:<16} {instance_type:<20} {old:>10.4f} -> {new:.4f} USD/h")
    for quota in report.quotas:
        print(f"quota  {quota.region:<16} {quota.quota:<58} headroom {quota.headroom_vcpus:g} vCPUs")
    print(
        f"\n{len(report.prices_changed)} price(s) changed, {len(report.unpriced)} row(s) without a price "
        f"in the Price List API (left as they were), {report.offering_rows} zone offering rows written"
    )
    return 0


def _offline_plan(stack: str, objective: str | None, policy_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Runs the stack's program under the mock engine and its policy pack over it; returns the plan."""
    import pulumi

    from tensorfleet.engine import StackConfigError, read_stack_config, run_program
    from tensorfleet.policy_run import evaluate
    from tensorfleet.report import build_plan
    from tensorfleet.stack_config import CONFIG_KEYS

    try:
        config, secret_keys = read_stack_config(stack)
    except StackConfigError as exc:
        raise CliError(str(exc)) from None
    unknown = sorted(k for k in config if k.startswith("tensorfleet:") and k.split(":", 1)[1] not in CONFIG_KEYS)
    if unknown:
        raise CliError(
            f"stacks/Pulumi.{stack}.yaml: unknown config key(s) {', '.join(unknown)}; "
            f"known: {', '.join('tensorfleet:' + k for k in sorted(CONFIG_KEYS))}"
        )
    if objective:
        config["tensorfleet:objective"] = objective
    try:
        run = run_program(stack, config, secret_keys)
    except pulumi.RunError as exc:
        raise CliError(str(exc)) from None
    return build_plan(stack, run, evaluate(run, _policy_config(config, policy_overrides or {})))


def _policy_config(config: dict[str, str], overrides: dict[str, Any]) -> dict[str, Any]:
    """The pack's config: the stack budget as the cost ceiling, then whatever the file sets."""
    merged: dict[str, Any] = {}
    budget = config.get("tensorfleet:budgetMonthlyUsd")
    if budget is not None:
        merged["cost-ceiling"] = {"stackMonthlyUsd": float(budget)}
    for policy, settings in overrides.items():
        merged[policy] = {
            **merged.get(policy, {}),
            **(settings if isinstance(settings, dict) else {"enforcementLevel": settings}),
        }
    return merged


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CliError(f"{path}: cannot read the {what}: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"{path}: the {what} must be a JSON object of policy name to settings")
    return value


def _place(args: argparse.Namespace) -> int:
    from regions.catalog import UnknownName, load_catalog
    from regions.explain import explain
    from regions.placement import PlacementError, place_fleet
    from regions.settings import PlacementSettings
    from workloads.loading import ProfileError, load_profile

    try:
        profiles = [load_profile(path) for path in args.profiles]
        catalog = load_catalog()
        settings = PlacementSettings(
            objective=args.objective, stack_budget_monthly_usd=args.budget, carbon_price_usd_per_tonne=args.carbon_price
        )
        fleet = place_fleet(profiles, catalog, settings)
    except (ProfileError, PlacementError, UnknownName) as exc:
        raise CliError(str(exc)) from None
    for plan in fleet.workloads:
        print(f"{plan.profile.name}: ${plan.monthly_usd:,.0f}/month, {_kg(plan.monthly_kgco2)} kgCO2/month")
        reasons = explain(plan)
        for row in plan.rows:
            c = row.choice
            offering = c.option.offering
            print(
                f"  {c.stage:<10} {row.region.key:<28} {offering.instance_type:<26} {offering.accelerator_count}x "
                f"{offering.accelerator:<8} {c.option.capacity:<9} nodes {c.nodes_min}/{c.nodes_desired}/{c.nodes_max}"
            )
            print(f"      {reasons[(row.region.key, c.stage)]}")
    for profile in fleet.gateway_only:
        print(f"{profile.name}: served through the gateway only ({', '.join(profile.model.provider_models)})")  # type: ignore[union-attr]
    print(f"\ntotal: ${fleet.monthly_usd:,.0f}/month, {_kg(fleet.monthly_kgco2)} kgCO2/month ({args.objective})")
    return 0


def _kg(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _read_base(path: Path) -> dict[str, Any]:
    try:
        base = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CliError(f"{path}: cannot read the base plan: {exc}") from None
    if not isinstance(base, dict) or base.get("schema") != "tensorfleet.plan/v1":
        raise CliError(f"{path}: not a tensorfleet.plan/v1 document (field 'schema')")
    return base


if __name__ == "__main__":
    sys.exit(main())
