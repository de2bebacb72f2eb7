"""The performance model's error against the published serving measurements, per chip family.

Prints, per family, the points used, the geometric-mean ratio of predicted over measured
(|log| averaged, so over- and under-prediction both count), the worst ratio, and the fitted
efficiencies. Run from the repository root: .venv/bin/python bench/calibration.py
"""

from __future__ import annotations

import math
from collections import defaultdict

from regions.calibration import load_efficiencies, load_points, predict


def main() -> None:
    fits = load_efficiencies()
    ratios: dict[str, list[float]] = defaultdict(list)
    for point in load_points():
        for predicted, measured in predict(point, fits[point.family].efficiency).values():
            ratios[point.family].append(predicted / measured)
    print(f"{'family':<14} {'figures':>7} {'geo-mean':>9} {'worst':>7}  {'bw eff':>6} {'fl eff':>6} "
          f"{'step ms':>7} {'pf ms':>6} {'ar us':>6}")  # fmt: skip
    everything: list[float] = []
    for family, values in sorted(ratios.items()):
        everything += values
        e = fits[family].efficiency
        print(
            f"{family:<14} {len(values):>7} {_geo(values):>9.3f} {_worst(values):>7.2f}  {e.bandwidth:>6.2f} "
            f"{e.compute:>6.2f} {e.step_overhead_s * 1e3:>7.2f} {e.prefill_overhead_s * 1e3:>6.2f} "
            f"{e.allreduce_latency_s * 1e6:>6.1f}"
        )
    print(f"{'all':<14} {len(everything):>7} {_geo(everything):>9.3f} {_worst(everything):>7.2f}")
    for family, fit in sorted(fits.items()):
        if fit.borrowed_from:
            print(f"{family}: no usable published point; uses {fit.borrowed_from}'s figures")


def _geo(values: list[float]) -> float:
    return math.exp(sum(abs(math.log(v)) for v in values) / len(values))


def _worst(values: list[float]) -> float:
    return max(max(v, 1 / v) for v in values)


if __name__ == "__main__":
    main()
