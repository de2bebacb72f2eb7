"""Catalog refresh: EC2 from a moto server on loopback; the Price List and Service Quotas APIs through
botocore's Stubber (moto implements neither for EC2), which checks each call against the API model."""

from __future__ import annotations

import argparse
import csv
import json
import shutil

import boto3
import pytest
from botocore.stub import Stubber

from regions.catalog import DATA_DIR, load_catalog
from tensorfleet.cli import _refresh

NEW_PRICES = {("g6.xlarge", "us-east-1"): 0.9001, ("p5.48xlarge", "us-west-2"): 55.04}


def _price_item(instance_type: str, region: str, usd: float) -> str:
    sku = f"SKU{abs(hash((instance_type, region))) % 10**8}"
    return json.dumps({
        "product": {"attributes": {"instanceType": instance_type, "regionCode": region, "operatingSystem": "Linux"}},
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs", "pricePerUnit": {"USD": f"{usd:.10f}"}}}}}},
    })  # fmt: skip


class _JustInTime:
    """A real client behind a Stubber; each call's answer is queued right before the call."""

    def __init__(self, service: str, region: str, answer):
        self._client = boto3.client(service, region_name=region)
        self._stubber = Stubber(self._client)
        self._stubber.activate()
        self._answer = answer

    def __getattr__(self, operation):
        def call(**params):
            self._stubber.add_response(operation, self._answer(operation, params), params)
            return getattr(self._client, operation)(**params)

        return call


def _pricing_answer(operation, params):
    instance_type = next(f["Value"] for f in params["Filters"] if f["Field"] == "instanceType")
    items = [_price_item(t, r, usd) for (t, r), usd in NEW_PRICES.items() if t == instance_type]
    return {"FormatVersion": "aws_v1", "PriceList": items}


def _quota_answer(operation, params):
    return {"Quota": {"ServiceCode": "ec2", "QuotaCode": params["QuotaCode"], "Value": 64.0, "QuotaName": "q"}}


@pytest.fixture
def data_dir(tmp_path):
    for path in DATA_DIR.iterdir():
        if path.is_file():
            shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _factory(endpoint):
    def client(service, region):
        if service == "ec2":
            return boto3.client("ec2", region_name=region, endpoint_url=endpoint)
        if service == "pricing":
            return _JustInTime("pricing", region, _pricing_answer)
        return _JustInTime("service-quotas", region, _quota_answer)

    return client


def _aws_row(data_dir, instance_type, region):
    with (data_dir / "accelerators.csv").open() as handle:
        return next(
            r
            for r in csv.DictReader(handle)
            if (r["cloud"], r["instance_type"], r["region"]) == ("aws", instance_type, region)
        )


def test_refresh_updates_prices_offerings_and_reports_quota_headroom(moto, data_dir, capsys):
    before = _aws_row(data_dir, "g6.xlarge", "us-east-1")
    assert before["hourly_usd"] == "0.8048"
    assert _refresh(argparse.Namespace(cloud="aws", data_dir=data_dir), client=_factory(moto)) == 0
    out = capsys.readouterr().out
    assert "g6.xlarge" in out and "0.8048 -> 0.9001" in out
    assert "1 price(s) changed" in out  # p5.48xlarge in us-west-2 already costs 55.04
    row = _aws_row(data_dir, "g6.xlarge", "us-east-1")
    assert (row["hourly_usd"], row["price_source"]) == ("0.9001", "aws-pricing-api")
    assert "price from the AWS Price List API on" in row["notes"]
    # Offerings now come from EC2 (the moto server) and name it as their source.
    with (data_dir / "aws_az_offerings.csv").open() as handle:
        offerings = list(csv.DictReader(handle))
    assert offerings and all("DescribeInstanceTypeOfferings" in r["source"] for r in offerings)
    assert any(r["instance_type"] == "*" and r["region"] == "us-east-1" for r in offerings)
    # Quota headroom per region and GPU quota.
    assert "Running On-Demand G and VT instances (L-DB2E81BA)" in out and "headroom 64 vCPUs" in out
    # The refreshed catalog still loads, with the new price.
    catalog = load_catalog(data_dir)
    (g6,) = [o for o in catalog.offerings if (o.instance_type, o.region) == ("g6.xlarge", "us-east-1")]
    assert g6.usd_per_hour == 0.9001 and g6.zones


def test_a_failing_api_leaves_the_catalog_unchanged(moto, data_dir, capsys):
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}

    def failing(service, region):
        if service == "pricing":
            client = boto3.client("pricing", region_name=region)
            stubber = Stubber(client)
            stubber.add_client_error("get_products", service_error_code="ThrottlingException", http_status_code=400)
            stubber.activate()
            return client
        return _factory(moto)(service, region)

    from tensorfleet.cli import CliError

    with pytest.raises(CliError, match="AWS could not be asked; the catalog is unchanged"):
        _refresh(argparse.Namespace(cloud="aws", data_dir=data_dir), client=failing)
    assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before
