"""Secret config stays secret end to end: every resource input made from a secret key is a Pulumi
secret, and no name, input or stack output shows its value.

The program runs as under the Pulumi CLI: the language host receives secret values decrypted
(plain JSON text) together with the list of keys that are secret.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime import rpc

from regions.catalog import load_catalog
from tests.components.aws_mocks import block_zone, run_stack

ACCOUNT = "444455556666"  # not the account the mocks put in ARNs, so any occurrence is a leak
ADMINS = [f"arn:aws:iam::{ACCOUNT}:role/secret-admin", f"arn:aws:iam::{ACCOUNT}:user/secret-operator"]
EMAILS = ["alice.secret@example.com", "Bob.Secret@example.com"]
COST_CENTRE = "cc-4711-confidential"
PUBLIC_CIDR = "198.51.100.0/24"
VPC_CIDR = "10.42.0.0/16"
RESERVATION = "cr-0fedcba9876543210"
SECRET_KEYS = ("aws", "costCentre", "budgetAlertEmails")
WORKLOADS = [
    {
        "profile": "workloads/examples/recommendation-embeddings.yaml",
        "overrides": {
            "slo": {"steady_rps": 10, "peak_rps": 40, "availability": 0.99},
            "placement": {"min_regions": 1, "clouds": ["aws"]},
            "capacity": {"spot": False},  # on-demand, so that a capacity block applies
        },
    }
]


def _config(plain_run) -> dict[str, Any]:
    """Every secret-capable value set, with a bring-your-own network and a capacity block in the
    regions the plan uses."""
    aws_placements = [p.inputs for p in plain_run.registrations
                      if p.type == "tensorfleet:fleet:WorkloadPlacement" and p.inputs["cloud"] == "aws"]  # fmt: skip
    regions = sorted({p["region"] for p in aws_placements})
    on_demand = next(p for p in aws_placements if p["capacityType"] == "on-demand")
    zones = load_catalog().zones[f"aws:{regions[0]}"]
    return {
        "workloads": WORKLOADS,
        "aws": {
            "account_id": ACCOUNT,
            "kubernetes_version": "1.34",  # not the default, so that a leak would show
            "vpc_cidr": VPC_CIDR,
            "public_access_cidrs": [PUBLIC_CIDR],
            "admin_principal_arns": ADMINS,
            "existing_networks": {
                regions[0]: {
                    "vpc_id": "vpc-0a1b2c3d4e5f60718",
                    "private_subnet_ids": {zone: f"subnet-0badc0ffee{i:07x}" for i, zone in enumerate(zones)},
                }
            },
            "capacity_blocks": {
                on_demand["region"]: {
                    on_demand["instanceType"]: {
                        "reservation_id": RESERVATION,
                        "az_id": block_zone(on_demand["region"], on_demand["instanceType"]),
                    }
                }
            },
        },
        "costCentre": COST_CENTRE,
        "budgetAlertEmails": EMAILS,
    }


def _secret_texts(config: dict[str, Any]) -> list[str]:
    networks = config["aws"]["existing_networks"].values()
    subnets = [subnet for network in networks for subnet in network["private_subnet_ids"].values()]
    # "10.42." covers the VPC range and every subnet range carved from it.
    return [ACCOUNT, *ADMINS, *EMAILS, COST_CENTRE, PUBLIC_CIDR, "10.42.", RESERVATION, *subnets]


def _masked(value: Any) -> Any:
    """The value with every Pulumi secret replaced by a marker."""
    if rpc.is_rpc_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _secrets(value: Any) -> list[Any]:
    """The plain values of every Pulumi secret inside the value."""
    if rpc.is_rpc_secret(value):
        return [rpc.unwrap_rpc_secret(value)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secrets(v)]
    if isinstance(value, list):
        return [s for v in value for s in _secrets(v)]
    return []


@pytest.fixture(scope="module")
def plain_run():
    return run_stack("dev", workloads=WORKLOADS)


@pytest.fixture(scope="module")
def runs(plain_run):
    """The same config twice: in the clear, and with its secret-capable keys marked secret."""
    config = _config(plain_run)
    return config, run_stack("dev", **config), run_stack("dev", secret=SECRET_KEYS, **config)


def test_marking_keys_secret_renames_nothing(runs):
    _, clear, secret = runs
    assert {r.urn for r in secret.registrations} == {r.urn for r in clear.registrations}


def test_no_input_or_name_shows_a_secret_value_and_each_one_is_wrapped(runs):
    config, clear, secret = runs
    shown = json.dumps([[r.urn, _masked(r.inputs)] for r in secret.registrations], default=str)
    wrapped = json.dumps([_secrets(r.inputs) for r in secret.registrations], default=str)
    in_clear = json.dumps([r.inputs for r in clear.registrations], default=str)
    for text in _secret_texts(config):
        assert text in in_clear, text  # the config really reaches the resources
        assert text not in shown, text
        assert text in wrapped, text


def test_the_stack_outputs_show_no_secret_value(runs):
    config, _, secret = runs
    shown = json.dumps(_masked(secret.outputs), default=str)
    assert secret.outputs["clusters"] and not rpc.is_rpc_secret(secret.outputs["clusters"])
    assert all(text not in shown for text in _secret_texts(config))


def _inputs(run, type_):
    return [r.inputs for r in run.registrations if r.type == type_]


@pytest.mark.parametrize(
    ("type_", "path"),
    [
        ("pulumi:providers:aws", ("allowedAccountIds",)),
        ("pulumi:providers:aws", ("defaultTags",)),
        ("aws:kms/key:Key", ("policy",)),
        ("aws:budgets/budget:Budget", ("accountId",)),
        ("aws:sns/topicPolicy:TopicPolicy", ("policy",)),
        ("aws:sns/topicSubscription:TopicSubscription", ("endpoint",)),
        ("aws:eks/cluster:Cluster", ("version",)),
        ("aws:eks/accessEntry:AccessEntry", ("principalArn",)),
        ("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", ("principalArn",)),
        ("aws:ec2/vpc:Vpc", ("cidrBlock",)),
        ("aws:ec2/subnet:Subnet", ("cidrBlock",)),
    ],
)
def test_each_input_made_from_a_secret_is_a_secret(runs, type_, path):
    _, _, secret = runs
    found = _inputs(secret, type_)
    assert found
    for inputs in found:
        value: Any = inputs
        for step in path:
            value = value[step]
        assert rpc.is_rpc_secret(value), (type_, path)


def test_region_codes_and_graph_shaping_values_stay_plain(runs):
    _, _, secret = runs
    assert all(isinstance(p["region"], str) for p in _inputs(secret, "pulumi:providers:aws"))
    for group in _inputs(secret, "aws:eks/nodeGroup:NodeGroup"):
        assert isinstance(group["instanceTypes"][0], str) and isinstance(group["capacityType"], str)
    assert {g["capacityType"] for g in _inputs(secret, "aws:eks/nodeGroup:NodeGroup")} >= {"CAPACITY_BLOCK"}
    for cluster in _inputs(secret, "aws:eks/cluster:Cluster"):
        # The SDK lifts a secret to the top-level input that holds it: the whole vpcConfig is secret.
        assert rpc.is_rpc_secret(cluster["vpcConfig"])
        assert rpc.unwrap_rpc_secret(cluster["vpcConfig"])["endpointPublicAccess"] is True
        assert cluster["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False


def test_what_a_secret_kubernetes_version_chooses_is_a_secret_too(runs):
    """The Cluster Autoscaler's chart follows the cluster's minor version: with tensorfleet:aws
    secret, its chart version and values are secrets, while other add-ons stay readable."""
    _, clear, secret = runs
    releases = [r for r in _inputs(secret, "kubernetes:helm.sh/v3:Release")]
    autoscalers = [r for r in releases if r["name"] == "cluster-autoscaler"]
    assert autoscalers and all(rpc.is_rpc_secret(r["version"]) for r in autoscalers)
    assert _secrets(autoscalers[0]["version"]) == ["9.52.0"]  # the chart of Kubernetes 1.34
    keda = next(r for r in releases if r["name"] == "keda")
    assert not rpc.is_rpc_secret(keda["version"])
    plain = next(r for r in _inputs(clear, "kubernetes:helm.sh/v3:Release") if r["name"] == "cluster-autoscaler")
    assert plain["version"] == "9.52.0"
