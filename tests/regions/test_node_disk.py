"""Every replica caches its model's weights on its node's disk: the planner gives each node the disk
its replicas need and prices it, and the fleet builds that disk."""

from __future__ import annotations

import pytest

from regions.catalog import load_catalog
from regions.footprint import AKS_OS_DISK_GIB, OS_AND_IMAGES_GIB, ROOT_DISK_GIB, footprint_of, node_disk_gib
from regions.placement import place_fleet
from regions.settings import PlacementSettings
from tests.helpers import BASE_PROFILE
from tests.regions.test_pipeline_sizing import LLAMA_405B, SLO
from workloads.loading import deep_merge
from workloads.profiles import WorkloadProfile, weights_gb


def test_a_node_disk_holds_the_os_and_every_replicas_download():
    # Small downloads fit the default disk; more replicas on a node need more of it.
    assert node_disk_gib("aws", 14.2, 1, 1) == ROOT_DISK_GIB
    assert node_disk_gib("gcp", 3.1, 56, 1) == OS_AND_IMAGES_GIB + 56 * 4  # 3.1 GB and a quarter, rounded up
    # A replica spanning nodes downloads the whole model on each of its nodes (Llama 3.1 405B, bf16).
    assert node_disk_gib("aws", 811.8, 1, 2) == OS_AND_IMAGES_GIB + 1015
    assert node_disk_gib("aws", None, 8, 1) == ROOT_DISK_GIB  # nothing known to download
    assert node_disk_gib("azure", 141.2, 1, 1) == AKS_OS_DISK_GIB  # not sized on AKS yet


def test_the_disk_a_node_needs_is_priced_per_gib():
    footprint = footprint_of(load_catalog(), PlacementSettings().fleet)
    base, larger = footprint.per_node("aws:us-east-1"), footprint.per_node("aws:us-east-1", 1115)
    # gp3 at $0.08 per GB-month in us-east-1 (regions/data/service_prices.csv).
    assert larger - base == pytest.approx((1115 - ROOT_DISK_GIB) * 0.08)


def test_a_model_spanning_nodes_gets_disks_that_hold_it_and_pays_for_them():
    fields = deep_merge(
        BASE_PROFILE,
        {"name": "research", "slo": SLO.model_dump(exclude_none=True), "placement": {"accelerators": ["h100"]},
         "capacity": {"on_demand": True, "spot": False}, "scaling": {"min_replicas": 1, "max_replicas": 3}},
    )  # fmt: skip
    research = WorkloadProfile.model_validate({**fields, "model": LLAMA_405B.model_dump()})
    catalog = load_catalog()
    plan = place_fleet([research], catalog, PlacementSettings())
    (workload,) = plan.workloads
    footprint = footprint_of(catalog, PlacementSettings().fleet)
    for row in workload.rows:
        option = row.choice.option
        assert option.point.nodes_per_replica >= 2
        assert option.disk_gib == node_disk_gib(row.region.cloud, weights_gb(research.model), 1, 2)
        if row.region.cloud != "azure":
            assert option.disk_gib >= OS_AND_IMAGES_GIB + 811.8 * 1.25
            assert footprint.per_node(row.region.key, option.disk_gib) > footprint.per_node(row.region.key)
