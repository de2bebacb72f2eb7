"""The real Pulumi program under the mock engine: components, identity, outputs, config errors."""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime import rpc

import regions.catalog
from tensorfleet.engine import read_stack_config, run_program
from tensorfleet.outputs import SCHEMA_VERSION, StackOutputs
from tensorfleet.report import build_plan
from tests.components.aws_mocks import run_stack

WORKLOAD = "tensorfleet:fleet:Workload"
PLACEMENT = "tensorfleet:fleet:WorkloadPlacement"


def _run(stack="prod", **changes):
    config, secret_keys = read_stack_config(stack)
    config.update({f"tensorfleet:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()})
    return run_program(stack, config, secret_keys)


def test_one_component_per_workload_and_placement(prod_run):
    by_type = {}
    for reg in prod_run.registrations:
        by_type.setdefault(reg.type, []).append(reg)
    assert {WORKLOAD, PLACEMENT} <= set(by_type)
    packages = ("tensorfleet:", "aws:", "gcp:", "azure-native:", "kubernetes:", "pulumi:providers:")
    assert all(t.startswith(packages) for t in by_type)
    assert sorted(r.name for r in by_type[WORKLOAD]) == [
        "chat-assistant",
        "content-moderation",
        "diagnostic-imaging",
        "document-summaries",
        "recommendation-embeddings",
        "support-triage",
    ]
    workload_urns = {r.urn for r in by_type[WORKLOAD]}
    assert all(r.parent in workload_urns for r in by_type[PLACEMENT])
    assert all(r.parent.endswith("::tensorfleet-prod") for r in by_type[WORKLOAD])
    for placement in by_type[PLACEMENT]:
        nodes = placement.inputs["nodes"]
        assert nodes["min"] <= nodes["desired"] <= nodes["max"]
        assert placement.name == "-".join(
            [
                placement.inputs["workload"],
                placement.inputs["stage"],
                placement.inputs["cloud"],
                placement.inputs["region"],
            ]
        )


def test_urns_follow_the_component_token_and_parent_chain(prod_run):
    placement = next(r for r in prod_run.registrations if r.type == PLACEMENT)
    # The parent's type qualifies the child's, as the engine composes URNs.
    assert placement.urn == f"urn:pulumi:prod::tensorfleet::{WORKLOAD}${PLACEMENT}::{placement.name}"


def test_hipaa_workload_stays_on_baa_clouds_in_prod(prod_run):
    imaging = [
        r for r in prod_run.registrations if r.type == PLACEMENT and r.inputs["workload"] == "diagnostic-imaging"
    ]
    assert imaging and {r.inputs["cloud"] for r in imaging} <= {"aws", "gcp"}  # Pulumi.prod.yaml: hipaaClouds


def test_stack_outputs_are_typed_and_versioned():
    # Mocks that compute what AWS would (cluster names, endpoints); under plain echo mocks they are
    # unknown until deployment, exactly as in a preview.
    run = run_stack("prod")
    # A stack reference hands secrets over as plain values (inside a secret Output); do the same.
    plain = {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in run.outputs.items()}
    outputs = StackOutputs.model_validate(plain)
    assert outputs.schema_version == SCHEMA_VERSION
    assert outputs.environment == "prod"
    assert outputs.workloads["support-triage"].gateway_only
    assert outputs.workloads["support-triage"].placements == []
    chat = outputs.workloads["chat-assistant"]
    assert chat.namespace == "assistant" and chat.placements
    assert outputs.clusters and set(outputs.kubeconfigs) == set(outputs.clusters)
    placements = [r for r in run.registrations if r.type == PLACEMENT]
    # The whole bill: the placements' nodes and, beside them, disks, storage and regions' fixed costs.
    assert outputs.totals.monthly_usd > sum(r.inputs["monthlyUsd"] for r in placements) + 1000


def test_profile_edits_and_price_refreshes_rename_nothing(prod_run, monkeypatch):
    before = {r.urn for r in prod_run.registrations}
    # A non-identity edit: budgets and traffic change, names and regions do not.
    edited = _run(budgetMonthlyUsd=500000, carbonPriceUsdPerTonne=100)
    assert {r.urn for r in edited.registrations} == before
    # A price refresh: every price 10% higher. Same plan shape, new figures, same URNs.
    catalog = regions.catalog.load_catalog()
    refreshed = regions.catalog.Catalog(
        offerings=tuple(
            regions.catalog.Offering(
                **{**{f: getattr(o, f) for f in o.__slots__}, "usd_per_hour": o.usd_per_hour * 1.1}
            )
            for o in catalog.offerings
        ),
        regions=catalog.regions,
        specs=catalog.specs,
        excluded=catalog.excluded,
        zones=catalog.zones,
    )
    monkeypatch.setattr(regions.catalog, "load_catalog", lambda: refreshed)
    repriced = _run()
    assert {r.urn for r in repriced.registrations} == before
    old = {r.urn: r.inputs for r in prod_run.registrations if r.type == PLACEMENT}
    new = {r.urn: r.inputs for r in repriced.registrations if r.type == PLACEMENT}
    on_demand = [u for u in old if "on-demand" in old[u]["capacityType"]]
    assert on_demand and all(new[u]["hourlyUsd"] == pytest.approx(old[u]["hourlyUsd"] * 1.1) for u in on_demand)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        pytest.param(
            {"objective": "cheapest"},
            "tensorfleet:objective: Input should be 'cost', 'carbon' or 'balanced'",
            id="bad-objective",
        ),
        pytest.param(
            {"budgetMonthlyUsd": -1}, "tensorfleet:budgetMonthlyUsd: Input should be greater than 0", id="bad-budget"
        ),
        pytest.param(
            {"workloads": [{"profile": "workloads/examples/nope.yaml"}]},
            "nope.yaml: invalid workload profile",
            id="missing-profile",
        ),
        pytest.param(
            {
                "workloads": [
                    {
                        "profile": "workloads/examples/chat-assistant-70b.yaml",
                        "overrides": {"slo": {"p95_latency_ms": 1, "ttft_p95_ms": 1}},
                    }
                ]
            },
            "workload 'chat-assistant' cannot be placed",
            id="infeasible",
        ),
        pytest.param(
            {"workloads": [{"profile": "workloads/examples/chat-assistant-70b.yaml", "extra": 1}]},
            "tensorfleet:workloads.0.extra: Extra inputs are not permitted",
            id="unknown-nested-key",
        ),
        pytest.param(
            {"assumedPowerWatts": {"Inferentia9": 100}}, "unknown accelerator 'Inferentia9'", id="unknown-chip"
        ),
        pytest.param(
            {"quotas": [{"region": "aws:us-east-1", "accelerator": "H1000", "limit": 8}]},
            "tensorfleet:quotas.0: unknown accelerator 'H1000'",
            id="quota-unknown-chip",
        ),
        pytest.param(
            {"quotas": [{"region": "aws:us-east-9", "accelerator": "H100", "limit": 8}]},
            "tensorfleet:quotas.0: region 'aws:us-east-9' is not in the catalog; did you mean",
            id="quota-unknown-region",
        ),
        pytest.param(
            {"quotas": [{"region": "aws:us-east-1", "accelerator": "H100", "limit": -1}]},
            "tensorfleet:quotas.0.limit: Input should be greater than or equal to 0",
            id="quota-negative",
        ),
        pytest.param(
            {
                "quotas": [
                    {"region": "aws:us-east-1", "accelerator": "H100", "limit": 8},
                    {"region": "aws:us-east-1", "accelerator": "h100", "limit": 16},
                ]
            },
            "tensorfleet:quotas: two entries name the same region and accelerator",
            id="quota-twice",
        ),
        pytest.param(
            {"gcp": None}, "workloads are placed on GCP but tensorfleet:gcp is not configured", id="gcp-missing"
        ),
        pytest.param(
            {
                "gcp": {
                    "project": "acme-ml-dev",
                    "project_number": "123456789012",
                    "billing_account": "012345-6789AB-CDEF01",
                    "reservations": {"us-east4": {"a3-highgpu-9g": "r1"}},
                }
            },
            "tensorfleet:gcp.reservations.us-east4.a3-highgpu-9g: no accelerator instance type of that name is offered "
            "in us-east4; did you mean",
            id="gcp-reservation-typo",
        ),
        pytest.param(
            {
                "gcp": {
                    **{
                        "project": "acme-ml-dev",
                        "project_number": "123456789012",
                        "billing_account": "012345-6789AB-CDEF01",
                    },
                    "existing_networks": {
                        "us-east4": {
                            "network": "projects/acme-net/global/networks/shared",
                            "subnetwork": "projects/acme-net/regions/us-east1/subnetworks/ml",
                            "pod_range": "pods",
                            "service_range": "services",
                        }
                    },
                }
            },
            "tensorfleet:gcp.existing_networks.us-east4.subnetwork: "
            "'projects/acme-net/regions/us-east1/subnetworks/ml' is not in us-east4",
            id="gcp-network-elsewhere",
        ),
        pytest.param(
            {"aws": {"account_id": "111122223333", "kubernetes_version": "1.29"}},
            "tensorfleet:aws.kubernetes_version: no Cluster Autoscaler is pinned for Kubernetes 1.29; supported: 1.33",
            id="aws-unsupported-kubernetes",
        ),
        pytest.param(
            {
                "gcp": {
                    "project": "acme-ml-dev",
                    "project_number": "123456789012",
                    "billing_account": "012345-6789AB-CDEF01",
                    "gpu_driver": "operator",
                }
            },
            "tensorfleet:gcp.gpu_driver: 'operator' cannot serve GKE GPU pools",
            id="gcp-operator-driver",
        ),
        pytest.param(
            {"gcp": {"project": "acme-ml-dev", "project_number": "12a", "billing_account": "012345-6789AB-CDEF01"}},
            "tensorfleet:gcp.project_number: String should match pattern",
            id="gcp-project-number",
        ),
        pytest.param(
            {"azure": {"subscription_id": "acme-prod", "tenant_id": "11111111-1111-1111-1111-111111111111"}},
            "tensorfleet:azure.subscription_id: String should match pattern",
            id="azure-subscription",
        ),
        pytest.param(
            {
                "azure": {
                    "subscription_id": "00000000-0000-0000-0000-000000000000",
                    "tenant_id": "11111111-1111-1111-1111-111111111111",
                    "service_cidr": "100.64.0.0/16",
                }
            },
            "tensorfleet:azure.service_cidr: Value error, must be a private (RFC 1918) IPv4 range",
            id="azure-public-service-range",
        ),
        pytest.param(
            {
                "azure": {
                    "subscription_id": "00000000-0000-0000-0000-000000000000",
                    "tenant_id": "11111111-1111-1111-1111-111111111111",
                    "public_access_cidrs": ["0.0.0.0/0"],
                }
            },
            "opens the cluster API to a large part of the internet",
            id="azure-open-api",
        ),
    ],
)
def test_bad_config_is_one_clean_run_error(changes, fragment):
    with pytest.raises(pulumi.RunError) as exc_info:
        _run("dev", **changes)
    assert fragment in str(exc_info.value)
    assert "Traceback" not in str(exc_info.value)


def test_azure_placements_need_azure_config():
    with pytest.raises(pulumi.RunError) as exc_info:
        _run("staging", azure=None)
    assert "workloads are placed on Azure but tensorfleet:azure is not configured" in str(exc_info.value)
    with pytest.raises(pulumi.RunError) as exc_info:
        _run("staging", budgetAlertEmails=[])
    assert "tensorfleet:budgetAlertEmails: workloads are placed on Azure" in str(exc_info.value)


def test_secure_config_is_never_read_and_stays_secret(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.x.yaml").write_text(
        "config:\n  tensorfleet:objective: cost\n  tensorfleet:apiKey:\n    secure: AAABAHUJ3cipher\n"
    )
    config, secret_keys = read_stack_config("x", tmp_path)
    assert config["tensorfleet:apiKey"] == "[secret]" and secret_keys == {"tensorfleet:apiKey"}
    assert "AAABAHUJ3cipher" not in json.dumps(config)


def test_plan_masks_secret_inputs(prod_run):
    from dataclasses import replace

    from pulumi.runtime import rpc

    reg = next(r for r in prod_run.registrations if r.type == WORKLOAD)
    secret = replace(reg, inputs={**reg.inputs, "kubeconfig": rpc.wrap_rpc_secret("apiVersion: v1 token=abc")})
    run = replace(prod_run, registrations=[secret])
    plan = build_plan("prod", run)
    assert plan["resources"][0]["inputs"]["kubeconfig"] == "[secret]"
    assert "token=abc" not in json.dumps(plan)
