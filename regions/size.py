"""What one node of each offering delivers for a profile's model: ``tensorfleet size``.

For every instance type of the catalog (at its cheapest on-demand region), the sizing model's best
point within the profile's SLO: replica shape, concurrency and load at peak, requests and tokens per
second per node, p95 TTFT and end-to-end time (queueing included), TPOT, the nodes one region needs
at peak, and the price of a million tokens. Figures are service-side: placement adds each user
geography's network round trip, and spreads nodes over regions for availability.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from regions.catalog import Catalog, Offering
from regions.options import stage_points
from regions.settings import PlacementSettings
from workloads.profiles import CascadeStage, LlmModel, WorkloadProfile

__all__ = ["SCHEMA", "NodeSizing", "StageSizing", "size_profile", "to_json"]

SCHEMA = "tensorfleet.size/v1"


@dataclass(frozen=True, kw_only=True)
class NodeSizing:
    """One offering's best point for one stage (keys of the JSON document, ``tensorfleet.size/v1``)."""

    instance_type: str
    cloud: str
    region: str
    """The region with the lowest on-demand price for this instance type."""
    accelerator: str
    accelerators_per_node: int
    hourly_usd: float
    accelerators_per_replica: int
    replicas_per_node: int
    concurrency: int
    """Sequences each replica runs at once."""
    utilisation: float
    """Share of the replica's capacity used at peak (the rest keeps queueing within the SLO)."""
    requests_per_s: float
    """Per node, at peak load."""
    tokens_per_s: float
    """Prompt plus output tokens processed per second, per node."""
    output_tokens_per_s: float
    ttft_p95_ms: float | None
    """p95 time to first token, queueing included (LLMs)."""
    tpot_ms: float | None
    e2e_p95_ms: float
    nodes_at_peak: int
    """Nodes one region needs for the profile's peak (no standby, no network)."""
    usd_per_million_tokens: float
    usd_per_million_output_tokens: float | None


@dataclass(frozen=True, kw_only=True)
class StageSizing:
    stage: str
    share: float
    offerings: tuple[NodeSizing, ...]
    """Best first: cheapest per million tokens."""


def size_profile(
    profile: WorkloadProfile, catalog: Catalog, settings: PlacementSettings, instance_type: str | None = None
) -> list[StageSizing]:
    """Per served stage, every offering (or the one named) that meets the SLO, cheapest tokens first."""
    offerings = list(_cheapest_by_type(catalog, instance_type))
    stages = []
    for stage in profile.stages:
        rows = [row for offering in offerings if (row := _size(stage, profile, catalog, settings, offering))]
        rows.sort(key=lambda r: (r.usd_per_million_tokens, r.instance_type))
        stages.append(StageSizing(stage=stage.name, share=stage.share, offerings=tuple(rows)))
    return stages


def to_json(profile: WorkloadProfile, stages: list[StageSizing]) -> dict[str, object]:
    """The documented, stable JSON form (``tensorfleet.size/v1``)."""
    slo = profile.slo
    return {
        "schema": SCHEMA,
        "profile": profile.name,
        "slo": {
            "p95_latency_ms": slo.p95_latency_ms,
            "ttft_p95_ms": slo.ttft_p95_ms,
            "tpot_p95_ms": slo.tpot_p95_ms,
            "peak_rps": slo.peak_rps,
            "tokens_in": slo.tokens_in,
            "tokens_out": slo.tokens_out,
        },
        "stages": [
            {"stage": s.stage, "share": s.share, "offerings": [_rounded(asdict(o)) for o in s.offerings]}
            for s in stages
        ],
    }


def _cheapest_by_type(catalog: Catalog, instance_type: str | None) -> Iterator[Offering]:
    best: dict[tuple[str, str], Offering] = {}
    for offering in catalog.offerings:
        if instance_type is not None and offering.instance_type != instance_type:
            continue
        key = (offering.cloud, offering.instance_type)
        if key not in best or (offering.usd_per_hour, offering.region) < (best[key].usd_per_hour, best[key].region):
            best[key] = offering
    return iter(sorted(best.values(), key=lambda o: (o.cloud, o.instance_type)))


def _size(
    stage: CascadeStage, profile: WorkloadProfile, catalog: Catalog, settings: PlacementSettings, offering: Offering
) -> NodeSizing | None:
    points = stage_points(stage, profile, catalog, offering.accelerator, offering.accelerator_count, settings)
    if not points:
        return None
    best = max(points, key=lambda p: (p.node_rps, -p.service_ms))  # the most a node does within the SLO
    slo = profile.slo
    peak = slo.peak_rps * stage.share
    tokens_per_request = slo.tokens_in + slo.tokens_out
    llm = isinstance(stage.model, LlmModel)
    per_hour_tokens = best.node_rps * tokens_per_request * 3600
    return NodeSizing(
        instance_type=offering.instance_type,
        cloud=offering.cloud,
        region=offering.region,
        accelerator=offering.accelerator,
        accelerators_per_node=offering.accelerator_count,
        hourly_usd=offering.usd_per_hour,
        accelerators_per_replica=best.accelerators_per_replica,
        replicas_per_node=best.replicas_per_node,
        concurrency=best.batch,
        utilisation=best.utilisation,
        requests_per_s=best.node_rps,
        tokens_per_s=best.node_rps * tokens_per_request,
        output_tokens_per_s=best.node_rps * slo.tokens_out,
        ttft_p95_ms=best.ttft_ms if llm else None,
        tpot_ms=best.tpot_ms if llm and slo.tokens_out else None,
        e2e_p95_ms=best.e2e_ms,
        nodes_at_peak=max(1, math.ceil(peak / best.node_rps)),
        usd_per_million_tokens=offering.usd_per_hour / per_hour_tokens * 1e6,
        usd_per_million_output_tokens=(
            offering.usd_per_hour / (best.node_rps * slo.tokens_out * 3600) * 1e6 if slo.tokens_out else None
        ),
    )


def _rounded(row: dict[str, object]) -> dict[str, object]:
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in row.items()}  # 6 significant digits
