"""The serving guardrails over the Kubernetes objects of real program runs: compliant as built, and
each weakened object named."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from tensorfleet.engine import ProgramRun
from tensorfleet.policy_run import evaluate
from tests.conftest import example_run

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LWS = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
SERVING = ("accelerator-disruption-budget", "accelerator-quota", "pinned-images", "graceful-drain")


def _by(results, policy):
    return [r for r in results if r["policy"] == policy]


def _edited(run: ProgramRun, type_: str, edit, first_only: bool = True) -> ProgramRun:
    """The run with ``edit`` applied (in place, on a copy) to the inputs of the first registration of
    ``type_`` (or every one)."""
    done = False
    registrations = []
    for r in run.registrations:
        if r.type == type_ and not (first_only and done):
            inputs = copy.deepcopy(r.inputs)
            edit(inputs)
            r = replace(r, inputs=inputs)
            done = True
        registrations.append(r)
    assert done, type_
    return replace(run, registrations=registrations)


def _dropped(run: ProgramRun, type_: str) -> ProgramRun:
    return replace(run, registrations=[r for r in run.registrations if r.type != type_])


@pytest.fixture(scope="module")
def staging():
    return example_run("staging")


def test_the_serving_layer_as_built_is_compliant_and_every_rule_applies(staging):
    results = evaluate(staging)
    assert [r for r in results if r["policy"] in SERVING] == []


def test_an_accelerator_workload_without_a_disruption_budget_is_a_mandatory_violation(staging):
    violations = _by(evaluate(_dropped(staging, "kubernetes:policy/v1:PodDisruptionBudget")), SERVING[0])
    deployments = [r for r in staging.registrations if r.type in (DEPLOYMENT, LWS)]
    assert len(violations) == len(deployments)
    assert all(v["enforcement"] == "mandatory" and "no PodDisruptionBudget" in v["message"] for v in violations)

    def select_nothing(inputs):
        inputs["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/instance": "someone-else"}}

    one = _by(evaluate(_edited(staging, "kubernetes:policy/v1:PodDisruptionBudget", select_nothing)), SERVING[0])
    assert len(one) == 1


def test_a_namespace_without_an_accelerator_quota_is_flagged(staging):
    def other_resource(inputs):
        inputs["spec"]["hard"] = {"requests.cpu": "64"}

    violations = _by(evaluate(_edited(staging, "kubernetes:core/v1:ResourceQuota", other_resource)), SERVING[1])
    assert violations and all("has no ResourceQuota on it" in v["message"] for v in violations)


@pytest.mark.parametrize(
    ("image", "problem"),
    [("vllm/vllm-openai", "has no tag"), ("vllm/vllm-openai:latest", "tagged latest"),
     ("registry.example.com:5000/vllm", "has no tag")],
)  # fmt: skip
def test_unpinned_images_are_flagged(staging, image, problem):
    def unpin(inputs):
        inputs["spec"]["template"]["spec"]["containers"][0]["image"] = image

    (violation,) = _by(evaluate(_edited(staging, DEPLOYMENT, unpin)), SERVING[2])
    assert problem in violation["message"] and image in violation["message"]


def test_a_digest_or_a_port_in_the_registry_is_pinned():
    from serving_rules import image_problem

    assert image_problem("registry.example.com:5000/vllm:v0.29.0") is None
    assert image_problem("vllm/vllm-openai@sha256:" + "a" * 64) is None


def test_pods_holding_accelerators_must_drain_gracefully(staging):
    def no_pre_stop(inputs):
        del inputs["spec"]["template"]["spec"]["containers"][0]["lifecycle"]

    (violation,) = _by(evaluate(_edited(staging, DEPLOYMENT, no_pre_stop)), SERVING[3])
    assert "has no preStop hook" in violation["message"]

    def short_grace(inputs):
        template = inputs["spec"]["leaderWorkerTemplate"]["workerTemplate"]
        template["spec"]["terminationGracePeriodSeconds"] = 5

    (violation,) = _by(evaluate(_edited(staging, LWS, short_grace)), SERVING[3])
    assert "no more than its preStop pause" in violation["message"]


def test_the_rules_do_not_apply_where_nothing_holds_accelerators(staging):
    bare = replace(staging, registrations=[r for r in staging.registrations if r.type not in (DEPLOYMENT, LWS)])
    assert [r for r in evaluate(bare) if r["policy"] in SERVING] == []
