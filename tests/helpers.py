"""Builders shared by the tests: tiny inline catalogs and profiles."""

from __future__ import annotations

from typing import Any

from regions.catalog import AcceleratorSpec, Catalog, Offering, Region
from workloads.loading import deep_merge
from workloads.profiles import WorkloadProfile

PUE = {"aws": 1.135, "gcp": 1.1, "azure": 1.185}  # the values of regions/data/pue.csv


def region(cloud: str, code: str, lat: float, lon: float, grid: float | None, country: str = "US") -> Region:
    return Region(cloud, code, code, country, lat, lon, grid, "test", PUE[cloud])  # type: ignore[arg-type]


def offering(
    cloud: str,
    code: str,
    instance_type: str,
    accelerator: str,
    count: int,
    usd: float,
    spot: float | None = None,
) -> Offering:
    return Offering(
        cloud=cloud,  # type: ignore[arg-type]
        region=code,
        instance_type=instance_type,
        kind="vm",
        accelerator=accelerator,
        accelerator_count=count,
        accelerator_memory_gib=24.0,
        usd_per_hour=usd,
        spot_usd_per_hour=spot,
        spot_basis=None if spot is None else "test",
        price_source="test",
        confidence="high",
    )


def spec(name: str, tdp: float | None = 72.0) -> AcceleratorSpec:
    return AcceleratorSpec(name, "NVIDIA", 24.0, 300.0, 121.0, 242.0, tdp, "test")


def tiny_catalog(regions: list[Region], offerings: list[Offering], specs: list[AcceleratorSpec]) -> Catalog:
    return Catalog(
        offerings=tuple(offerings), regions={r.key: r for r in regions}, specs={s.name: s for s in specs}, excluded=()
    )


BASE_PROFILE: dict[str, Any] = {
    "name": "svc",
    "owner": "team",
    "tenant": "tenant",
    "model": {
        "kind": "measured",
        "name": "vision",
        "throughput": [{"accelerator": "L4", "requests_per_second": 10, "p95_latency_ms": 50}],
    },
    "slo": {"p95_latency_ms": 200, "steady_rps": 25, "peak_rps": 60, "availability": 0.99},
    "budget": {"monthly_usd": 1_000_000},
    "placement": {"min_regions": 1, "users": [{"name": "east", "latitude": 40.7, "longitude": -74.0, "share": 1.0}]},
}


def profile(**overrides: Any) -> WorkloadProfile:
    """BASE_PROFILE with nested overrides merged in, validated as a model only: tiny catalogs name
    regions the bundled catalog does not, and placement checks names against the catalog it is given."""
    return WorkloadProfile.model_validate(deep_merge(BASE_PROFILE, overrides))
