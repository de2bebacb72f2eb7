"""The planner, the plan's bill and the components agree on the whole monthly bill of every example stack."""

from __future__ import annotations

from collections import defaultdict

import pytest

from regions.bill import PLACEMENT_TYPE
from regions.catalog import load_catalog
from regions.footprint import ROOT_DISK_GIB, FleetLayout, footprint_of
from regions.pricing import UsageAssumptions
from tensorfleet.engine import read_stack_config
from tensorfleet.program_config import decode_value
from tensorfleet.report import build_plan
from tensorfleet.stack_config import parse_stack_config
from tests.conftest import ENVIRONMENTS, example_run

NODE_EXTRAS = {"aws:ec2/launchTemplate:LaunchTemplate"}
STORAGE = {"aws:s3/bucket:Bucket"}


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def stack(request):
    config, _ = read_stack_config(request.param)
    run = example_run(request.param)
    return request.param, config, run, build_plan(request.param, run)


def test_the_planners_whole_cost_is_the_plans_bill(stack):
    """What the planner minimised and held against the budget is what the bill adds up to."""
    _, _, run, plan = stack
    assert plan["totals"]["monthly_usd"] == pytest.approx(run.outputs["totals"]["monthlyUsd"], abs=0.5)
    assert plan["totals"]["monthly_usd"] > plan["totals"]["accelerators_monthly_usd"]


def test_each_aws_regions_fixed_cost_is_what_its_resources_cost(stack):
    """The footprint the planner charges for opening an AWS region is what the region's fleet
    registers: cluster, logs, key, NAT gateways and their addresses (nodes, disks and storage aside)."""
    name, config, _, plan = stack
    values = {k.removeprefix("tensorfleet:"): v for k, v in config.items() if k.startswith("tensorfleet:")}
    parsed = parse_stack_config({k: decode_value(k, v) for k, v in values.items()}, name)
    layout = parsed.placement_settings(load_catalog()).fleet
    footprint = footprint_of(load_catalog(), layout)
    fixed: dict[str, float] = defaultdict(float)
    alerts_key = 0.0
    for line in plan["bill"]:
        system = "SystemNodeGroup" in line["urn"]  # the region's system nodes and their disks are fixed
        if (
            line["cloud"] != "aws"
            or line["unit"] == "node-hour"
            or (line["type"] in NODE_EXTRAS | STORAGE and not system)
        ):
            continue
        if "alerts-key" in line["urn"]:
            alerts_key += line["monthly_usd"]
            continue
        fixed[line["region"]] += line["monthly_usd"]
    assert fixed, "the example stacks open AWS regions"
    for region, usd in fixed.items():
        assert usd == pytest.approx(footprint.region_fixed(f"aws:{region}"), abs=0.01), region
    assert alerts_key == pytest.approx(footprint.cloud_fixed("aws"), abs=0.01)


def test_a_node_adds_its_root_disk_as_the_planner_counts_it(stack):
    _, _, _, plan = stack
    footprint = footprint_of(load_catalog(), FleetLayout(usage=UsageAssumptions()))
    disks = [b for b in plan["bill"] if b["type"] in NODE_EXTRAS and "SystemNodeGroup" not in b["urn"]]
    planned: dict[str, float] = {b["region"]: 0.0 for b in disks}
    for inputs in _placements(plan, "aws"):
        key = f"aws:{inputs['region']}"
        planned[inputs["region"]] = planned.get(inputs["region"], 0.0) + inputs["nodes"][
            "desired"
        ] * footprint.per_node(key, int(inputs.get("diskGib") or ROOT_DISK_GIB))
    for region, expected in planned.items():
        usd = sum(b["monthly_usd"] for b in disks if b["region"] == region)
        assert usd == pytest.approx(expected, abs=0.01), region


def test_each_gcp_region_costs_what_the_planner_counts(stack):
    """A GCP region's built resources cost what the planner charged: its fixed cost (cluster fee,
    logs, key, NAT data, the system pool and its disks and NAT charge) once, and per accelerator node
    its boot disk and Cloud NAT VM charge."""
    _, _, _, plan = stack
    footprint = footprint_of(load_catalog(), FleetLayout(usage=UsageAssumptions()))
    built: dict[str, float] = defaultdict(float)
    for line in plan["bill"]:
        if line["cloud"] != "gcp" or line["unit"] == "node-hour" or line["type"] == "gcp:storage/bucket:Bucket":
            continue
        built[line["region"]] += line["monthly_usd"]
    per_nodes: dict[str, float] = defaultdict(float)
    for inputs in _placements(plan, "gcp"):
        disk = int(inputs.get("diskGib") or ROOT_DISK_GIB)
        per_nodes[inputs["region"]] += inputs["nodes"]["desired"] * footprint.per_node(f"gcp:{inputs['region']}", disk)
    assert built and set(built) == set(per_nodes), "the example stacks build every GCP region they place in"
    for region, usd in built.items():
        planned = footprint.region_fixed(f"gcp:{region}") + per_nodes[region]
        assert usd == pytest.approx(planned, abs=0.01), region
    assert not [b for b in plan["bill"] if b["cloud"] == "gcp" and "not built" in (b.get("assumption") or "")]


def test_each_azure_region_costs_what_the_planner_counts(stack):
    """An Azure region's built resources cost what the planner charged: its fixed cost (Standard
    tier, System pool and its disks, audit logs, NAT gateway, its address and data) once, and per
    GPU node its OS disk."""
    name, _, _, plan = stack
    nodes: dict[str, int] = defaultdict(int)
    for placement in plan["placements"]:
        if placement["cloud"] == "azure":
            nodes[placement["region"]] += placement["nodes"]["desired"]
    if not nodes:
        pytest.skip(f"the {name} example places nothing on Azure")
    footprint = footprint_of(load_catalog(), FleetLayout(usage=UsageAssumptions()))
    fixed: dict[str, float] = defaultdict(float)
    per_node: dict[str, float] = defaultdict(float)
    for line in plan["bill"]:
        if line["cloud"] != "azure" or line["unit"] == "node-hour" or line["type"].endswith(":StorageAccount"):
            continue
        pool = line["type"] == "azure-native:containerservice:AgentPool"
        (per_node if pool else fixed)[line["region"]] += line["monthly_usd"]
    assert set(fixed) == set(nodes), "the example stacks build every Azure region they place in"
    for region, usd in fixed.items():
        assert usd == pytest.approx(footprint.region_fixed(f"azure:{region}"), abs=0.01), region
        assert per_node[region] == pytest.approx(nodes[region] * footprint.per_node(f"azure:{region}"), abs=0.01)
    assert not [b for b in plan["bill"] if b["cloud"] == "azure" and "not built" in (b.get("assumption") or "")]


def _placements(plan: dict, cloud: str) -> list[dict]:
    """The registered placements of one cloud, with the node disk the planner priced (``diskGib``
    where it is not the default)."""
    return [r["inputs"] for r in plan["resources"] if r["type"] == PLACEMENT_TYPE and r["inputs"]["cloud"] == cloud]
