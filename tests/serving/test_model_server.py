"""Model-server manifests for every placement of the example stacks: valid against the Kubernetes
schemas (strict) and KEDA's published CRD, and true to the planner's sizing."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.serving import server_objects, service_account
from components.serving.images import ACCELERATOR_RESOURCES, SERVER_IMAGES, family_of
from components.serving.manifests import ServerSpec, load_seconds
from regions.catalog import load_catalog
from regions.placement import place_fleet
from tensorfleet.engine import read_stack_config
from tensorfleet.fleet.serving import INSTANCE_TYPE_LABEL, server_spec
from tensorfleet.program_config import decode_value
from tensorfleet.stack_config import parse_stack_config
from tests.conftest import ENVIRONMENTS
from workloads.loading import load_profile

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "data" / "crds"
KUBERNETES = "1.34.0"
"""A current Kubernetes minor that EKS, GKE and AKS all run in 2026."""


@functools.cache
def _stack(name: str):
    config, _ = read_stack_config(name)
    values = {k.removeprefix("tensorfleet:"): v for k, v in config.items() if k.startswith("tensorfleet:")}
    parsed = parse_stack_config({k: decode_value(k, v) for k, v in values.items()}, name)
    catalog = load_catalog()
    profiles = [load_profile(ROOT / ref.profile, ref.overrides) for ref in parsed.workloads]
    settings = parsed.placement_settings(catalog)
    return place_fleet(profiles, catalog, settings), settings


def _servers(name: str):
    plan, settings = _stack(name)
    for workload in plan.workloads:
        for row in workload.rows:
            spec = server_spec(workload, row, settings.sizing)
            if spec is not None:
                yield workload, row, spec


@functools.cache
def _crd_schema(kind: str) -> dict:
    document = yaml.safe_load((CRDS / "keda.sh_scaledobjects.yaml").read_text())
    assert document["spec"]["names"]["kind"] == kind
    (version,) = [v for v in document["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


def _validate(manifest: dict) -> None:
    if manifest["apiVersion"] == "keda.sh/v1alpha1":
        jsonschema.validate(manifest, _crd_schema(manifest["kind"]))
    elif manifest["kind"] == "LeaderWorkerSet":
        from tests.serving.test_kubernetes_layer import crd_schema

        jsonschema.validate(manifest, crd_schema("leaderworkerset.x-k8s.io_leaderworkersets.yaml", "v1"))
        for role in ("leaderTemplate", "workerTemplate"):
            pod = {"apiVersion": "v1", "kind": "Pod", **manifest["spec"]["leaderWorkerTemplate"][role]}
            kubernetes_validate.validate(pod, KUBERNETES, strict=True)
    else:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def _pod(workload_object: dict) -> dict:
    """The (leader's) pod template of a Deployment or LeaderWorkerSet."""
    if workload_object["kind"] == "LeaderWorkerSet":
        return workload_object["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    return workload_object["spec"]["template"]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_llm_placement_gets_manifests_valid_for_kubernetes_and_keda(stack):
    servers = list(_servers(stack))
    assert servers
    for _, _, spec in servers:
        objects = server_objects(spec)
        first = "LeaderWorkerSet" if spec.nodes_per_replica > 1 else "Deployment"
        assert [o["kind"] for o in objects] == [
            first, "Service", "PodDisruptionBudget", "NetworkPolicy", "ScaledObject",
        ]  # fmt: skip
        for manifest in objects:
            _validate(manifest)
        _validate(service_account(spec.namespace, spec.workload, {"example.com/identity": "x"}))


def test_validation_refuses_an_unknown_field_and_a_bad_crd_value():
    (_, _, spec), *_ = _servers("prod")
    deployment, *_, scaled = server_objects(spec)
    deployment["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)
    scaled["spec"]["fallback"] = {"replicas": 2}  # failureThreshold is required
    with pytest.raises(jsonschema.ValidationError):
        _validate(scaled)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_servers_are_sized_as_planned(stack):
    """Tensor-parallel width × replicas per node = the node's accelerators, at most (a replica that
    spans nodes takes each whole: width × nodes = the replica's accelerators); replica bounds are
    the planner's node bounds in replicas; the pod lands only on its pool."""
    for workload, row, spec in _servers(stack):
        offering = row.choice.option.offering
        point = row.choice.option.point
        assert spec.accelerators_per_replica * spec.replicas_per_node <= offering.accelerator_count
        assert spec.accelerators_per_replica * spec.nodes_per_replica == point.accelerators_per_replica
        if spec.nodes_per_replica > 1:
            assert spec.accelerators_per_replica == offering.accelerator_count and spec.replicas_per_node == 1
        workload_object, _, _, _, scaled = server_objects(spec)
        container = _pod(workload_object)["spec"]["containers"][0]
        resource = ACCELERATOR_RESOURCES[family_of(offering.accelerator)]
        assert container["resources"]["limits"] == {resource: str(point.tensor_parallel)}
        if spec.custom is None:
            assert f"--tensor-parallel-size={point.tensor_parallel}" in container["args"]
            # vLLM caps all requests of a replica: every pipeline stage's batch in flight.
            assert f"--max-num-seqs={point.batch * point.nodes_per_replica}" in container["args"]
            assert container["image"] == SERVER_IMAGES[family_of(offering.accelerator)].image
        else:  # a measured model in its team's server
            assert container["image"] == spec.custom.image
        assert not container["image"].endswith(":latest") and ":" in container["image"]

        def replicas(nodes: int, per_node: float = point.per_node) -> int:
            assert (nodes * per_node).is_integer()  # nodes come in whole groups
            return int(nodes * per_node)

        assert scaled["spec"]["maxReplicaCount"] == replicas(row.choice.nodes_max)
        assert scaled["spec"]["fallback"]["replicas"] == workload_object["spec"]["replicas"]
        assert workload_object["spec"]["replicas"] == replicas(row.choice.nodes_desired)
        floor = 0 if workload.profile.scaling.scale_to_zero else replicas(row.choice.nodes_min)
        # One replica at least: at zero the server's own metrics, which wake it, are gone.
        assert scaled["spec"]["minReplicaCount"] == max(floor, 1)
        selector = _pod(workload_object)["spec"]["nodeSelector"]
        assert selector["tensorfleet.io/workload"] == workload.profile.name and INSTANCE_TYPE_LABEL in selector
        tolerated = {t["key"] for t in _pod(workload_object)["spec"]["tolerations"]}
        assert resource in tolerated


def test_tpu_servers_land_on_the_slices_gke_machine_type():
    tpu = [(row, spec) for _, row, spec in _servers("dev") if spec.accelerator.startswith("TPU")]
    assert tpu, "the dev example serves document summaries on a TPU slice"
    for row, spec in tpu:
        assert spec.node_selector[INSTANCE_TYPE_LABEL].startswith("ct")
        assert spec.node_selector[INSTANCE_TYPE_LABEL] != row.choice.option.offering.instance_type
        (deployment, *_) = server_objects(spec)
        limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert set(limits) == {"google.com/tpu"}


def test_only_the_gateway_and_prometheus_may_reach_a_server_and_scaling_reads_vllm_metrics():
    (_, _, spec), *_ = _servers("prod")
    _, _, budget, policy, scaled = server_objects(spec)
    sources = [
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for s in policy["spec"]["ingress"][0]["from"]
    ]
    assert sources == ["tensorfleet-gateway", "tensorfleet-metrics"]
    assert budget["spec"]["maxUnavailable"] == 1
    queries = [t["metadata"]["query"] for t in scaled["spec"]["triggers"]]
    assert "vllm:num_requests_waiting" in queries[0] and "vllm:e2e_request_latency_seconds_bucket" in queries[1]
    assert all(spec.model in q and spec.namespace in q for q in queries)
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_startup_allows_weights_to_load_and_drain_outlasts_requests():
    spec = next(s for _, _, s in _servers("prod") if s.weights_gb)
    deployment, *_ = server_objects(spec)
    pod = deployment["spec"]["template"]["spec"]
    startup = pod["containers"][0]["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= load_seconds(spec.weights_gb)
    assert load_seconds(2 * spec.weights_gb) > load_seconds(spec.weights_gb)
    assert pod["terminationGracePeriodSeconds"] > pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]


def test_impossible_replica_bounds_are_refused():
    (_, _, spec), *_ = _servers("prod")
    from dataclasses import replace

    with pytest.raises(ValueError, match="min <= fallback <= max"):
        server_objects(replace(spec, replicas_min=5, replicas_fallback=2))
    json.dumps(server_objects(spec))  # manifests are plain JSON


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_each_tenant_namespace_is_valid_and_its_quota_is_what_its_servers_scale_to(stack):
    from collections import defaultdict

    from components.serving import accelerator_quota, tenant_objects

    by_namespace: dict[tuple[str, str, str], list[ServerSpec]] = defaultdict(list)
    for _, row, spec in _servers(stack):
        by_namespace[(row.region.cloud, row.region.code, spec.namespace)].append(spec)
    assert by_namespace
    for (_, _, namespace), servers in by_namespace.items():
        objects = tenant_objects(namespace, servers)
        assert [o["kind"] for o in objects] == ["Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange"]
        for manifest in objects:
            _validate(manifest)
        deny = objects[1]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}  # selects all pods, admits nothing
        hard = objects[2]["spec"]["hard"]
        at_max: dict[str, int] = defaultdict(int)
        for spec in servers:
            workload_object = server_objects(spec)[0]
            pods = spec.nodes_per_replica  # a group's leader and workers request alike
            ((resource, chips),) = _pod(workload_object)["spec"]["containers"][0]["resources"]["requests"].items()
            at_max[resource] += int(chips) * pods * spec.replicas_max
        assert {k.removeprefix("requests."): int(v) for k, v in hard.items()} == dict(at_max)
        assert accelerator_quota(servers) == dict(sorted(at_max.items()))
