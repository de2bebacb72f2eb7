"""Refits the performance model's efficiencies per chip family and writes regions/data/serving_efficiency.csv.

Run after editing serving_measurements.csv, interconnects.csv or regions/performance.py:

    .venv/bin/python -m regions.tools.fit_serving_efficiency

The tests refit and compare, so a stale table fails CI.
"""

from __future__ import annotations

from regions.calibration import EFFICIENCY_FILE, fit_families, load_points, write_efficiencies


def main() -> None:
    points = load_points()
    fits = fit_families(points)
    write_efficiencies(fits)
    print(f"wrote {EFFICIENCY_FILE} from {len(points)} measurements over {len(fits)} families")


if __name__ == "__main__":
    main()
