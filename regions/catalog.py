"""The accelerator catalog: priced offerings per region, chip specs, regions with coordinates and carbon.

Everything is read from ``regions/data`` (see its README for sources) by an explicit
:func:`load_catalog` call; nothing is read at import time.
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

__all__ = [
    "DATA_DIR",
    "AcceleratorSpec",
    "Catalog",
    "Cloud",
    "ExcludedRow",
    "MigProfile",
    "Offering",
    "Region",
    "UnknownName",
    "canonical_accelerator",
    "did_you_mean",
    "load_catalog",
    "quoted",
]

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: tuple[Cloud, ...] = get_args(Cloud)

DATA_DIR = Path(__file__).parent / "data"

# Chips per host for single-host TPU slices; larger slices span several hosts and are not
# schedulable as one serving node. As of 2026-08, source: Google Cloud TPU docs, "TPU versions"
# pages for v4, v5e, v5p and v6e (v5e/v6e hosts carry up to 8 chips, v4/v5p hosts 4).
_TPU_CHIPS_PER_HOST = {"TPU v4": 4, "TPU v5e": 8, "TPU v5p": 4, "TPU v6e": 8}

# Azure and GCP rows name some chips by family only; regions/data/README.md ("Known gaps a loader
# must resolve") maps each SKU pattern to the chip in accelerator_specs.csv.
_AZURE_SPEC_BY_SKU = (
    (re.compile(r"^Standard_NC\d+ads_A100_v4$"), "A100-80GB-PCIe"),
    (re.compile(r"^Standard_ND96amsr?_A100_v4$"), "A100-80GB"),
    (re.compile(r"^Standard_ND96asr(_A100)?_v4$"), "A100"),
    (re.compile(r"^Standard_NCC?\d+a?d?i?s?_H100_v5$"), "H100-NVL"),
    (re.compile(r"^Standard_ND96is\w*_H100_v5$"), "H100"),
)
_SPEC_ALIASES = {"H100-MEGA": "H100"}

# Vendors of the accelerators that have no spec row. As of 2026-11, source: AWS "Accelerated
# computing" instance type pages (g5g: NVIDIA T4G; g7/g7e: NVIDIA RTX PRO; p6-b300: NVIDIA B300;
# g3/g4ad: NVIDIA M60 / AMD Radeon Pro V520; dl1: Intel Habana Gaudi; dl2q: Qualcomm AI 100).
_VENDOR_WITHOUT_SPEC = {
    "T4G": "NVIDIA",
    "RTX PRO 6000": "NVIDIA",
    "RTX PRO 4500": "NVIDIA",
    "B300": "NVIDIA",
    "K520": "NVIDIA",
    "K80": "NVIDIA",
    "M60": "NVIDIA",
    "Radeon Pro V520": "AMD",
    "Gaudi HL-205": "Intel",
    "Qualcomm AI100": "Qualcomm",
}
# EKS accelerated AMI types exist for NVIDIA GPUs and AWS Neuron chips only (botocore eks AMITypes).
_EKS_ACCELERATOR_VENDORS = ("NVIDIA", "AWS")


class UnknownName(LookupError):
    """A region or accelerator name the catalog does not know; the message suggests close matches."""


@dataclass(frozen=True, slots=True)
class AcceleratorSpec:
    """One accelerator chip's datasheet figures (``accelerator_specs.csv``)."""

    name: str
    """Canonical chip name, e.g. ``"H100"``, ``"TPU v5e"``."""
    vendor: str
    memory_gib: float
    """Device memory per chip, GiB."""
    memory_bandwidth_gbps: float
    """Peak device-memory bandwidth per chip, GB/s (10^9 bytes per second)."""
    bf16_tflops: float
    """Dense BF16 (FP16 where the chip has no BF16) peak per chip, TFLOPS."""
    fp8_int8_tflops: float | None
    """Dense FP8 (Hopper and newer) or INT8 peak per chip, TFLOPS; None where unpublished."""
    tdp_watts: float | None
    """Board power per chip, W; None where the vendor publishes none (Neuron chips, TPUs)."""
    source: str


@dataclass(frozen=True, slots=True)
class Region:
    """A cloud region with what latency, residency and carbon decisions need."""

    cloud: Cloud
    code: str
    """Provider region code, e.g. ``"us-east-1"``."""
    display_name: str
    country_code: str
    """ISO 3166-1 alpha-2 country of the region, e.g. ``"US"``."""
    latitude: float
    longitude: float
    grid_gco2_per_kwh: float | None
    """Grid carbon intensity (annual average); None where no source covers the region."""
    carbon_source: str
    pue: float
    """Power usage effectiveness applied to energy drawn in this cloud (``pue.csv``)."""

    @property
    def key(self) -> str:
        """``"cloud:code"``, unique across clouds."""
        return f"{self.cloud}:{self.code}"


@dataclass(frozen=True, slots=True)
class Offering:
    """One purchasable accelerator node shape in one region."""

    cloud: Cloud
    region: str
    instance_type: str
    """EC2 instance type, GCE machine type, Cloud TPU type or Azure VM size."""
    kind: Literal["vm", "tpu_slice"]
    accelerator: str
    """Canonical accelerator name (a key of :attr:`Catalog.specs` where specs exist)."""
    accelerator_count: int
    """Accelerators per node (TPU chips for TPU slices)."""
    accelerator_memory_gib: float | None
    """Memory per accelerator, GiB; from the spec sheet where the price row has none."""
    usd_per_hour: float
    """On-demand list price for the whole node, USD per hour."""
    spot_usd_per_hour: float | None
    """Spot price for the node, USD per hour; None where the catalog has no spot figure."""
    spot_basis: str | None
    """Where the spot figure comes from (a published price or an advisor-based estimate)."""
    price_source: str
    confidence: str
    """``high``, ``medium`` or ``low`` as rated by the data README."""
    zones: tuple[str, ...] = ()
    """Zones that offer the node shape: AWS availability-zone IDs (``aws_az_offerings.csv``), GCP zone
    names (``gcp_zone_offerings.csv``). Empty for Azure."""


@dataclass(frozen=True, slots=True)
class MigProfile:
    """One Multi-Instance GPU profile: the share of a GPU's memory (with its bandwidth: a memory
    slice includes its memory controllers) and of its SMs that one instance gets."""

    accelerator: str
    name: str
    """NVIDIA's profile name, e.g. ``1g.10gb``."""
    compute_slices: int
    memory_fraction: float
    compute_fraction: float
    instances_per_gpu: int
    source: str


@dataclass(frozen=True, slots=True)
class ExcludedRow:
    """A catalog row that cannot be placed, with the reason (kept so that nothing vanishes silently)."""

    cloud: str
    region: str
    instance_type: str
    reason: str


@dataclass(frozen=True, eq=False)  # identity equality: hashable, so lookups built from it can be cached
class Catalog:
    """All offerings, regions and chip specs, indexed for lookups."""

    offerings: tuple[Offering, ...]
    regions: dict[str, Region]
    """Keyed by ``"cloud:code"``."""
    specs: dict[str, AcceleratorSpec]
    excluded: tuple[ExcludedRow, ...]
    zones: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Zones per region key, where the data knows them: every AWS AZ ID of the region; for GCP, the
    zone names that the region's offerings name (the data has no region-wide GCP zone list)."""
    node_networks: dict[tuple[str, str], float] = field(default_factory=dict)
    """Documented node-to-node network bandwidth, Gbit/s, per (cloud, instance type)
    (``node_networks.csv``): only these nodes may host a replica that spans nodes."""
    mig_profiles: dict[tuple[str, int], MigProfile] = field(default_factory=dict)
    """The MIG instance of each GPU that offers one, per (accelerator, compute slices)
    (``mig_profiles.csv``)."""
    max_pods: dict[tuple[str, str], int] = field(default_factory=dict)
    """The pods a node of each (cloud, instance type) runs at most where the cloud sets it per type:
    EKS's default, the VPC CNI's per-instance figure (``aws_max_pods.csv``)."""
    temp_disks: dict[str, int] = field(default_factory=dict)
    """The temporary (resource) disk of each Azure VM size a source documents, GiB
    (``azure_temp_disks.csv``): where an AKS node keeps images and model caches its OS disk cannot."""

    def region(self, cloud: str, code: str) -> Region:
        """Returns a region or raises UnknownName naming the closest known codes."""
        found = self.regions.get(f"{cloud}:{code}")
        if found is None:
            known = [r.code for r in self.regions.values() if r.cloud == cloud]
            raise UnknownName(f"unknown {cloud} region {quoted(code)}{did_you_mean(code, known)}")
        return found

    def spec(self, accelerator: str) -> AcceleratorSpec | None:
        """Returns the chip spec, or None for chips without a spec row (not sizeable by roofline)."""
        return self.specs.get(accelerator)

    @functools.cached_property
    def accelerator_names(self) -> tuple[str, ...]:
        """Every canonical accelerator name that appears in offerings or specs."""
        return tuple(sorted({o.accelerator for o in self.offerings} | set(self.specs)))

    def canonical_accelerator(self, name: str) -> str:
        """Canonicalises an accelerator name case- and punctuation-insensitively.

        Raises:
            UnknownName: unknown name; the message lists close matches.
        """
        wanted = _fold(name)
        for known in self.accelerator_names:
            if _fold(known) == wanted:
                return known
        alias = {_fold(k): v for k, v in _SPEC_ALIASES.items()}.get(wanted)
        if alias:
            return alias
        raise UnknownName(f"unknown accelerator {quoted(name)}{did_you_mean(name, self.accelerator_names)}")


def canonical_accelerator(name: str) -> str:
    """Canonical accelerator name against the bundled catalog (see :meth:`Catalog.canonical_accelerator`)."""
    return load_catalog().canonical_accelerator(name)


@functools.lru_cache(maxsize=4)
def load_catalog(data_dir: Path = DATA_DIR) -> Catalog:
    """Reads and validates the catalog CSVs under ``data_dir``.

    Raises:
        ValueError: a file is missing a column or holds a value of the wrong type; the message
            names the file, the row number and the column.
    """
    specs = {s.name: s for s in _read_specs(data_dir / "accelerator_specs.csv")}
    pue = {row["cloud"]: _num(row, "pue", "pue.csv", i) for i, row in _rows(data_dir / "pue.csv")}
    regions = _read_regions(data_dir, pue)
    spot_savings = _read_spot_advisor(data_dir / "aws_spot_advisor.csv")
    aws_offered_in, region_zones = _read_aws_zones(data_dir / "aws_az_offerings.csv")
    offered_in = {"aws": aws_offered_in, "gcp": _read_gcp_zones(data_dir / "gcp_zone_offerings.csv")}
    partitions = _read_partitions(data_dir / "gpu_partitions.csv")
    offerings: list[Offering] = []
    excluded: list[ExcludedRow] = []
    for line, row in _rows(data_dir / "accelerators.csv"):
        reason = _exclusion_reason(row, regions) or partitions.get((row["cloud"], row["instance_type"]))
        zones = offered_in.get(row["cloud"], {}).get((row["instance_type"], row["region"]), ())
        reason = reason or _zone_reason(row, specs, zones)
        if reason:
            excluded.append(ExcludedRow(row["cloud"], row["region"], row["instance_type"], reason))
            continue
        offerings.append(replace(_offering(row, line, specs, spot_savings), zones=zones))
    return Catalog(
        offerings=tuple(offerings),
        regions=regions,
        specs=specs,
        excluded=tuple(excluded),
        zones={**region_zones, **_gcp_region_zones(offerings)},
        node_networks=_read_node_networks(data_dir / "node_networks.csv"),
        mig_profiles=_read_mig_profiles(data_dir / "mig_profiles.csv", specs),
        max_pods=_read_max_pods(data_dir / "aws_max_pods.csv"),
        temp_disks=_read_temp_disks(data_dir / "azure_temp_disks.csv"),
    )


def _read_max_pods(path: Path) -> dict[tuple[str, str], int]:
    if not path.is_file():
        return {}
    found: dict[tuple[str, str], int] = {}
    for line, row in _rows(path):
        pods = _num(row, "max_pods", path.name, line)
        if pods != int(pods) or pods < 1:
            raise ValueError(f"{path.name} line {line}: column 'max_pods' is {pods:g}; expected a whole number above 0")
        found[("aws", row["instance_type"])] = int(pods)
    return found


def _read_temp_disks(path: Path) -> dict[str, int]:
    """The temporary disk of each size where AKS can keep kubelet data on it: one documented disk
    that is not NVMe (AKS binds kubelet data to the resource disk mounted at ``/mnt``; NVMe
    temporary disks come unformatted and unmounted)."""
    if not path.is_file():
        return {}
    found: dict[str, int] = {}
    seen: set[str] = set()
    for line, row in _rows(path):
        if row["vm_size"] in seen:
            raise ValueError(f"{path.name} line {line}: VM size {row['vm_size']!r} is listed twice")
        seen.add(row["vm_size"])
        if row["temp_disk_nvme"] not in ("yes", "no", "not stated"):
            raise ValueError(
                f"{path.name} line {line}: column 'temp_disk_nvme' is {row['temp_disk_nvme']!r}; "
                "expected yes, no or not stated"
            )
        gib, disks = _opt_num(row, "temp_disk_gib", path.name, line), _opt_num(row, "temp_disks", path.name, line)
        if gib is None or disks != 1 or row["temp_disk_nvme"] == "yes":
            continue
        if gib != int(gib) or gib <= 0:
            raise ValueError(f"{path.name} line {line}: column 'temp_disk_gib' is {gib:g}; expected whole GiB above 0")
        found[row["vm_size"]] = int(gib)
    return found


def _read_mig_profiles(path: Path, specs: dict[str, AcceleratorSpec]) -> dict[tuple[str, int], MigProfile]:
    profiles: dict[tuple[str, int], MigProfile] = {}
    for line, row in _rows(path):
        if row["accelerator"] not in specs:
            raise ValueError(f"{path.name} line {line}: accelerator {row['accelerator']!r} has no row in "
                             "accelerator_specs.csv")  # fmt: skip
        slices = int(_num(row, "compute_slices", path.name, line))
        profile = MigProfile(
            accelerator=row["accelerator"],
            name=row["profile"],
            compute_slices=slices,
            memory_fraction=_fraction(row, "memory_fraction", path.name, line),
            compute_fraction=_fraction(row, "sm_fraction", path.name, line),
            instances_per_gpu=int(_num(row, "instances_per_gpu", path.name, line)),
            source=row["source"],
        )
        if not re.fullmatch(rf"{slices}g\.\d+gb", profile.name) or profile.instances_per_gpu < 2:
            raise ValueError(
                f"{path.name} line {line}: profile {profile.name!r} with {profile.instances_per_gpu} instance(s); "
                f"expected a {slices}g.<memory>gb profile that several replicas share"
            )
        profiles[(profile.accelerator, slices)] = profile
    return profiles


def _fraction(row: dict[str, str], column: str, file: str, line: int) -> float:
    numerator, _, denominator = row[column].partition("/")
    if not (numerator.isdigit() and denominator.isdigit() and 0 < int(numerator) <= int(denominator)):
        raise ValueError(f"{file} line {line}: column {column!r} is {row[column]!r}; expected a fraction such as 1/8")
    return int(numerator) / int(denominator)


def _read_node_networks(path: Path) -> dict[tuple[str, str], float]:
    if not path.is_file():
        return {}
    return {
        (_cloud(row, path.name, line), row["instance_type"]): _num(row, "gbit_per_s", path.name, line)
        for line, row in _rows(path)
    }


def _read_partitions(path: Path) -> dict[tuple[str, str], str]:
    """Instance types that get part of one GPU (a vGPU slice) although the price catalog counts a
    whole one, with the exclusion reason naming the slice."""
    reasons: dict[tuple[str, str], str] = {}
    for line, row in _rows(path):
        numerator, _, denominator = row["gpu_fraction"].partition("/")
        if not (numerator.isdigit() and denominator.isdigit() and 0 < int(numerator) < int(denominator)):
            raise ValueError(
                f"{path.name} line {line}: column 'gpu_fraction' is {row['gpu_fraction']!r}; "
                "expected a fraction below 1 such as 1/6"
            )
        memory = _num(row, "gpu_memory_gib", path.name, line)
        reasons[(row["cloud"], row["instance_type"])] = (
            f"fractional GPU partition ({row['gpu_fraction']} of a GPU, {memory:g} GiB); not a whole accelerator"
        )
    return reasons


def _read_specs(path: Path) -> Iterable[AcceleratorSpec]:
    for line, row in _rows(path):
        yield AcceleratorSpec(
            name=row["accelerator"],
            vendor=row["vendor"],
            memory_gib=_num(row, "memory_gib", path.name, line),
            memory_bandwidth_gbps=_num(row, "memory_bw_gbps", path.name, line),
            bf16_tflops=_num(row, "bf16_tflops_dense", path.name, line),
            fp8_int8_tflops=_opt_num(row, "fp8_or_int8_dense", path.name, line),
            tdp_watts=_opt_num(row, "tdp_watts", path.name, line),
            source=row["notes"],
        )


def _read_regions(data_dir: Path, pue: dict[str, float]) -> dict[str, Region]:
    carbon: dict[str, tuple[float, str]] = {}
    for line, row in _rows(data_dir / "carbon.csv"):
        if row["preferred"] == "1":
            value = _num(row, "grid_gco2_per_kwh", "carbon.csv", line)
            carbon[f"{row['cloud']}:{row['region']}"] = (value, f"{row['source']} ({row['year']})")
    regions: dict[str, Region] = {}
    for line, row in _rows(data_dir / "regions.csv"):
        cloud = _cloud(row, "regions.csv", line)
        if not row["latitude"]:
            continue  # the README documents these as placeholder coordinates that were removed
        key = f"{cloud}:{row['region']}"
        grid, source = carbon.get(key, (None, "no carbon source covers this region"))
        regions[key] = Region(
            cloud=cloud,
            code=row["region"],
            display_name=row["display_name"],
            country_code=row["country_code"],
            latitude=_num(row, "latitude", "regions.csv", line),
            longitude=_num(row, "longitude", "regions.csv", line),
            grid_gco2_per_kwh=grid,
            carbon_source=source,
            pue=pue[cloud],
        )
    return regions


def _read_spot_advisor(path: Path) -> dict[tuple[str, str], int]:
    return {
        (row["instance_type"], row["region"]): int(_num(row, "spot_savings_pct", path.name, line))
        for line, row in _rows(path)
        if row["os"] == "Linux"
    }


def _read_aws_zones(path: Path) -> tuple[dict[tuple[str, str], tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(instance type, region) -> offering AZ IDs, and region key -> every AZ ID (rows with type ``*``)."""
    offered: dict[tuple[str, str], list[str]] = {}
    region_zones: dict[str, list[str]] = {}
    for _, row in _rows(path):
        if row["instance_type"] == "*":
            region_zones.setdefault(f"aws:{row['region']}", []).append(row["az_id"])
        else:
            offered.setdefault((row["instance_type"], row["region"]), []).append(row["az_id"])
    return (
        {key: tuple(sorted(zones)) for key, zones in offered.items()},
        {key: tuple(sorted(zones)) for key, zones in region_zones.items()},
    )


def _read_gcp_zones(path: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """(machine or TPU type, region) -> names of the zones that offer it."""
    offered: dict[tuple[str, str], list[str]] = {}
    for _, row in _rows(path):
        offered.setdefault((row["instance_type"], row["region"]), []).append(row["zone"])
    return {key: tuple(sorted(zones)) for key, zones in offered.items()}


def _gcp_region_zones(offerings: Iterable[Offering]) -> dict[str, tuple[str, ...]]:
    """Region key -> every zone a GCP offering of the region names (the data lists no other GCP zones)."""
    zones: dict[str, set[str]] = {}
    for o in offerings:
        if o.cloud == "gcp":
            zones.setdefault(f"gcp:{o.region}", set()).update(o.zones)
    return {key: tuple(sorted(names)) for key, names in zones.items()}


def accelerator_vendor(accelerator: str, specs: dict[str, AcceleratorSpec]) -> str | None:
    """The chip's vendor: from its spec row, else from the dated table above; None if unknown."""
    spec = specs.get(accelerator)
    return spec.vendor if spec else _VENDOR_WITHOUT_SPEC.get(accelerator)


def _zone_reason(row: dict[str, str], specs: dict[str, AcceleratorSpec], zones: tuple[str, ...]) -> str | None:
    """Why a row that passed the cloud-neutral checks still cannot be placed, for clouds with zone data."""
    if row["cloud"] == "aws":
        return _aws_reason(row, specs, zones)
    if row["cloud"] == "gcp" and not zones:
        # A GKE node pool lists its node locations; without a zone that offers the type there is none to list.
        return "no zone offers it in SkyPilot's GCP catalog (gcp_zone_offerings.csv); a node pool needs one"
    return None


def _aws_reason(row: dict[str, str], specs: dict[str, AcceleratorSpec], zones: tuple[str, ...]) -> str | None:
    if not zones:
        return "no availability zone offers it in the EC2 offerings data (aws_az_offerings.csv)"
    vendor = accelerator_vendor(_spec_name(row), specs)
    if vendor not in _EKS_ACCELERATOR_VENDORS:
        return f"EKS has no accelerated AMI type for {vendor or 'unknown-vendor'} accelerators"
    return None


def _exclusion_reason(row: dict[str, str], regions: dict[str, Region]) -> str | None:
    if not row["hourly_usd"]:
        return "no on-demand price in the source"
    if row["offering"] == "attachable_gpu":
        return "attachable GPU priced per GPU only; the N1 host VM price is not in the catalog"
    if not row["accelerator_count"]:
        return "accelerator count unknown in the source"
    count = float(row["accelerator_count"])
    if count < 1 or count != int(count):
        return "fractional GPU partition; not schedulable as whole accelerators"
    host_limit = _TPU_CHIPS_PER_HOST.get(row["accelerator"])
    if row["offering"] == "tpu_slice" and (host_limit is None or count > host_limit):
        return "multi-host TPU slice (or TPU generation without single-host serving)"
    if f"{row['cloud']}:{row['region']}" not in regions:
        return "region has no coordinates in regions.csv"
    return None


def _offering(
    row: dict[str, str], line: int, specs: dict[str, AcceleratorSpec], spot_savings: dict[tuple[str, str], int]
) -> Offering:
    cloud = _cloud(row, "accelerators.csv", line)
    accelerator = _spec_name(row)
    spec = specs.get(accelerator)
    memory = _opt_num(row, "accelerator_memory_gib", "accelerators.csv", line)
    price = _num(row, "hourly_usd", "accelerators.csv", line)
    spot = _opt_num(row, "spot_hourly_usd", "accelerators.csv", line)
    spot_basis: str | None = "published spot price (GCP)" if spot is not None else None
    savings = spot_savings.get((row["instance_type"], row["region"]))
    if cloud == "aws" and savings is not None:
        # The advisor publishes a saving, not a price (regions/data/README.md section 2).
        spot = round(price * (1 - savings / 100), 6)
        spot_basis = f"estimate: on-demand less the {savings}% AWS Spot Instance Advisor saving (2025-06)"
    return Offering(
        cloud=cloud,
        region=row["region"],
        instance_type=row["instance_type"],
        kind="tpu_slice" if row["offering"] == "tpu_slice" else "vm",
        accelerator=accelerator,
        accelerator_count=int(float(row["accelerator_count"])),
        accelerator_memory_gib=spec.memory_gib if spec else memory,
        usd_per_hour=price,
        spot_usd_per_hour=spot,
        spot_basis=spot_basis,
        price_source=row["price_source"],
        confidence=row["confidence"],
    )


def _spec_name(row: dict[str, str]) -> str:
    name = row["accelerator"]
    if row["cloud"] == "azure":
        for pattern, spec in _AZURE_SPEC_BY_SKU:
            if pattern.match(row["instance_type"]):
                return spec
    if name == "A100" and row["accelerator_memory_gib"] and float(row["accelerator_memory_gib"]) >= 80:
        return "A100-80GB"
    return _SPEC_ALIASES.get(name, name)


def _rows(path: Path) -> Iterable[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from enumerate(csv.DictReader(handle), start=2)


def _num(row: dict[str, str], column: str, file: str, line: int) -> float:
    value = _opt_num(row, column, file, line)
    if value is None:
        raise ValueError(f"{file} line {line}: column {column!r} is empty; expected a number")
    return value


def _opt_num(row: dict[str, str], column: str, file: str, line: int) -> float | None:
    if column not in row:
        raise ValueError(f"{file}: missing column {column!r}")
    raw = row[column].strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{file} line {line}: column {column!r} is {raw!r}; expected a number") from None


def _cloud(row: dict[str, str], file: str, line: int) -> Cloud:
    cloud = row["cloud"]
    if cloud not in CLOUDS:
        raise ValueError(f"{file} line {line}: cloud {cloud!r} is not one of {', '.join(CLOUDS)}")
    return cloud  # narrowed by the membership test above


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


_QUOTE = reprlib.Repr()
_QUOTE.maxstring = 60
_MAX_SUGGESTED_LENGTH = 100  # longer input is no typo of a name; comparing it would only cost time


def quoted(value: str) -> str:
    """``repr`` of a user-supplied name, shortened to about 60 characters so that messages stay bounded."""
    return _QUOTE.repr(value)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'a', 'b'?"`` with up to three close matches (case-insensitive), or ``""``."""
    if len(name) > _MAX_SUGGESTED_LENGTH:
        return ""
    by_fold: dict[str, str] = {}
    for candidate in known:
        by_fold.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(by_fold[c]) for c in close)}?" if close else ""
