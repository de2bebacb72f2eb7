"""Plan time of each example stack against the floor: registering the same resources under the mock engine.

The floor replays exactly the registrations the program made (same types, names, parents and
inputs) as bare resources under the same mock engine, with no profiles, catalog or placement.
The ratio program / floor shows what the program adds; the breakdown shows where it goes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pulumi
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from regions import placement
from regions.catalog import load_catalog
from tensorfleet.engine import EchoMocks, ProgramRun, Registration, read_stack_config, run_program


def _replay(reg: Registration, made: dict[str, pulumi.Resource]) -> pulumi.Resource:
    """The same registration through Pulumi's generic resource classes: same kind, inputs, parent, provider."""
    provider = made.get(reg.provider.rsplit("::", 1)[0]) if reg.provider else None
    opts = pulumi.ResourceOptions(parent=made.get(reg.parent or ""), provider=provider, protect=reg.protect)
    if reg.type.startswith("pulumi:providers:"):
        return pulumi.ProviderResource(reg.type.removeprefix("pulumi:providers:"), reg.name, reg.inputs, opts)
    if reg.custom:
        return pulumi.CustomResource(reg.type, reg.name, reg.inputs, opts)
    return pulumi.ComponentResource(reg.type, reg.name, reg.inputs, opts)


def floor(stack: str, recorded: ProgramRun) -> None:
    """Registers ``recorded``'s resources directly, in the same order, under the mock engine."""
    monitor = mocks.MockMonitor(EchoMocks())
    mocks.set_mocks(monitor.mocks, project="tensorfleet", stack=stack, preview=True, monitor=monitor)
    settings.set_root_resource(None)  # type: ignore[arg-type]

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for reg in recorded.registrations:
            made[reg.urn] = _replay(reg, made)
        for key, value in recorded.outputs.items():
            pulumi.export(key, value)

    _sync_await(run_in_stack(program))


def timed_run(stack: str, config: dict[str, str], secret_keys: set[str]) -> tuple[float, float]:
    """Seconds for one program run, and the part of it spent in place_fleet (timed in the same run)."""
    spent = [0.0]
    original = placement.place_fleet

    def timed_place_fleet(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    placement.place_fleet = timed_place_fleet  # the program imports it by name when it runs
    try:
        start = time.perf_counter()
        run_program(stack, config, secret_keys)
        return time.perf_counter() - start, spent[0]
    finally:
        placement.place_fleet = original


def best_of(fn: Callable[[], Any], repeat: int = 5) -> Any:
    """The fastest of ``repeat`` runs: the least disturbed by the rest of the machine."""
    return min((fn() for _ in range(repeat)), key=lambda r: r if isinstance(r, float) else r[0])


def main() -> None:
    load_catalog()  # loaded once per process in both paths; not part of either figure
    print(f"{'stack':<8} {'resources':>9} {'floor s':>8} {'program s':>9} {'ratio':>7} {'placement s':>11} {'rest':>7}")
    for stack in ("dev", "staging", "prod"):
        config, secret_keys = read_stack_config(stack)
        recorded = run_program(stack, config, secret_keys)

        def replay(s: str = stack, r: ProgramRun = recorded) -> float:
            start = time.perf_counter()
            floor(s, r)
            return time.perf_counter() - start

        base = best_of(replay)
        total, placing = best_of(lambda s=stack, c=config, k=secret_keys: timed_run(s, c, k))
        print(
            f"{stack:<8} {len(recorded.registrations):>9} {base:>8.3f} {total:>9.3f} {total / base:>6.1f}x "
            f"{placing:>11.3f} {(total - placing) / base:>6.2f}x"
        )
    print(
        "\nratio = program / floor. rest = (program - placement) / floor: what registering, explaining and"
        "\nexporting add on top of the floor, placement aside."
    )


if __name__ == "__main__":
    main()
