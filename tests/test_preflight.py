"""Preflight against a moto server on loopback (EC2) and botocore's Stubber (Service Quotas).

moto's Service Quotas backend knows only VPC quotas, so quota answers come from a Stubber, which
checks every request and response against the real Service Quotas API model. The stacks also
place workloads on GCP (and staging on Azure): the CLI tests answer those through the fakes of
test_preflight_gcp and test_preflight_azure.
"""

from __future__ import annotations

import argparse

import boto3
import pytest
from botocore.stub import Stubber

from tensorfleet.cli import _preflight
from tensorfleet.preflight import QUOTA_CODES, Finding, Requirement, quota_bucket, render, report, run_preflight
from tests.test_preflight_azure import compute as azure_compute
from tests.test_preflight_azure import roomy_subscription
from tests.test_preflight_gcp import compute as gcp_compute
from tests.test_preflight_gcp import never, roomy_project


def _quota_response(code: str, value: float) -> dict:
    return {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "Value": value, "QuotaName": "q"}}


def _clients(endpoint, quotas: dict[str, float] | None = None, default_quota: float = 1024.0):
    """EC2 from moto; Service Quotas stubbed with ``quotas`` by code (others get ``default_quota``)."""

    def factory(service, region):
        if service == "ec2":
            return boto3.client("ec2", region_name=region, endpoint_url=endpoint)
        return _StubbedQuotas(region, quotas or {}, default_quota)

    return factory


class _StubbedQuotas:
    """A real Service Quotas client behind a Stubber. Each call's answer is queued just before the
    call, so the Stubber checks the request and the response against the API model."""

    def __init__(self, region: str, values: dict[str, float], default: float) -> None:
        self._client = boto3.client("service-quotas", region_name=region)
        self._stubber = Stubber(self._client)
        self._stubber.activate()
        self._values, self._default = values, default

    def get_service_quota(self, **params):
        code = params["QuotaCode"]
        self._stubber.add_response(
            "get_service_quota", _quota_response(code, self._values.get(code, self._default)), params
        )
        return self._client.get_service_quota(**params)


def _g5(region="us-east-1", nodes=4, capacity="on-demand"):
    return Requirement(
        workload="chat/main", region=region, instance_type="g5.xlarge", capacity=capacity, nodes_max=nodes
    )


def test_offered_and_within_quota_passes(moto):
    findings = run_preflight([_g5()], _clients(moto))
    assert [(f.check, f.ok) for f in findings] == [("offering", True), ("quota", True)]
    offering, quota = findings
    assert "use1-az" in offering.detail
    # g5.xlarge has 4 vCPUs (EC2 DescribeInstanceTypes): 4 nodes need 16.
    assert quota.detail.startswith("needs 16 vCPUs at peak; quota 1024, in use 0")


def test_an_instance_type_the_region_does_not_offer_is_a_blocker(moto):
    # p3 is a retired family: no zone of us-east-1 offers it in the EC2 offerings data.
    requirement = Requirement(
        workload="w/main", region="us-east-1", instance_type="p3.2xlarge", capacity="on-demand", nodes_max=1
    )
    (offering,) = run_preflight([requirement], _clients(moto))
    assert (offering.check, offering.ok) == ("offering", False)
    assert offering.detail == "not offered in any us-east-1 availability zone"


def test_quota_short_counts_what_already_runs(moto):
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, InstanceType="g5.xlarge", MinCount=2, MaxCount=2)
    code = QUOTA_CODES[("G and VT", "on-demand")][0]
    findings = run_preflight([_g5(nodes=4)], _clients(moto, {code: 20.0}))
    quota = next(f for f in findings if f.check == "quota")
    assert not quota.ok
    assert quota.detail == "needs 16 vCPUs at peak; quota 20, in use 8, headroom 12"
    assert quota.subject == f"Running On-Demand G and VT instances ({code})"


def test_spot_uses_the_spot_quota(moto):
    code = QUOTA_CODES[("G and VT", "spot")][0]
    findings = run_preflight([_g5(capacity="spot", nodes=2)], _clients(moto, {code: 4.0}))
    quota = next(f for f in findings if f.check == "quota")
    assert not quota.ok and code in quota.subject


@pytest.mark.parametrize(
    ("instance_type", "bucket"),
    [
        ("g6e.xlarge", "G and VT"),
        ("p5.48xlarge", "P"),
        ("inf2.xlarge", "Inf"),
        ("trn1.2xlarge", "Trn"),
        ("vt1.3xlarge", "G and VT"),
    ],
)
def test_quota_buckets(instance_type, bucket):
    assert quota_bucket(instance_type) == bucket


def _gcp(project: str = "acme-ml-dev") -> object:
    """The Compute Engine service factory of a project with room for anything (stacks' example projects)."""
    api = roomy_project(project)
    return lambda: gcp_compute(api)


def test_cli_checks_every_aws_placement_of_a_stack(moto, capsys):
    code = _preflight(argparse.Namespace(stack="dev"), client=_clients(moto), gcp=_gcp(), azure=never)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 blocker(s)" in out and "offering" in out and "quota" in out
    assert "AWS: 0 blocker(s)" in out


def test_cli_exits_3_on_a_blocker(moto, capsys):
    short = {code: 0.0 for code, _ in QUOTA_CODES.values()}
    code = _preflight(argparse.Namespace(stack="dev"), client=_clients(moto, short), gcp=_gcp(), azure=never)
    out = capsys.readouterr().out
    assert code == 3 and "BLOCKER" in out


def test_cli_checks_every_cloud_of_a_stack(moto, capsys):
    # staging places workloads on all three clouds; each gets its own section, then the totals.
    api = roomy_subscription()
    code = _preflight(
        argparse.Namespace(stack="staging"),
        client=_clients(moto),
        gcp=_gcp("acme-ml-staging"),
        azure=lambda s: azure_compute(api),
    )
    out = capsys.readouterr().out
    # The 405B assistant's replicas (two p5.48xlarge each, up to three) need more On-Demand P vCPUs
    # in us-east-1 than the account's default quota: the one blocker, named with its figures.
    assert code == 3, out  # the preflight's exit status when something blocks
    blockers = [line for line in out.splitlines() if "BLOCKER" in line]
    assert len(blockers) == 1 and "us-east-1" in blockers[0] and "L-417A185B" in blockers[0]
    titles = [line.split(": ")[0] for line in out.splitlines() if " blocker(s) in " in line and ": " in line]
    assert titles == ["AWS", "GCP project acme-ml-staging", "Azure subscription 00000000-0000-0000-0000-000000000000"]
    assert out.splitlines()[-1].startswith("1 blocker(s) in ")
    assert "Standard_NC40ads_H100_v5" in out and "lowPriorityCores" not in out  # staging's Azure pool is on-demand


def test_an_unverified_finding_is_shown_as_such_and_does_not_block():
    findings = [
        Finding("us-east4", "TPU v6e spot", "quota", True, "no metric", verified=False),
        Finding("us-east4", "tpu-v6e-4", "offering", True, "offered in us-east4-a"),
    ]
    text, blockers = report([("GCP project p", findings)])
    assert blockers == 0
    table = render(findings).splitlines()
    assert "  unverified  no metric" in table[1] and "  ok  " in table[2]
    assert text.endswith("0 blocker(s) in 2 check(s), 1 unverified")


def test_cli_reports_unreachable_aws_cleanly(monkeypatch, capsys):
    from tensorfleet.cli import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["preflight", "--stack", "dev"]) == 2
    assert capsys.readouterr().err.startswith("error: AWS could not be asked:")
