"""Great-circle distance and the network round-trip estimate used for latency constraints.

Region coordinates come from ``regions/data/regions.csv`` (SpareCores region dumps, cross-checked
against Google's region-picker for GCP; some are city or country centroids, flagged per row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LatencyModel", "great_circle_km"]

# As of 2026-11. Mean Earth radius, km: IUGG value R1 (Moritz, "Geodetic Reference System 1980").
EARTH_RADIUS_KM = 6371.0088
# Speed of light in vacuum, km per millisecond (exact by SI definition).
LIGHT_KM_PER_MS = 299.792458
# Group index of standard single-mode fibre at 1550 nm (Corning SMF-28 datasheet: 1.4682).
FIBRE_GROUP_INDEX = 1.4682


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance between two WGS84 points, km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, kw_only=True)
class LatencyModel:
    """Round trip = 2 x distance x path stretch at the speed of light in fibre.

    ``path_stretch`` is a planning assumption, not a measurement: fibre routes are longer than
    the great circle. Set it per stack (``tensorfleet:latency``) from your own RTT measurements.
    """

    path_stretch: float = 2.0
    """Route length over great-circle length. Default 2.0, deliberately conservative."""

    def rtt_ms(self, distance_km: float) -> float:
        """Round-trip propagation time for a great-circle distance, ms."""
        return 2 * distance_km * self.path_stretch * FIBRE_GROUP_INDEX / LIGHT_KM_PER_MS
