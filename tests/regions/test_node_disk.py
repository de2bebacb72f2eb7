"""Every replica caches its model's weights on its node's disk: the planner gives each node the disk
its replicas need and prices it, and the fleet builds that disk."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from regions.catalog import load_catalog
from regions.footprint import (
    AKS_OS_DISK_GIB,
    OS_AND_IMAGES_GIB,
    ROOT_DISK_GIB,
    footprint_of,
    node_disk_gib,
    node_disk_limit_gib,
)
from regions.placement import PlacementError, place_fleet
from regions.settings import PlacementSettings
from tests.helpers import BASE_PROFILE
from tests.regions.test_pipeline_sizing import LLAMA_405B, SLO
from workloads.loading import deep_merge, load_profile
from workloads.profiles import WorkloadProfile, weights_gb


def test_a_node_disk_holds_the_os_and_every_replicas_download():
    # Small downloads fit the default disk; more replicas on a node need more of it.
    assert node_disk_gib("aws", 14.2, 1, 1) == ROOT_DISK_GIB
    assert node_disk_gib("gcp", 3.1, 56, 1) == OS_AND_IMAGES_GIB + 56 * 4  # 3.1 GB and a quarter, rounded up
    # A replica spanning nodes downloads the whole model on each of its nodes (Llama 3.1 405B, bf16).
    assert node_disk_gib("aws", 811.8, 1, 2) == OS_AND_IMAGES_GIB + 1015
    assert node_disk_gib("aws", None, 8, 1) == ROOT_DISK_GIB  # nothing known to download
    # On AKS, what the kubelet's disk holds: no root-disk floor (the OS disk is 128 GiB).
    assert node_disk_gib("azure", 141.2, 1, 1) == OS_AND_IMAGES_GIB + 177
    assert node_disk_gib("azure", 14.2, 1, 1) == OS_AND_IMAGES_GIB + 18 <= AKS_OS_DISK_GIB


def test_an_aks_node_holds_on_its_os_disk_or_its_one_resource_disk():
    catalog = load_catalog()
    # ND H100 v5: one 1,024 GiB temporary disk beside its NVMe (Microsoft's ND-H100-v5 size page).
    assert node_disk_limit_gib("azure", catalog.temp_disks["Standard_ND96isr_H100_v5"]) == 1024
    # NC H100 v5: the temporary disk is NVMe, which AKS does not put kubelet data on: the OS disk only.
    assert "Standard_NC40ads_H100_v5" not in catalog.temp_disks
    assert node_disk_limit_gib("azure", catalog.temp_disks.get("Standard_NC40ads_H100_v5")) == AKS_OS_DISK_GIB
    # NVads V710 v5: several temporary disks whose size the page does not split: not counted.
    assert "Standard_NV12ads_V710_v5" not in catalog.temp_disks
    # A small temporary disk leaves the OS disk the larger (NC24ads A100 v4: 64 GiB).
    assert node_disk_limit_gib("azure", catalog.temp_disks["Standard_NC24ads_A100_v4"]) == AKS_OS_DISK_GIB
    assert node_disk_limit_gib("aws", None) == node_disk_limit_gib("gcp", None) == math.inf


def test_the_planner_places_a_model_on_aks_only_where_a_disk_holds_its_download(project_root):
    # The 70B chat assistant downloads ~89 GB: beside the images, more than the OS disk holds.
    chat = load_profile(
        project_root / "workloads" / "examples" / "chat-assistant-70b.yaml",
        # ND H100 v5 nodes cost more than its budget: the budget follows.
        {"placement": {"clouds": ["azure"], "accelerators": ["H100", "H100-NVL"]}, "budget": {"monthly_usd": 400000}},
    )
    catalog = load_catalog()
    plan = place_fleet([chat], catalog, PlacementSettings())
    rows = plan.workloads[0].rows
    assert rows
    for row in rows:
        option = row.choice.option
        assert option.disk_gib > AKS_OS_DISK_GIB
        assert catalog.temp_disks[option.offering.instance_type] >= option.disk_gib
    # Only on NC H100 v5 (whose only local disk is NVMe) it cannot be placed.
    nvl_only = chat.model_copy(update={"placement": chat.placement.model_copy(update={"accelerators": ["H100-NVL"]})})
    with pytest.raises(PlacementError) as error:
        place_fleet([nvl_only], catalog, PlacementSettings())
    # The diagnosis says so: disks alone bind, and by how much.
    first = error.value.diagnoses[0]
    assert (first.constraint, first.setting, first.current) == ("node_disk", "placement.accelerators", ("H100-NVL",))
    need = node_disk_gib("azure", weights_gb(chat.model), 1, 1)
    assert f"{need:,} GiB per node" in first.problem and f"{AKS_OS_DISK_GIB} GiB OS disk" in first.problem
    # Where the sizes' disks would hold it, it places: nothing else binds.
    nc_h100 = ("Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5")
    roomy = replace(catalog, temp_disks={**catalog.temp_disks, **dict.fromkeys(nc_h100, 10**6)})
    assert place_fleet([nvl_only], roomy, PlacementSettings()).workloads


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
        assert option.disk_gib >= OS_AND_IMAGES_GIB + 811.8 * 1.25
        assert option.disk_gib <= node_disk_limit_gib(
            row.region.cloud, catalog.temp_disks.get(option.offering.instance_type)
        )
        assert footprint.per_node(row.region.key, option.disk_gib) > footprint.per_node(row.region.key)
