"""Writes regions/data/aws_az_offerings.csv: which availability zones (by ID) offer each accelerator type.

Source: the EC2 DescribeInstanceTypeOfferings data (location type availability-zone-id) that moto
bundles in moto/ec2/resources/instance_type_offerings/. Run after a moto upgrade:

    .venv/bin/python -m regions.tools.extract_aws_az_offerings
"""

from __future__ import annotations

import csv
import gzip
import json
from importlib import metadata, resources
from pathlib import Path

from regions.catalog import DATA_DIR, load_catalog


def main() -> None:
    catalog = load_catalog()
    wanted = {(o.instance_type, o.region) for o in catalog.offerings if o.cloud == "aws"}
    regions = sorted({region for _, region in wanted})
    folder = resources.files("moto.ec2.resources.instance_type_offerings").joinpath("availability-zone-id")
    source = f"moto {metadata.version('moto')} bundled EC2 instance type offerings (availability-zone-id)"
    rows: list[tuple[str, str, str]] = []
    all_zones: list[tuple[str, str]] = []
    for region in regions:
        entry = folder.joinpath(f"{region}.json.gz")
        if not entry.is_file():
            continue
        with entry.open("rb") as raw:
            offerings = json.loads(gzip.decompress(raw.read()))
        all_zones.extend((region, zone) for zone in sorted({o["Location"] for o in offerings}))
        rows.extend(
            (o["InstanceType"], region, o["Location"]) for o in offerings if (o["InstanceType"], region) in wanted
        )
    path = Path(DATA_DIR) / "aws_az_offerings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instance_type", "region", "az_id", "source"])
        writer.writerows((*row, source) for row in sorted(set(rows)))
        # Every AZ of the region, accelerator or not, marked with instance_type "*".
        writer.writerows(("*", region, zone, source) for region, zone in all_zones)
    print(f"wrote {path}: {len(set(rows))} offering rows, {len(all_zones)} zones in {len(regions)} regions")


if __name__ == "__main__":
    main()
