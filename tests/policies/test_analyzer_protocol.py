"""The pack through its real analyzer gRPC protocol, on loopback, as `pulumi preview --policy-pack` drives it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pulumi.runtime.proto import analyzer_pb2

from tensorfleet.engine import read_stack_config, run_program
from tests.policy_harness import analyze, analyze_stack, configure, running_pack

IMAGING_ON_AWS = {
    "profile": "workloads/examples/diagnostic-imaging.yaml",
    "overrides": {"placement": {"clouds": ["aws"]}},
}


def _run(stack, **changes):
    config, secret_keys = read_stack_config(stack)
    config.update({f"tensorfleet:{k}": json.dumps(v) for k, v in changes.items()})
    return run_program(stack, config, secret_keys)


@pytest.fixture(scope="module")
def pack():
    with running_pack() as stub:
        yield stub


def test_example_environment_passes(pack):
    configure(pack, {"cost-ceiling": {"stackMonthlyUsd": 400000}})
    assert analyze_stack(pack, _run("prod")) == []


def test_non_compliant_fixture_yields_mandatory_violations(pack):
    configure(pack, {"cost-ceiling": {"stackMonthlyUsd": 400000}})
    diagnostics = analyze_stack(pack, _run("dev", workloads=[IMAGING_ON_AWS]))
    hipaa = [d for d in diagnostics if d.policyName == "hipaa-encryption"]
    assert hipaa and all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in hipaa)
    assert any("its API endpoint is public" in d.message for d in hipaa)
    assert {d.policyPackName for d in diagnostics} == {"tensorfleet-guardrails"}


def test_policy_config_override_sets_threshold_and_enforcement(pack):
    run = _run("prod")
    overrides = {
        "cost-ceiling": {"stackMonthlyUsd": 1},
        "carbon-aware-region": {"maxGco2PerKwh": 100, "enforcementLevel": "mandatory"},
    }
    configure(pack, overrides)
    diagnostics = analyze_stack(pack, run)
    (cost,) = [d for d in diagnostics if d.policyName == "cost-ceiling"]
    assert cost.enforcementLevel == analyzer_pb2.MANDATORY and "exceeds the stack ceiling $1" in cost.message
    carbon = [d for d in diagnostics if d.policyName == "carbon-aware-region"]
    assert carbon and all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in carbon)


def test_resource_policy_through_analyze(pack):
    configure(pack, {})
    run = _run("prod")
    provider = next(r for r in run.registrations if r.type == "pulumi:providers:aws")
    untagged = replace(provider, inputs={**provider.inputs, "defaultTags": json.dumps({"tags": {}})})
    diagnostics = analyze(pack, run, untagged)
    assert [d.policyName for d in diagnostics] == ["cost-allocation-tags"]
    assert "does not default-tag ['environment', 'cost-centre']" in diagnostics[0].message
    assert analyze(pack, run, provider) == []


def test_pack_reports_its_policies_and_defaults(pack):
    from google.protobuf import empty_pb2

    info = pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert info.name == "tensorfleet-guardrails"
    assert levels == {
        "cost-ceiling": analyzer_pb2.MANDATORY,
        "carbon-aware-region": analyzer_pb2.ADVISORY,
        "hipaa-encryption": analyzer_pb2.MANDATORY,
        "cost-allocation-tags": analyzer_pb2.ADVISORY,
        "budget-alarm-required": analyzer_pb2.ADVISORY,
        "accelerator-disruption-budget": analyzer_pb2.MANDATORY,
        "accelerator-quota": analyzer_pb2.MANDATORY,
        "pinned-images": analyzer_pb2.MANDATORY,
        "graceful-drain": analyzer_pb2.ADVISORY,
    }
