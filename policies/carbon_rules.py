"""carbon-aware-region: no accelerator capacity on a grid dirtier than its workload's cap, unless exempt."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

import fleet_facts
from regions.catalog import Catalog, load_catalog


def validate_carbon_aware_region(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each pool's region grid intensity (catalog) against its workload's cap or the configured default."""
    catalog = load_catalog()
    pools = fleet_facts.pools(args.resources, catalog)
    if not pools:
        args.not_applicable("the stack has no accelerator capacity")
    config = args.get_config()
    default_cap = config.get("maxGco2PerKwh")
    exempt = set(config.get("exemptWorkloads") or [])
    facts = fleet_facts.workloads(args.resources)
    for pool in pools:
        if pool.workload in exempt or pool.region is None:
            continue
        cap = (facts.get(pool.workload or "") or {}).get("maxGco2PerKwh") or default_cap
        if cap is None:
            continue
        region = catalog.regions.get(f"{pool.cloud}:{pool.region}")
        grid = None if region is None else region.grid_gco2_per_kwh
        if grid is None:
            report_violation(
                f"node pool '{pool.resource.name}' runs in {pool.cloud}:{pool.region}, whose grid intensity no source "
                f"publishes, so the cap of {cap:g} gCO2/kWh cannot be shown to hold. {_greener(catalog, pool, cap)}",
                pool.resource.urn,
            )
        elif grid > cap:
            report_violation(
                f"node pool '{pool.resource.name}' (workload '{pool.workload}') runs in {pool.cloud}:{pool.region} at "
                f"{grid:g} gCO2/kWh, above the cap of {cap:g}. {_greener(catalog, pool, cap)}",
                pool.resource.urn,
            )


def _greener(catalog: Catalog, pool: fleet_facts.Pool, cap: float) -> str:
    """The greenest region of the same cloud that offers the pool's instance type under the cap."""
    candidates = [
        catalog.regions[f"{o.cloud}:{o.region}"]
        for o in catalog.offerings
        if o.cloud == pool.cloud and o.instance_type == pool.instance_type
    ]
    under = sorted((r for r in candidates if r.grid_gco2_per_kwh is not None and r.grid_gco2_per_kwh <= cap),
                   key=lambda r: (r.grid_gco2_per_kwh, r.code))  # fmt: skip
    if not under:
        return f"No {pool.cloud} region offers {pool.instance_type} under the cap; exempt the workload or change it."
    best = under[0]
    return (
        f"Greenest {pool.cloud} region offering {pool.instance_type}: {best.code} "
        f"({best.grid_gco2_per_kwh:g} gCO2/kWh); check its latency and residency with tensorfleet place before moving."
    )


carbon_aware_region = StackValidationPolicy(
    name="carbon-aware-region",
    description="Accelerator capacity runs only on grids at or below its workload's carbon cap.",
    validate=validate_carbon_aware_region,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxGco2PerKwh": {"type": "number", "minimum": 0, "description": "Cap for workloads without their own."},
            "exemptWorkloads": {"type": "array", "items": {"type": "string"}, "description": "Workloads to skip."},
        }
    ),
    severity=Severity.MEDIUM,
    remediation_steps="Move the pool to a cleaner region (the message names the greenest one), raise the workload's "
    "carbon.max_gco2_per_kwh, or list the workload under exemptWorkloads.",
)
