"""The bill against hand-worked examples, priced from regions/data/service_prices.csv and the catalog."""

from __future__ import annotations

import pytest

from regions.bill import BilledResource, bill, total_usd
from regions.catalog import load_catalog
from regions.footprint import SYSTEM_DISK_GIB, SYSTEM_NODES, FleetLayout, footprint_of
from regions.pricing import PriceBook, UnpricedItem, UsageAssumptions, load_price_book

URN = "urn:pulumi:prod::tensorfleet::"


def _resource(type_: str, name: str, inputs: dict, region: str = "us-east-1", cloud: str = "aws", parent=None):
    return BilledResource(f"{URN}{type_}::{name}", type_, cloud, region, inputs=inputs, parent=parent)


def _placement(
    workload: str, cloud: str, region: str, instance_type: str, desired: int, weights_gb, capacity="on-demand"
):
    inputs = {"workload": workload, "stage": "main", "cloud": cloud, "region": region, "instanceType": instance_type,
              "capacityType": capacity, "nodes": {"min": 0, "desired": desired, "max": desired + 1},
              "weightsGb": weights_gb}  # fmt: skip
    return _resource("tensorfleet:fleet:WorkloadPlacement", f"{workload}-{region}", inputs, region, cloud)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def prices():
    return load_price_book()


def _offering(catalog, cloud, region, accelerator):
    return min(
        (o for o in catalog.offerings if (o.cloud, o.region, o.accelerator) == (cloud, region, accelerator)),
        key=lambda o: o.usd_per_hour,
    )


def test_one_aws_region_worked_by_hand(catalog, prices):
    """us-east-1 list prices: EKS $0.10/h, NAT $0.045/h + $0.045/GB, IPv4 $0.005/h, KMS $1/key-month,
    gp3 $0.08/GB-month, S3 Standard $0.023/GB-month, CloudWatch Logs $0.50/GB."""
    node = _offering(catalog, "aws", "us-east-1", "L4")
    parent = f"{URN}tensorfleet:aws:AcceleratorNodeGroup::chat-ng"
    resources = [
        _resource("aws:eks/cluster:Cluster", "eks", {"enabledClusterLogTypes": ["api", "audit"]}),
        _resource("aws:ec2/natGateway:NatGateway", "nat-a", {}),
        _resource("aws:ec2/natGateway:NatGateway", "nat-b", {}),
        _resource("aws:ec2/eip:Eip", "ip-a", {"domain": "vpc"}),
        _resource("aws:ec2/eip:Eip", "ip-b", {"domain": "vpc"}),
        _resource("aws:kms/key:Key", "key", {}),
        _resource("aws:s3/bucket:Bucket", "artifacts", {}),
        _resource(
            "aws:ec2/launchTemplate:LaunchTemplate",
            "lt",
            parent=parent,
            inputs={"blockDeviceMappings": [{"ebs": {"volumeSize": 200, "volumeType": "gp3"}}]},
        ),
        _resource(
            "aws:eks/nodeGroup:NodeGroup",
            "ng",
            parent=parent,
            inputs={
                "instanceTypes": [node.instance_type],
                "scalingConfig": {"desiredSize": 3},
                "capacityType": "ON_DEMAND",
                "tags": {"workload": "chat"},
            },
        ),
        # An 8B bf16 model (16 GB) and a 70B int4 one (35 GB) placed in the region.
        _placement("chat", "aws", "us-east-1", node.instance_type, 3, 16.0),
        _placement("summarise", "aws", "us-east-1", node.instance_type, 0, 35.0),
        _resource("aws:ec2/vpc:Vpc", "vpc", {}),  # free: no line
    ]
    lines = bill(resources, catalog, prices, UsageAssumptions())
    by = {(line.urn.rsplit("::", 1)[1], line.item): line for line in lines}
    assert by[("eks", "eks_control_plane")].monthly_usd == pytest.approx(73.00)
    assert by[("eks", "cloudwatch_logs_ingestion")].monthly_usd == pytest.approx(15.00)  # 30 GB assumed
    assert by[("nat-a", "nat_gateway")].monthly_usd == pytest.approx(32.85)
    assert by[("nat-b", "nat_gateway_data")].monthly_usd == pytest.approx(4.50)  # 100 GB assumed
    assert by[("ip-a", "public_ipv4")].monthly_usd == pytest.approx(3.65)
    assert by[("key", "kms_key")].monthly_usd == pytest.approx(1.00)
    assert by[("artifacts", "s3_standard_storage")].quantity == pytest.approx(51.0)
    assert by[("artifacts", "s3_standard_storage")].monthly_usd == pytest.approx(1.173)
    assert by[("lt", "ebs_gp3_storage")].monthly_usd == pytest.approx(48.00)  # 3 nodes x 200 GB
    nodes = by[("ng", f"{node.instance_type} on-demand")]
    assert nodes.monthly_usd == pytest.approx(3 * node.usd_per_hour * 730) and nodes.workload == "chat"
    # AWS placements are billed through their node groups, never twice.
    assert not [line for line in lines if line.type == "tensorfleet:fleet:WorkloadPlacement"]
    fixed = 73.00 + 15.00 + 2 * (32.85 + 4.50) + 2 * 3.65 + 1.00 + 1.173 + 48.00
    assert total_usd(lines) == pytest.approx(fixed + 3 * node.usd_per_hour * 730)


def test_a_placement_on_a_cloud_the_stack_does_not_build_yet_bills_what_its_fleet_needs(catalog, prices):
    """GCP: nodes, each node's boot disk and Cloud NAT charge, the weights, and once per region the
    cluster fee, logs, key and NAT traffic: the planner's figure for the same placement."""
    node = _offering(catalog, "gcp", "us-central1", "L4")
    records = [
        _placement("chat", "gcp", "us-central1", node.instance_type, 2, 16.0),
        _placement("summarise", "gcp", "us-central1", node.instance_type, 1, 35.0),
    ]
    lines = bill(records, catalog, prices, UsageAssumptions())
    nodes = [line for line in lines if line.unit == "node-hour"]
    assert [line.monthly_usd for line in nodes] == pytest.approx([2 * node.usd_per_hour * 730, node.usd_per_hour * 730])
    by_item = {}
    for line in lines:
        by_item.setdefault(line.item, []).append(line)
    assert len(by_item["gke_cluster_management"]) == 1  # the region is opened once
    assert by_item["gke_cluster_management"][0].monthly_usd == pytest.approx(73.0)  # $0.10 per cluster-hour
    node_disks = [line for line in by_item["pd_balanced"] if "system" not in (line.assumption or "")]
    assert sum(line.quantity for line in node_disks) == 3 * 200  # a 200 GB boot disk per node
    (system_disks,) = [line for line in by_item["pd_balanced"] if line not in node_disks]
    assert system_disks.quantity == SYSTEM_NODES * SYSTEM_DISK_GIB  # once per region, for its system pool
    assert sum(line.quantity for line in by_item["gcs_standard_storage"]) == 16.0 + 35.0
    assert all("not built by the stack yet" in (line.assumption or "") for line in lines if line.unit != "node-hour")
    footprint = footprint_of(catalog, FleetLayout())
    key = "gcp:us-central1"
    expected = 3 * (node.usd_per_hour * 730 + footprint.per_node(key)) + footprint.per_stage(key, 51.0)
    expected += footprint.region_fixed(key) + footprint.cloud_fixed("gcp")
    assert total_usd(lines) == pytest.approx(expected)


def test_spot_nodes_are_billed_at_the_spot_price(catalog, prices):
    node = next(o for o in catalog.offerings if o.cloud == "aws" and o.spot_usd_per_hour and o.region == "us-east-1")
    inputs = {"instanceTypes": [node.instance_type], "scalingConfig": {"desiredSize": 2}, "capacityType": "SPOT"}
    pool = _resource("aws:eks/nodeGroup:NodeGroup", "ng", inputs)
    (line,) = bill([pool], catalog, prices, UsageAssumptions())
    assert line.monthly_usd == pytest.approx(2 * node.spot_usd_per_hour * 730)


def test_usage_assumptions_change_only_the_usage_priced_lines(catalog, prices):
    resources = [_resource("aws:ec2/natGateway:NatGateway", "nat", {})]
    heavy = bill(resources, catalog, prices, UsageAssumptions(nat_gb_per_gateway_month=1000))
    data = next(line for line in heavy if line.item == "nat_gateway_data")
    assert data.monthly_usd == pytest.approx(45.0) and data.assumption == "1000 GB processed per gateway-month"
    assert next(line for line in heavy if line.item == "nat_gateway").assumption is None


def test_a_region_without_its_own_price_says_whose_price_it_uses(prices):
    sourced = prices.price("aws", "us-east-1", "eks_control_plane")
    stand_in = prices.price("aws", "eu-north-1", "eks_control_plane")
    assert stand_in.usd == sourced.usd and stand_in.priced_in == "us-east-1"
    assert stand_in.basis("eu-north-1").startswith("us-east-1 list price (no sourced eu-north-1 price)")
    assert sourced.basis("us-east-1") == sourced.source
    # With several sourced regions the dearest stands in: an upper bound, never an undercount.
    ingestion = [p for (c, _, i), p in prices.prices.items() if (c, i) == ("aws", "cloudwatch_logs_ingestion")]
    assert prices.price("aws", "eu-north-1", "cloudwatch_logs_ingestion").usd == max(p.usd for p in ingestion)


def test_every_region_price_holds_in_any_region_of_its_cloud(prices):
    assert prices.price("aws", "ap-south-1", "public_ipv4").priced_in == "*"
    with pytest.raises(UnpricedItem, match="no sourced price for aws teleport"):
        prices.price("aws", "us-east-1", "teleport")


def test_every_price_row_has_a_source_and_a_date(prices):
    assert isinstance(prices, PriceBook) and len(prices.prices) >= 40
    for (cloud, _, item), price in prices.prices.items():
        assert cloud in ("aws", "gcp", "azure") and price.usd >= 0, item
        assert "http" in price.source and "(" in price.source, (cloud, item)
