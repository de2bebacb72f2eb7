"""The policy pack's rules run offline over real program runs: compliant, non-compliant, not
applicable and missing-property cases for each policy."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tensorfleet.engine import ProgramRun, read_stack_config, run_program
from tensorfleet.policy_run import evaluate, is_blocking
from tensorfleet.report import build_plan
from tests.conftest import ENVIRONMENTS

IMAGING_ON_AWS = {
    "profile": "workloads/examples/diagnostic-imaging.yaml",
    "overrides": {"placement": {"clouds": ["aws"]}},
}


IMAGING_ON_AZURE = {
    "profile": "workloads/examples/diagnostic-imaging.yaml",
    "overrides": {"placement": {"clouds": ["azure"]}},
}

PLACEMENT = "tensorfleet:fleet:WorkloadPlacement"


def _run(stack: str, **changes) -> ProgramRun:
    config, secret_keys = read_stack_config(stack)
    config.update({f"tensorfleet:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()})
    return run_program(stack, config, secret_keys)


def _by(results, policy):
    return [r for r in results if r["policy"] == policy]


def _edited(run: ProgramRun, type_: str, edit) -> ProgramRun:
    """The run with ``edit(inputs) -> inputs`` applied to every registration of ``type_``."""
    return replace(
        run,
        registrations=[replace(r, inputs=edit(dict(r.inputs))) if r.type == type_ else r for r in run.registrations],
    )


def _without(key: str):
    return lambda inputs: {k: v for k, v in inputs.items() if k != key}


def _plan_total(run: ProgramRun) -> float:
    """The whole bill of the run's plan (plan.json ``totals.monthly_usd``)."""
    return build_plan("prod", run)["totals"]["monthly_usd"]


@pytest.fixture(scope="module")
def prod():
    return _run("prod")


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_example_environments_are_compliant(stack):
    config, _ = read_stack_config(stack)
    results = evaluate(
        _run(stack), {"cost-ceiling": {"stackMonthlyUsd": float(config["tensorfleet:budgetMonthlyUsd"])}}
    )
    assert results == []


# --- cost-ceiling ---------------------------------------------------------------------------


def test_cost_ceiling_judges_the_plans_whole_bill(prod):
    plan = build_plan("prod", prod)
    total = plan["totals"]["monthly_usd"]
    # The whole bill: more than the accelerator nodes (clusters, NAT gateways, addresses, keys, disks).
    assert total > plan["totals"]["accelerators_monthly_usd"] + 1000
    assert _by(evaluate(prod, {"cost-ceiling": {"stackMonthlyUsd": total + 1}}), "cost-ceiling") == []
    (violation,) = _by(evaluate(prod, {"cost-ceiling": {"stackMonthlyUsd": total - 100}}), "cost-ceiling")
    assert violation["enforcement"] == "mandatory" and violation["urn"] is None
    assert f"estimated monthly bill ${total:,.0f} exceeds the stack ceiling" in violation["message"]
    assert "by $100; top contributors:" in violation["message"]


def test_cost_ceiling_per_workload_names_the_largest_pool(prod):
    (violation,) = _by(
        evaluate(prod, {"cost-ceiling": {"workloadMonthlyUsd": {"chat-assistant": 100}}}), "cost-ceiling"
    )
    assert violation["message"].startswith("workload 'chat-assistant' would spend $")
    assert "over its $100 budget" in violation["message"]
    assert "chat-assistant-main" in violation["urn"]


def test_cost_ceiling_is_not_applicable_without_accelerators():
    assert evaluate(ProgramRun(), {"cost-ceiling": {"stackMonthlyUsd": 1}}) == []


def test_cost_ceiling_skips_a_pool_without_instance_types(prod):
    stripped = _edited(prod, "aws:eks/nodeGroup:NodeGroup", _without("instanceTypes"))
    bill = build_plan("prod", prod)["bill"]
    aws_nodes = sum(b["monthly_usd"] for b in bill if b["type"] == "aws:eks/nodeGroup:NodeGroup")
    ceiling = _plan_total(prod) - aws_nodes + 1  # what is left once the AWS pools say nothing
    assert _by(evaluate(stripped, {"cost-ceiling": {"stackMonthlyUsd": ceiling}}), "cost-ceiling") == []


# --- carbon-aware-region --------------------------------------------------------------------


def test_carbon_cap_flags_dirty_regions_and_suggests_the_greenest(prod):
    violations = _by(evaluate(prod, {"carbon-aware-region": {"maxGco2PerKwh": 100}}), "carbon-aware-region")
    assert violations and all(v["enforcement"] == "advisory" for v in violations)
    assert any(
        "above the cap of 100" in v["message"] and "Greenest aws region offering" in v["message"] for v in violations
    )


def _flagged_workloads(results) -> set[str]:
    return {
        v["message"].split("workload '")[1].split("'")[0]
        for v in _by(results, "carbon-aware-region")
        if "workload '" in v["message"]
    }


def test_carbon_exemptions(prod):
    cap = {"maxGco2PerKwh": 100}
    assert "content-moderation" in _flagged_workloads(evaluate(prod, {"carbon-aware-region": cap}))
    exempt = {"carbon-aware-region": {**cap, "exemptWorkloads": ["content-moderation", "chat-assistant"]}}
    assert not _flagged_workloads(evaluate(prod, exempt)) & {"content-moderation", "chat-assistant"}


def test_carbon_policy_can_be_disabled_by_config(prod):
    config = {"carbon-aware-region": {"maxGco2PerKwh": 1, "enforcementLevel": "disabled"}}
    assert _by(evaluate(prod, config), "carbon-aware-region") == []


def test_enforcement_can_be_raised_by_config(prod):
    config = {"carbon-aware-region": {"maxGco2PerKwh": 100, "enforcementLevel": "mandatory"}}
    results = evaluate(prod, config)
    assert _by(results, "carbon-aware-region") and is_blocking(results)


# --- hipaa-encryption -----------------------------------------------------------------------


def test_hipaa_workload_on_a_public_dev_cluster_is_a_mandatory_violation():
    run = _run("dev", workloads=[IMAGING_ON_AWS])
    violations = _by(evaluate(run), "hipaa-encryption")
    assert violations and all(v["enforcement"] == "mandatory" for v in violations)
    assert any("its API endpoint is public" in v["message"] for v in violations)
    assert all("serves HIPAA workloads (diagnostic-imaging)" in v["message"] for v in violations)


def test_hipaa_workload_in_prod_defaults_is_compliant():
    run = _run("prod", workloads=[IMAGING_ON_AWS])
    assert any(r.type == "aws:eks/nodeGroup:NodeGroup" for r in run.registrations)
    assert _by(evaluate(run), "hipaa-encryption") == []


def test_hipaa_is_not_applicable_without_hipaa_workloads(prod):
    assert _by(evaluate(prod), "hipaa-encryption") == []


def test_hipaa_missing_encryption_config_is_a_violation():
    run = _run("prod", workloads=[IMAGING_ON_AWS])
    stripped = _edited(run, "aws:eks/cluster:Cluster", _without("encryptionConfig"))
    messages = [v["message"] for v in _by(evaluate(stripped), "hipaa-encryption")]
    assert any("secrets are not envelope-encrypted" in m for m in messages)


def test_hipaa_rules_judge_the_gcp_fleet_of_the_imaging_workload_from_its_own_inputs(prod):
    """In prod the HIPAA imaging workload lands on GCP: its regions' GKE clusters, node pools,
    keys and buckets are compliant as built, and each weakened input is named."""
    imaging = [
        r.inputs for r in prod.registrations if r.type == PLACEMENT and r.inputs["workload"] == "diagnostic-imaging"
    ]
    gcp_regions = {p["region"] for p in imaging if p["cloud"] == "gcp"}
    assert gcp_regions, "the prod example places the HIPAA workload on GCP"
    assert _by(evaluate(prod), "hipaa-encryption") == []
    weakened = {
        "gcp:container/nodePool:NodePool": (
            lambda i: {**i, "nodeConfig": {k: v for k, v in i["nodeConfig"].items() if k != "bootDiskKmsKey"}},
            "boot disks are not encrypted with a customer-managed key",
        ),
        "gcp:container/cluster:Cluster": (
            lambda i: {**i, "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False},
                       "databaseEncryption": {"state": "DECRYPTED"}},
            "control plane has a public endpoint",
        ),
        "gcp:storage/bucket:Bucket": (_without("encryption"), "no default customer-managed key"),
        "gcp:kms/cryptoKey:CryptoKey": (_without("rotationPeriod"), "never rotated"),
    }  # fmt: skip
    for type_, (edit, fragment) in weakened.items():
        messages = [v["message"] for v in _by(evaluate(_edited(prod, type_, edit)), "hipaa-encryption")]
        assert any(fragment in m for m in messages), type_
        assert all("serves HIPAA workloads" in m for m in messages)
    cluster = _edited(prod, "gcp:container/cluster:Cluster", weakened["gcp:container/cluster:Cluster"][0])
    messages = [v["message"] for v in _by(evaluate(cluster), "hipaa-encryption")]
    assert any("secrets are not encrypted with a customer-managed key" in m for m in messages)


def test_hipaa_rules_judge_an_azure_fleet_of_the_imaging_workload_from_its_own_inputs():
    """Where a business associate agreement covers Azure, the imaging workload may land there: its
    AKS clusters, agent pools, key vaults, keys and storage accounts are compliant as built, and each
    weakened input is named."""
    run = _run("prod", workloads=[IMAGING_ON_AZURE], hipaaClouds=["aws", "gcp", "azure"])
    assert {r.inputs["cloud"] for r in run.registrations if r.type == PLACEMENT} == {"azure"}
    assert _by(evaluate(run), "hipaa-encryption") == []
    weakened = {
        "azure-native:containerservice:ManagedCluster": (
            lambda i: {**i, "apiServerAccessProfile": {"enablePrivateCluster": False},
                       "securityProfile": {"azureKeyVaultKms": {"enabled": False}}},
            "API server is public",
        ),
        "azure-native:containerservice:AgentPool": (
            lambda i: {**i, "enableEncryptionAtHost": False}, "enableEncryptionAtHost must be true",
        ),
        "azure-native:keyvault:Vault": (
            lambda i: {**i, "properties": {**i["properties"], "enablePurgeProtection": False}}, "can be purged",
        ),
        "azure-native:keyvault:Key": (
            lambda i: {**i, "properties": {k: v for k, v in i["properties"].items() if k != "rotationPolicy"}},
            "never rotated",
        ),
        "azure-native:storage:StorageAccount": (
            lambda i: {**i, "minimumTlsVersion": "TLS1_0", "encryption": {"keySource": "Microsoft.Storage"}},
            "older than 1.2",
        ),
        "azure-native:monitor:DiagnosticSetting": (
            lambda i: {**i, "logs": [{"category": "kube-apiserver", "enabled": True}]}, "audit logs go nowhere",
        ),
    }  # fmt: skip
    for type_, (edit, fragment) in weakened.items():
        messages = [v["message"] for v in _by(evaluate(_edited(run, type_, edit)), "hipaa-encryption")]
        assert any(fragment in m for m in messages), type_
        assert all("serves HIPAA workloads" in m for m in messages)
    cluster_type = "azure-native:containerservice:ManagedCluster"
    cluster = _edited(run, cluster_type, weakened[cluster_type][0])
    messages = [v["message"] for v in _by(evaluate(cluster), "hipaa-encryption")]
    assert any("secrets are not encrypted with a customer-managed key" in m for m in messages)
    storage = _edited(run, "azure-native:storage:StorageAccount", weakened["azure-native:storage:StorageAccount"][0])
    messages = [v["message"] for v in _by(evaluate(storage), "hipaa-encryption")]
    assert any("no customer-managed key" in m for m in messages)


# --- hygiene --------------------------------------------------------------------------------


def test_provider_without_cost_centre_tag_is_flagged(prod):
    untagged = _edited(
        prod,
        "pulumi:providers:aws",
        lambda inputs: {**inputs, "defaultTags": json.dumps({"tags": {"environment": "prod"}})},
    )
    violations = _by(evaluate(untagged), "cost-allocation-tags")
    assert violations and all("does not default-tag ['cost-centre']" in v["message"] for v in violations)


def test_accelerators_without_a_budget_alarm_are_flagged(prod):
    no_budgets = replace(prod, registrations=[r for r in prod.registrations if r.type != "aws:budgets/budget:Budget"])
    (violation,) = _by(evaluate(no_budgets), "budget-alarm-required")
    assert "on aws" in violation["message"] and "has no aws budget alarm" in violation["message"]
    assert _by(evaluate(prod), "budget-alarm-required") == []


def test_gke_pools_need_a_gcp_budget_of_their_own(prod):
    """AWS budgets do not watch GCP spend: GKE pools without a GCP budget are flagged."""
    no_gcp = replace(prod, registrations=[r for r in prod.registrations if r.type != "gcp:billing/budget:Budget"])
    (violation,) = _by(evaluate(no_gcp), "budget-alarm-required")
    assert "on gcp" in violation["message"] and "has no gcp budget alarm" in violation["message"]


def test_aks_pools_need_an_azure_budget_and_the_stacks_own_tags(prod):
    """Azure providers set no default tags, so each AKS pool carries the stack's cost tags itself."""
    no_azure = replace(
        prod, registrations=[r for r in prod.registrations if r.type != "azure-native:consumption:Budget"]
    )
    (violation,) = _by(evaluate(no_azure), "budget-alarm-required")
    assert "on azure" in violation["message"] and "has no azure budget alarm" in violation["message"]
    untagged = _edited(
        prod,
        "azure-native:containerservice:AgentPool",
        lambda inputs: {**inputs, "tags": {k: v for k, v in inputs["tags"].items() if k != "cost-centre"}},
    )
    violations = _by(evaluate(untagged), "cost-allocation-tags")
    assert violations and all("lacks the cost-allocation tag(s) ['cost-centre']" in v["message"] for v in violations)


def test_every_policy_has_a_config_schema():
    from tensorfleet.policy_run import _pack

    assert all(policy.config_schema is not None for policy in _pack()[0])


def test_hipaa_rules_can_cover_more_workloads_by_config():
    run = _run("dev")  # no HIPAA workload, and a public dev endpoint
    assert _by(evaluate(run), "hipaa-encryption") == []
    config = {"hipaa-encryption": {"additionalWorkloads": ["recommendation-embeddings"]}}
    violations = _by(evaluate(run, config), "hipaa-encryption")
    assert any("its API endpoint is public" in v["message"] for v in violations)


def test_required_tags_are_configurable(prod):
    config = {"cost-allocation-tags": {"resourceTags": ["workload", "tenant", "owner"]}}
    violations = _by(evaluate(prod, config), "cost-allocation-tags")
    assert violations and all("lacks the cost-allocation tag(s) ['owner']" in v["message"] for v in violations)


def test_an_unknown_value_on_one_resource_does_not_hide_the_others(prod):
    from pulumi.output import Unknown

    providers = [r for r in prod.registrations if r.type == "pulumi:providers:aws"]
    first, second = providers[0], providers[1]
    edited = replace(
        prod,
        registrations=[
            replace(r, inputs={**r.inputs, "defaultTags": Unknown()})
            if r.urn == first.urn
            else replace(r, inputs={**r.inputs, "defaultTags": json.dumps({"tags": {}})})
            if r.urn == second.urn
            else r
            for r in prod.registrations
        ],
    )
    results = _by(evaluate(edited), "cost-allocation-tags")
    assert {r["urn"] for r in results} == {first.urn, second.urn}
    (note,) = [r for r in results if r["urn"] == first.urn]
    assert note["enforcement"] == "advisory" and note["message"].startswith("can't run policy 'cost-allocation-tags'")
    (violation,) = [r for r in results if r["urn"] == second.urn]
    assert "does not default-tag" in violation["message"]


def test_hipaa_bucket_policy_unknown_in_preview_waits_and_a_known_bad_one_fails():
    run = _run("prod", workloads=[IMAGING_ON_AWS])  # echo mocks: the policy text depends on the bucket ARN
    assert _by(evaluate(run), "hipaa-encryption") == []
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    allow_all = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    edited = _edited(run, "aws:s3/bucketPolicy:BucketPolicy", lambda inputs: {**inputs, "policy": allow_all})
    messages = [v["message"] for v in _by(evaluate(edited), "hipaa-encryption")]
    assert messages and all("does not deny requests without TLS" in m for m in messages)


def test_the_stacks_usage_assumptions_reach_the_plan_and_the_pack_alike():
    heavy = _run("prod", usage={"nat_gb_per_gateway_month": 2000})
    plan = build_plan("prod", heavy)
    nat_data = [b for b in plan["bill"] if b["item"] == "nat_gateway_data"]
    assert nat_data and all(b["quantity"] == 2000 for b in nat_data)
    total = plan["totals"]["monthly_usd"]
    assert _by(evaluate(heavy, {"cost-ceiling": {"stackMonthlyUsd": total + 1}}), "cost-ceiling") == []
    assert _by(evaluate(heavy, {"cost-ceiling": {"stackMonthlyUsd": total - 1}}), "cost-ceiling")
