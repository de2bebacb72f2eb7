"""Stack-wide placement settings and the objective functions they select."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from regions.catalog import CLOUDS, Cloud
from regions.footprint import FleetLayout
from regions.geo import LatencyModel
from regions.quotas import AcceleratorQuota
from regions.sizing import SizingAssumptions
from workloads.profiles import WorkloadProfile

__all__ = [
    "CapacityType",
    "Objective",
    "PlacementSettings",
    "carbon_counts",
    "carbon_price",
    "cheapest_settings",
    "objective_value",
]

Objective = Literal["cost", "carbon", "balanced"]
CapacityType = Literal["on-demand", "spot"]


@dataclass(frozen=True, kw_only=True)
class PlacementSettings:
    """Stack-wide inputs to placement (read from stack config in stacks/)."""

    objective: Objective = "balanced"
    """``cost``: USD. ``carbon``: kgCO2, then USD. ``balanced``: USD + carbon price x tCO2."""
    stack_budget_monthly_usd: float | None = None
    """Ceiling on the sum of all workloads' monthly cost. Default: none."""
    carbon_price_usd_per_tonne: float = 0.0
    """Carbon price for profiles that set none. Default: 0 (carbon is then free in ``balanced``)."""
    hipaa_clouds: tuple[Cloud, ...] = CLOUDS
    """Clouds under a signed business associate agreement. Default: all three."""
    latency: LatencyModel = field(default_factory=LatencyModel)
    sizing: SizingAssumptions = field(default_factory=SizingAssumptions)
    fleet: FleetLayout = field(default_factory=FleetLayout)
    """What each opened region builds and the usage behind its usage-priced items: the planner
    counts these costs beside the nodes' (:mod:`regions.footprint`)."""
    quotas: tuple[AcceleratorQuota, ...] = ()
    """Accelerators each (region, accelerator) may run at peak, summed over every workload
    (:mod:`regions.quotas`). Default: none."""
    assumed_power_watts: Mapping[str, float] = field(default_factory=dict)
    """Power per chip to assume where the spec sheet publishes none (Neuron, TPU). Default: none, so
    those chips have unknown carbon and are placed only when carbon does not enter the decision."""
    power_utilisation: float = 1.0
    """Average draw as a share of TDP. Default 1.0: TDP all month, an upper bound."""
    known_carbon_only: bool = False
    """Leave out options of unknown carbon even where carbon does not enter the objective. Diagnoses
    set it to find the cheapest plan among the options the workload's own objective may use."""


def carbon_price(profile: WorkloadProfile, settings: PlacementSettings) -> float:
    """The workload's carbon price, USD per tonne (its own, else the stack's)."""
    own = profile.carbon.price_usd_per_tonne
    return settings.carbon_price_usd_per_tonne if own is None else own


def carbon_counts(profile: WorkloadProfile, settings: PlacementSettings) -> bool:
    """Whether carbon enters this workload's decision (so unknown carbon must be excluded)."""
    return settings.objective == "carbon" or (settings.objective == "balanced" and carbon_price(profile, settings) > 0)


def cheapest_settings(profile: WorkloadProfile, settings: PlacementSettings) -> PlacementSettings:
    """Settings that find the workload's cheapest plan among the options its own settings allow."""
    return replace(settings, objective="cost", known_carbon_only=carbon_counts(profile, settings))


def objective_value(objective: Objective, usd: Any, kgco2: Any, price_usd_per_tonne: float) -> Any:
    """The quantity the solver minimises (scalars or NumPy arrays alike)."""
    if objective == "cost":
        return usd
    if objective == "carbon":
        return kgco2
    return usd + price_usd_per_tonne * kgco2 / 1000
