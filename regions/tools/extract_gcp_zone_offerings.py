"""Writes regions/data/gcp_zone_offerings.csv: which zones offer each GCP machine type, TPU type or GPU.

Source: SkyPilot's GCP catalog (``skypilot-org/skypilot-catalog`` ``catalogs/v9/gcp/vms.csv``), one row
per (machine type or accelerator, zone). It reads a local copy given as the argument and fetches
nothing; the copy (or an excerpt with the same header) is not committed:

    .venv/bin/python -m regions.tools.extract_gcp_zone_offerings /path/to/vms.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from regions.catalog import DATA_DIR

# accelerators.csv names attachable GPUs by their GCE accelerator type; SkyPilot by its short name.
_SKYPILOT_NAMES = {"nvidia-tesla-t4": "T4", "nvidia-tesla-v100": "V100"}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m regions.tools.extract_gcp_zone_offerings <local copy of vms.csv>")
    wanted = _gcp_rows(Path(DATA_DIR) / "accelerators.csv")
    offered = _zones_by_name(Path(argv[0]))
    rows = sorted(
        (instance_type, region, zone)
        for instance_type, region in wanted
        for zone in offered.get((_SKYPILOT_NAMES.get(instance_type, instance_type), region), ())
    )
    path = Path(DATA_DIR) / "gcp_zone_offerings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instance_type", "region", "zone"])
        writer.writerows(rows)
    missing = len(wanted - {(t, r) for t, r, _ in rows})
    print(f"wrote {path}: {len(rows)} zone rows; {missing} of {len(wanted)} GCP rows have no zone in the source")


def _gcp_rows(path: Path) -> set[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {(r["instance_type"], r["region"]) for r in csv.DictReader(handle) if r["cloud"] == "gcp"}


def _zones_by_name(path: Path) -> dict[tuple[str, str], set[str]]:
    """(machine type, or accelerator name for GPU and TPU rows, region) -> zones. SkyPilot lists a
    GPU or TPU once per count and zone, with an empty InstanceType, hence the fallback name."""
    zones: dict[tuple[str, str], set[str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["InstanceType"] or row["AcceleratorName"]
            if not row["AvailabilityZone"].startswith(f"{row['Region']}-"):
                raise ValueError(f"{path.name}: zone {row['AvailabilityZone']!r} is not in region {row['Region']!r}")
            zones.setdefault((name, row["Region"]), set()).add(row["AvailabilityZone"])
    return zones


if __name__ == "__main__":
    main(sys.argv[1:])
