"""Explanations: the runner-up region, every equally good one, and why there is none."""

from __future__ import annotations

from regions.explain import explain
from regions.placement import place_fleet
from regions.settings import PlacementSettings
from tests.helpers import offering, profile, region, spec, tiny_catalog

# Three identical regions at one spot: any of them is as good as the others.
TWINS = [region("aws", code, 40.7, -74.0, 300.0, "US") for code in ("a", "b", "c")]
FAR = region("gcp", "far", -33.9, 151.2, 300.0, "AU")


def _reason(regions, prof):
    catalog = tiny_catalog(
        regions, [offering(r.cloud, r.code, f"l4.{r.code}", "L4", 1, 1.0) for r in regions], [spec("L4")]
    )
    plan = place_fleet([prof], catalog, PlacementSettings(objective="cost")).workloads[0]
    (row,) = plan.rows
    return row.region.code, explain(plan)[(row.region.key, row.choice.stage)]


def test_every_equally_good_runner_up_is_named():
    chosen, reason = _reason(TWINS, profile(slo={"p95_latency_ms": 5000}))
    others = sorted(f"aws:{c}" for c in ("a", "b", "c") if c != chosen)
    assert f"equally good runner-up regions: {', '.join(others)} at $" in reason
    assert reason.endswith("(+$0, +0 kgCO2/mo)")


def test_no_runner_up_says_why():
    # Only the nearby region reaches the users within 50 ms; Sydney cannot serve them at all.
    _, reason = _reason([TWINS[0], FAR], profile(slo={"p95_latency_ms": 100}))
    assert "no other region can serve the same users within the SLO" in reason
