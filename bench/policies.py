"""The policy pack over 10,000 resources: the prod example's registrations, replicated.

Each copy renames every URN (and parent, provider and dependency reference) with a suffix, so the
stack holds many independent regional fleets. Timed: the offline runner, i.e. the pack's own rule
functions on the analyzer's view of the stack (proxied properties, providers, parents).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tensorfleet.engine import ProgramRun, Registration, read_stack_config, run_program
from tensorfleet.policy_run import evaluate

TARGET = 10_000


def _suffixed(reg: Registration, n: int) -> Registration:
    def s(urn: str | None) -> str | None:
        return None if urn is None else f"{urn}~{n}"

    provider = (
        None if reg.provider is None else f"{reg.provider.rsplit('::', 1)[0]}~{n}::{reg.provider.rsplit('::', 1)[1]}"
    )
    return replace(reg, urn=f"{reg.urn}~{n}", name=f"{reg.name}-{n}", parent=s(reg.parent), provider=provider,
                   dependencies=tuple(f"{d}~{n}" for d in reg.dependencies))  # fmt: skip


def main() -> None:
    config, secret_keys = read_stack_config("prod")
    base = run_program("prod", config, secret_keys)
    copies = -(-TARGET // len(base.registrations))
    big = ProgramRun(registrations=[_suffixed(r, n) for n in range(copies) for r in base.registrations])
    settings = {"cost-ceiling": {"stackMonthlyUsd": 400_000.0 * copies}}
    evaluate(base, settings)  # warm the catalog and the pack's imports
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        results = evaluate(big, settings)
        samples.append(time.perf_counter() - start)
    best = min(samples)
    print(f"{len(big.registrations)} resources ({copies} copies of the prod example), {len(results)} results")
    print(f"policy pack: {best:.3f} s  ({best / len(big.registrations) * 1e6:.0f} us per resource; target < 1 s)")


if __name__ == "__main__":
    main()
