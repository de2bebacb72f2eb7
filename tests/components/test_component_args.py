"""Components built directly, without the planner: plain values are validated, secret ones stay secret."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import rpc

from components.aws.cluster import EksCluster, EksClusterArgs
from components.aws.network import RegionNetwork, RegionNetworkArgs, subnet_plan
from components.budget.aws import AwsBudgets, AwsBudgetsArgs
from components.naming import email_key, keyed
from tests.components.aws_mocks import register

ZONES = ("use1-az1", "use1-az2")


def _inputs(requests, type_):
    return [rpc.deserialize_properties(r.object, keep_unknowns=True) for r in requests if r.type == type_]


def test_a_secret_vpc_range_keeps_every_subnet_range_secret_and_carved_as_planned():
    requests = register(
        lambda: RegionNetwork(
            "net", RegionNetworkArgs(region="us-east-1", zone_ids=ZONES, cidr_block=pulumi.Output.secret("10.9.0.0/16"))
        )
    )
    subnets = _inputs(requests, "aws:ec2/subnet:Subnet")
    assert len(subnets) == 2 * len(ZONES) and all(rpc.is_rpc_secret(s["cidrBlock"]) for s in subnets)
    carved = {r for pair in subnet_plan("10.9.0.0/16", ZONES).values() for r in pair}
    assert {rpc.unwrap_rpc_secret(s["cidrBlock"]) for s in subnets} == carved


def test_a_plain_vpc_range_is_still_checked_without_echoing_it():
    with pytest.raises(pulumi.InputPropertiesError) as exc_info:
        register(
            lambda: RegionNetwork(
                "net", RegionNetworkArgs(region="us-east-1", zone_ids=ZONES, cidr_block="10.9.0.0/20")
            )
        )
    assert "must be a /16, got a /20" in str(exc_info.value.errors)


def test_a_plain_world_open_cidr_is_refused():
    args = EksClusterArgs(
        subnet_ids=["a", "b"], key_arn="k", private_endpoint_only=False, public_access_cidrs=("0.0.0.0/0",)
    )
    with pytest.raises(pulumi.InputPropertiesError):
        register(lambda: EksCluster("eks", args))


def test_budget_subscriptions_are_named_by_key_and_keep_secrets():
    emails = keyed(["a@example.com", "b@example.com"], email_key)
    requests = register(
        lambda: AwsBudgets(
            "b",
            AwsBudgetsArgs(
                account_id="111122223333",
                key_arn="k",
                budgets=(),
                alert_emails={k: pulumi.Output.secret(v) for k, v in emails.items()},
            ),
        )
    )
    subscriptions = [r for r in requests if r.type == "aws:sns/topicSubscription:TopicSubscription"]
    assert sorted(r.name for r in subscriptions) == sorted(f"b-alerts-{k}" for k in emails)
    assert all(rpc.is_rpc_secret(i["endpoint"]) for i in _inputs(subscriptions, subscriptions[0].type))
