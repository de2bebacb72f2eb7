"""``tensorfleet``: the offline plan of a stack, and quick what-if placements of profiles."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from tensorfleet.files import write_all_or_nothing

__all__ = ["main"]


EXIT_USAGE = 2
"""Bad input: a flag, a file, a profile, the stack config, or an infeasible request."""
EXIT_INTERNAL = 70
"""A failure tensorfleet did not foresee (EX_SOFTWARE): a bug to report, still one line, no traceback."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report SIGINT."""
MAX_MESSAGE = 4000
"""Longest error message printed; longer ones are cut (they never need to echo an input in full)."""


class CliError(Exception):
    """A user-facing failure: printed as one message, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one ``error:`` line instead of usage text and exit."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see {self.prog} --help)")


class _Interrupts:
    """Remembers a Ctrl-C: an extension module interrupted while it loads (gRPC's) fails with its own
    ImportError instead of KeyboardInterrupt, and that is still the user's interrupt, not a bug."""

    received = False

    @classmethod
    def install(cls) -> None:
        cls.received = False
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when SIGINT is ignored
            signal.signal(signal.SIGINT, cls._handle)

    @classmethod
    def _handle(cls, signum: int, frame: object) -> None:
        cls.received = True
        raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; every failure ends as one ``error:`` message and a non-zero status."""
    _Interrupts.install()
    try:
        args = _parser().parse_args(argv)
        return int(args.handler(args))
    except CliError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
    except Exception as exc:
        if _Interrupts.received:
            return _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
        if os.environ.get("TENSORFLEET_DEBUG"):
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (a bug in tensorfleet: please report it; "
            "TENSORFLEET_DEBUG=1 shows the traceback)",
            EXIT_INTERNAL,
        )


def _fail(message: str, code: int) -> int:
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " ..."
    print(f"error: {message}", file=sys.stderr)
    return code


def _stack_name(text: str) -> str:
    from tensorfleet.engine import STACK_NAME

    if not STACK_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected 1 to 100 letters, digits, '-', '_' or '.' (Pulumi's stack names), got {_short(text)}"
        )
    return text


def _file_path(text: str) -> Path:
    if "\x00" in text or not text or len(text) > 4096:
        raise argparse.ArgumentTypeError(
            f"expected a file path (no NUL byte, at most 4096 characters), got {_short(text)}"
        )
    return Path(text)


def _usd(text: str) -> float:
    return _number(text, low=0.0, high=1e9, low_open=True, what="a monthly amount in USD")


def _carbon_price(text: str) -> float:
    return _number(text, low=0.0, high=10_000.0, low_open=False, what="USD per tonne CO2")


def _number(text: str, *, low: float, high: float, low_open: bool, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
        bound = f"above {low:g}" if low_open else f"at least {low:g}"
        raise argparse.ArgumentTypeError(f"expected {what}, {bound} and at most {high:g}, got {_short(text)}")
    return value


def _short(text: str) -> str:
    from workloads.safe_yaml import bounded

    return bounded(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tensorfleet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="run the stack's program under the mock engine and report the plan")
    plan.add_argument("--stack", required=True, type=_stack_name, help="environment: stacks/Pulumi.<stack>.yaml")
    plan.add_argument("--json", type=_file_path, default=Path("plan.json"), help="where to write plan.json")
    plan.add_argument("--md", type=_file_path, default=Path("plan.md"), help="where to write plan.md")
    plan.add_argument("--objective", choices=("cost", "carbon", "balanced"), help="override tensorfleet:objective")
    plan.add_argument("--compare", type=_file_path, help="a base plan.json to compare against in plan.md")
    plan.add_argument(
        "--policy-config",
        type=_file_path,
        help="policy-pack config JSON (as for pulumi --policy-pack-config); the stack ceiling defaults to "
        "tensorfleet:budgetMonthlyUsd",
    )
    plan.set_defaults(handler=_plan)

    preflight = commands.add_parser(
        "preflight",
        help="check the AWS account, GCP project and Azure subscription can launch the stack's plan "
        "(offerings per region, accelerator and vCPU quotas); clouds without placements are not contacted",
    )
    preflight.add_argument("--stack", required=True, type=_stack_name, help="environment: stacks/Pulumi.<stack>.yaml")
    preflight.set_defaults(handler=_preflight)

    catalog = commands.add_parser("catalog", help="catalog maintenance")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    refresh = catalog_commands.add_parser("refresh", help="refresh prices and offerings from the cloud's APIs")
    refresh.add_argument("--cloud", required=True, choices=("aws",), help="only AWS has a refresh so far")
    refresh.add_argument("--data-dir", type=_file_path, help="catalog data to update (default: regions/data)")
    refresh.set_defaults(handler=_refresh)

    size = commands.add_parser(
        "size", help="what one node of each offering delivers for a profile's model, within its SLO"
    )
    size.add_argument("profile", type=_file_path, help="workload profile YAML file")
    size.add_argument("--offering", help="one instance type (e.g. p5.48xlarge); default: every offering")
    size.add_argument("--json", action="store_true", help="print the tensorfleet.size/v1 JSON document")
    size.add_argument("--top", type=int, default=15, help="offerings shown per stage in the table (default 15)")
    size.set_defaults(handler=_size)

    place = commands.add_parser("place", help="place profiles without a stack (what-if)")
    place.add_argument("profiles", nargs="+", type=_file_path, help="workload profile YAML files")
    place.add_argument("--objective", choices=("cost", "carbon", "balanced"), default="balanced")
    place.add_argument("--budget", type=_usd, help="stack budget, USD per month")
    place.add_argument(
        "--carbon-price", type=_carbon_price, default=0.0, help="USD per tonne CO2 for profiles without one"
    )
    place.set_defaults(handler=_place)
    return parser


def _plan(args: argparse.Namespace) -> int:
    from tensorfleet.base_plan import load_base_plan
    from tensorfleet.json_input import JsonInputError
    from tensorfleet.plan_diff import diff_plans
    from tensorfleet.policy_config import load_policy_config
    from tensorfleet.report import render_markdown, render_table

    if os.path.abspath(args.json) == os.path.abspath(args.md):
        raise CliError(f"--json and --md both name {args.json}: plan.json and plan.md need two files")
    try:
        base = load_base_plan(args.compare) if args.compare else None
        overrides = load_policy_config(args.policy_config) if args.policy_config else {}
    except JsonInputError as exc:
        raise CliError(str(exc)) from None
    if base is not None and base["stack"] != args.stack:
        raise CliError(
            f"{args.compare}: stack: the base plan is of stack {base['stack']!r}, not {args.stack!r}; "
            "compare plans of the same stack"
        )
    plan = _offline_plan(args.stack, args.objective, policy_overrides=overrides)
    if base is not None:
        plan["changes"] = diff_plans(base, plan).to_json()
    markdown = render_markdown(plan, base)
    try:
        write_all_or_nothing({args.json: json.dumps(plan, indent=2) + "\n", args.md: markdown})
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot write the plan (nothing was written): {exc}") from None
    print(render_table(plan))
    print(f"\nwrote {args.json} and {args.md}")
    from tensorfleet.policy_run import is_blocking

    if is_blocking(plan["policy_results"]):
        mandatory = [r for r in plan["policy_results"] if r["enforcement"] == "mandatory"]
        print(f"\n{len(mandatory)} mandatory policy violation(s): the plan does not pass", file=sys.stderr)
        return 1
    return 0


def _preflight(args: argparse.Namespace, client: Any = None, gcp: Any = None, azure: Any = None) -> int:
    """Exit 0 when everything fits, 3 when a blocker was found, 2 when a cloud could not be asked.

    Only clouds with placements are asked, in turn (AWS, GCP, Azure); the first that cannot be asked
    ends the command with one error line. ``client`` ``(service, region) -> boto3 client``, ``gcp``
    ``() -> Compute Engine v1 service`` and ``azure`` ``(subscription_id) -> ComputeManagementClient``
    replace the real clients (tests).
    """
    from regions.catalog import CLOUDS
    from tensorfleet import preflight_azure, preflight_gcp
    from tensorfleet.engine import StackConfigError
    from tensorfleet.preflight import CloudUnreachable, check_aws, report, requirements_from_plan, stack_settings
    from tensorfleet.stack_config import StackConfigInvalid

    plan = _offline_plan(args.stack, None)
    needs = {cloud: requirements_from_plan(plan, cloud) for cloud in CLOUDS}
    if not any(needs.values()):
        print(f"stack {args.stack} places nothing on AWS, GCP or Azure; nothing to check")
        return 0
    try:
        settings = stack_settings(args.stack)
        sections = []
        if needs["aws"]:
            sections.append(("AWS", check_aws(needs["aws"], client)))
        if needs["gcp"]:
            sections.append(preflight_gcp.check(needs["gcp"], settings, gcp))
        if needs["azure"]:
            sections.append(preflight_azure.check(needs["azure"], settings, azure))
    except (StackConfigError, StackConfigInvalid, CloudUnreachable) as exc:
        raise CliError(str(exc)) from None
    text, blockers = report(sections)
    print(text)
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

    try:
        config, secret_keys = read_stack_config(stack)
    except StackConfigError as exc:
        raise CliError(str(exc)) from None
    if objective:
        config["tensorfleet:objective"] = objective
    # The program itself validates every key (unknown keys included), as it does under `pulumi up`.
    try:
        run = run_program(stack, config, secret_keys)
    except pulumi.RunError as exc:
        raise CliError(str(exc)) from None
    except pulumi.InputPropertiesError as exc:
        details = "\n".join(f"  - {e['property_path']}: {e['reason']}" for e in exc.errors or [])
        raise CliError(
            f"stacks/Pulumi.{stack}.yaml: a component refused its inputs: {exc.message}\n{details}"
        ) from None
    return build_plan(stack, run, evaluate(run, _policy_config(config, secret_keys, policy_overrides or {})))


def _policy_config(config: dict[str, str], secret_keys: set[str], overrides: dict[str, Any]) -> dict[str, Any]:
    """The pack's config: the stack budget as the cost ceiling, then whatever the file sets."""
    from tensorfleet.program_config import decode_value

    merged: dict[str, Any] = {}
    key = "tensorfleet:budgetMonthlyUsd"
    budget = decode_value("budgetMonthlyUsd", config[key]) if key in config and key not in secret_keys else None
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):  # validated by the program; null is none
        merged["cost-ceiling"] = {"stackMonthlyUsd": float(budget)}
    for policy, settings in overrides.items():
        merged[policy] = {
            **merged.get(policy, {}),
            **(settings if isinstance(settings, dict) else {"enforcementLevel": settings}),
        }
    return merged


def _place(args: argparse.Namespace) -> int:
    from regions.catalog import UnknownName, load_catalog
    from regions.diagnosis import describe, place_audience
    from regions.explain import explain
    from regions.names import check_profile_names
    from regions.placement import PlacementError, place_fleet
    from regions.settings import PlacementSettings
    from workloads.loading import ProfileError, load_profile

    try:
        profiles = [load_profile(path) for path in args.profiles]
        _unique_names(profiles, args.profiles)
        catalog = load_catalog()
        for profile, path in zip(profiles, args.profiles, strict=True):
            names = check_profile_names(profile, catalog)
            if names:
                raise ProfileError(str(path), [f"{field}: {message}" for field, message in names])
        settings = PlacementSettings(
            objective=args.objective, stack_budget_monthly_usd=args.budget, carbon_price_usd_per_tonne=args.carbon_price
        )
        fleet = place_fleet(profiles, catalog, settings)
    except PlacementError as exc:
        files = {p.name: str(path) for p, path in zip(profiles, args.profiles, strict=True)}
        raise CliError(describe(exc, place_audience(files))) from None
    except (ProfileError, UnknownName) as exc:
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
    print(f"regions' and clouds' fixed costs (control planes, NAT, keys): ${fleet.fixed_monthly_usd:,.0f}/month")
    print(f"\ntotal: ${fleet.monthly_usd:,.0f}/month, {_kg(fleet.monthly_kgco2)} kgCO2/month ({args.objective})")
    return 0


def _size(args: argparse.Namespace) -> int:
    import difflib

    from regions.catalog import load_catalog
    from regions.settings import PlacementSettings
    from regions.size import size_profile, to_json
    from workloads.loading import ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    if args.top < 1:
        raise CliError(f"--top: expected a positive number of rows, got {args.top}")
    catalog = load_catalog()
    if args.offering is not None:
        known = sorted({o.instance_type for o in catalog.offerings})
        if args.offering not in known:
            close = difflib.get_close_matches(args.offering, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise CliError(f"--offering: no placeable instance type {_short(args.offering)} in the catalog{hint}")
    stages = size_profile(profile, catalog, PlacementSettings(), args.offering)  # none when gateway-only
    if args.json:
        print(json.dumps(to_json(profile, stages), indent=2))
        return 0
    if not stages:
        print(f"{profile.name}: served by external providers through the gateway; no accelerators to size")
        return 0
    for stage in stages:
        peak = profile.slo.peak_rps * stage.share
        print(f"{profile.name}/{stage.stage}: {len(stage.offerings)} offering(s) meet the SLO "
              f"(p95 {profile.slo.p95_latency_ms:g} ms, peak {peak:g} req/s)")  # fmt: skip
        print(f"  {'instance type':<26} {'accel':<14} {'repl':>6} {'conc':>5} {'req/s':>8} {'tok/s':>9} "
              f"{'TTFT':>7} {'TPOT':>6} {'e2e':>7} {'nodes':>5} {'$/Mtok':>8}")  # fmt: skip
        for row in stage.offerings[: args.top]:
            ttft = "-" if row.ttft_p95_ms is None else f"{row.ttft_p95_ms:.0f}"
            tpot = "-" if row.tpot_ms is None else f"{row.tpot_ms:.1f}"
            print(
                f"  {row.instance_type:<26} {row.accelerators_per_node}x {row.accelerator:<11} "
                f"{row.replicas_per_node:>2}x{row.accelerators_per_replica:<3} {row.concurrency:>5} "
                f"{row.requests_per_s:>8.2f} {row.tokens_per_s:>9.0f} {ttft:>7} {tpot:>6} {row.e2e_p95_ms:>7.0f} "
                f"{row.nodes_at_peak:>5} {row.usd_per_million_tokens:>8.3f}"
            )
        if not stage.offerings:
            print("  no offering meets the SLO; tensorfleet place names the constraint to relax")
    print("\nservice-side p95 at peak load (queueing included, network excluded); nodes for one region; "
          "prices at each type's cheapest region")  # fmt: skip
    return 0


def _unique_names(profiles: list[Any], paths: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for profile, path in zip(profiles, paths, strict=True):
        if profile.name in seen:
            raise CliError(f"{path}: name: workload {profile.name!r} is already defined by {seen[profile.name]}")
        seen[profile.name] = path


def _kg(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


if __name__ == "__main__":
    sys.exit(main())
