"""The one price formula: what a node, a cluster, a gateway, a key, a disk or a bucket costs per month.

The planner, the plan report and the policy pack all price through this module, so the three can
never disagree. Node prices come from the accelerator catalog (:mod:`regions.catalog`); every other
billable resource from ``regions/data/service_prices.csv``, one sourced list price per cloud,
region and item. Usage-based items (NAT traffic, log ingestion) multiply that price by a stated
assumption (:class:`UsageAssumptions`) that a stack may override.

Where the data has no price for the resource's own region, the item's price in another sourced
region of the same cloud stands in (the highest, when several do) and the line says so: regional
list prices differ by a few per cent to a few tens of per cent, which the line makes visible
rather than hides.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from regions.catalog import DATA_DIR, Offering

__all__ = [
    "HOURS_PER_MONTH",
    "PRICES_FILE",
    "Price",
    "PriceBook",
    "UnpricedItem",
    "UsageAssumptions",
    "load_price_book",
    "node_hourly_usd",
    "node_monthly_usd",
]

HOURS_PER_MONTH = 730.0
"""8760 hours / 12 months, the convention of the AWS and Google Cloud pricing calculators."""
PRICES_FILE = DATA_DIR / "service_prices.csv"
ANY_REGION = "*"
"""Region of a price that holds in every region of its cloud (a global service, a flat fee)."""


class UnpricedItem(LookupError):
    """No sourced price for an item on a cloud: the data file needs a row."""


@dataclass(frozen=True, slots=True)
class Price:
    """One sourced list price, and the region it was read for."""

    cloud: str
    item: str
    unit: str
    usd: float
    priced_in: str
    """The region the price is for (``*``: every region); differs from the billed region when the
    data has no price for that region."""
    source: str

    def basis(self, region: str) -> str:
        """The line's source, saying when another region's price stands in."""
        if self.priced_in in (region, ANY_REGION):
            return self.source
        return f"{self.priced_in} list price (no sourced {region} price): {self.source}"


@dataclass(frozen=True)
class PriceBook:
    """Sourced list prices by (cloud, region, item)."""

    prices: dict[tuple[str, str, str], Price]

    def price(self, cloud: str, region: str, item: str) -> Price:
        """The item's price in ``region``; else its every-region price; else the highest sourced elsewhere.

        Raises:
            UnpricedItem: the cloud has no sourced price for the item at all.
        """
        for key in ((cloud, region, item), (cloud, ANY_REGION, item)):
            if key in self.prices:
                return self.prices[key]
        dearest = self._dearest.get((cloud, item))
        if dearest is None:
            raise UnpricedItem(f"no sourced price for {cloud} {item} in {PRICES_FILE.name}")
        return dearest

    @functools.cached_property
    def _dearest(self) -> dict[tuple[str, str], Price]:
        """Per (cloud, item), the highest sourced price in any region: the stand-in where a region has none."""
        dearest: dict[tuple[str, str], Price] = {}
        for (cloud, _, item), price in self.prices.items():
            known = dearest.get((cloud, item))
            if known is None or (price.usd, price.priced_in) > (known.usd, known.priced_in):
                dearest[(cloud, item)] = price
        return dearest


@functools.cache
def load_price_book(path: Path = PRICES_FILE) -> PriceBook:
    """Reads the price file once per process (it is a few dozen rows)."""
    prices: dict[tuple[str, str, str], Price] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["cloud"], row["region"], row["item"])
            if key in prices:
                raise ValueError(f"{path.name}: {key} is priced twice")
            prices[key] = Price(
                cloud=row["cloud"],
                item=row["item"],
                unit=row["unit"],
                usd=float(row["usd_per_unit"]),
                priced_in=row["region"],
                source=f"{row['source_title']} ({row['source_date']}) {row['source_url']}",
            )
    return PriceBook(prices)


@dataclass(frozen=True, kw_only=True)
class UsageAssumptions:
    """Usage behind the usage-priced items; each default is an assumption, stated as one, and a
    stack overrides it with ``tensorfleet:usage``."""

    nat_gb_per_gateway_month: float = 100.0
    """Data each NAT gateway processes per month, GB. Assumed: container image pulls and telemetry.
    Model weights do not pass the NAT: nodes read them from the region's bucket through the VPC's
    S3 gateway endpoint, which is free."""
    control_plane_log_gb_per_cluster_month: float = 30.0
    """Control-plane logs (API, audit, authenticator, controller manager, scheduler) each cluster
    sends to the cloud's log service per month, GB. Assumed: audit logs dominate and grow with API
    traffic; a busy cluster can send several times this."""
    artifact_versions: int = 1
    """Versions of each model's weights kept in the artifact bucket (versioning keeps old ones)."""


def node_hourly_usd(offering: Offering, capacity: Literal["on-demand", "spot"]) -> float | None:
    """A node's list price per hour; None for spot where the catalog has no spot figure."""
    return offering.usd_per_hour if capacity == "on-demand" else offering.spot_usd_per_hour


def node_monthly_usd(hourly_usd: Any, nodes: Any) -> Any:
    """``nodes`` nodes running all month (scalars or NumPy arrays alike)."""
    return nodes * hourly_usd * HOURS_PER_MONTH
