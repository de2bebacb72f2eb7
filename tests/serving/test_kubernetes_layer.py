"""The serving layer as the program registers it, for every cluster of every example stack: add-ons
by the cluster's cloud and pools, a model server per LLM placement row, tenants with their cloud
identities; every registered object valid against the Kubernetes schemas and KEDA's CRD."""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.aws.policies import CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, cluster_autoscaler_policy
from components.k8s.addons import CHARTS, CLUSTER_AUTOSCALER_CHARTS, AcceleratorPool, accelerator_addons
from components.serving.manifests import PROMETHEUS_URL
from tensorfleet.report import SECRET_PLACEHOLDER, build_plan
from tests.conftest import ENVIRONMENTS, example_run
from tests.serving.test_model_server import CRDS, KUBERNETES

LAYER = "tensorfleet:k8s:KubernetesLayer"
SERVER = "tensorfleet:serving:ModelServer"
RELEASE = "kubernetes:helm.sh/v3:Release"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LWS = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"


@functools.cache
def crd_schema(file: str, version: str) -> dict[str, Any]:
    """The OpenAPI schema of one version of a published CRD in ../shared/data/crds."""
    document = yaml.safe_load((CRDS / file).read_text())
    (served,) = [v for v in document["spec"]["versions"] if v["name"] == version]
    return served["schema"]["openAPIV3Schema"]


@functools.cache
def _plan(stack: str) -> dict[str, Any]:
    return build_plan(stack, example_run(stack))


def _resources(stack: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in _plan(stack)["resources"] if r["type"] == type_]


def _under(stack: str, ancestor_urn: str) -> list[dict[str, Any]]:
    """Every resource registered below ``ancestor_urn`` (children, grandchildren...)."""
    resources = _plan(stack)["resources"]
    by_urn = {r["urn"]: r for r in resources}

    def descends(resource: dict[str, Any]) -> bool:
        parent = resource["parent"]
        while parent:
            if parent == ancestor_urn:
                return True
            parent = by_urn[parent]["parent"] if parent in by_urn else None
        return False

    return [r for r in resources if descends(r)]


def _integral(value: Any) -> Any:
    """Wire numbers arrive as floats; the schemas want integers where they are whole."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _manifest(resource: dict[str, Any]) -> dict[str, Any]:
    """The registered object as the API server would receive it; values known only at deployment
    (identity e-mails and client IDs) stand in as placeholder strings, which the schemas accept."""
    return _integral(resource["inputs"])


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_cluster_gets_a_kubernetes_layer_with_its_add_ons(stack):
    plan = _plan(stack)
    clusters = {(p["cloud"], p["region"]) for p in plan["placements"]}
    layers = {(r["cloud"], r["region"]): r for r in _resources(stack, LAYER)}
    assert set(layers) == clusters
    for (cloud, region), layer in layers.items():
        below = _under(stack, layer["urn"])
        releases = {r["inputs"]["name"]: r for r in below if r["type"] == RELEASE}
        assert {"keda", "prometheus"} <= set(releases)
        assert ("cluster-autoscaler" in releases) == (cloud == "aws")
        families = {p["accelerator"] for p in plan["placements"] if (p["cloud"], p["region"]) == (cloud, region)}
        nvidia_plugin = cloud in ("aws", "azure") and not any(f.startswith("TPU") for f in families)
        assert ("nvidia-device-plugin" in releases) == nvidia_plugin, (cloud, region, sorted(releases))
        for name, release in releases.items():
            chart = CLUSTER_AUTOSCALER_CHARTS["1.33"] if name == "cluster-autoscaler" else CHARTS[name]
            assert release["inputs"]["version"] == chart.version and release["inputs"]["chart"] == chart.chart
            assert release["inputs"]["namespace"] == chart.namespace
            assert release["inputs"]["atomic"] is True
            assert (release["cloud"], release["region"]) == (cloud, region)
        (provider,) = [r for r in below if r["type"] == "pulumi:providers:kubernetes"]
        assert provider["inputs"]["kubeconfig"] == SECRET_PLACEHOLDER


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_placement_row_is_a_model_server_on_its_cluster(stack):
    """LLMs in vLLM, the measured imaging model in the server its profile names; each server is
    told where its workload's artifacts are."""
    plan = _plan(stack)
    served = defaultdict(int)
    for layer in _resources(stack, LAYER):
        for resource in _under(stack, layer["urn"]):
            if resource["type"] in (DEPLOYMENT, LWS):
                labels = resource["inputs"]["metadata"]["labels"]
                served[(labels["tensorfleet.io/workload"], layer["cloud"], layer["region"])] += 1
    expected = defaultdict(int)
    for placement in plan["placements"]:
        workload = placement["workload"].split("/")[0]
        expected[(workload, placement["cloud"], placement["region"])] += 1
    assert dict(served) == dict(expected)
    assert len(_resources(stack, SERVER)) == sum(expected.values())
    for deployment in _resources(stack, DEPLOYMENT):
        env = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]
        assert "TENSORFLEET_ARTIFACTS" in {e["name"] for e in env}


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_registered_kubernetes_object_validates(stack):
    """Strictly against Kubernetes 1.34's schemas; ScaledObjects and LeaderWorkerSets against their
    published CRDs (and each LeaderWorkerSet's pod templates against the Kubernetes PodTemplateSpec)."""
    checked = 0
    for resource in _plan(stack)["resources"]:
        kind = resource["type"]
        if kind == SCALED_OBJECT:
            jsonschema.validate(_manifest(resource), crd_schema("keda.sh_scaledobjects.yaml", "v1alpha1"))
        elif kind == LWS:
            manifest = _manifest(resource)
            jsonschema.validate(manifest, crd_schema("leaderworkerset.x-k8s.io_leaderworkersets.yaml", "v1"))
            for role in ("leaderTemplate", "workerTemplate"):
                template = manifest["spec"]["leaderWorkerTemplate"][role]
                pod = {"apiVersion": "v1", "kind": "Pod", **template}
                kubernetes_validate.validate(pod, KUBERNETES, strict=True)
        elif kind.startswith("kubernetes:") and kind != RELEASE:
            kubernetes_validate.validate(_manifest(resource), KUBERNETES, strict=True)
        else:
            continue
        checked += 1
    assert checked >= 6 * len(_resources(stack, SERVER))


def test_service_accounts_carry_each_clouds_identity_binding():
    accounts = _resources("prod", "kubernetes:core/v1:ServiceAccount")
    assert {a["cloud"] for a in accounts} == {"aws", "gcp", "azure"}
    associations = {
        (r["inputs"]["namespace"], r["inputs"]["serviceAccount"], r["region"])
        for r in _resources("prod", "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    for account in accounts:
        metadata = account["inputs"]["metadata"]
        annotations = metadata.get("annotations", {})
        assert account["inputs"]["automountServiceAccountToken"] is False
        if account["cloud"] == "gcp":
            assert set(annotations) == {"iam.gke.io/gcp-service-account"}
        elif account["cloud"] == "azure":
            assert set(annotations) == {"azure.workload.identity/client-id"}
        else:
            assert annotations == {}
            assert (metadata["namespace"], metadata["name"], account["region"]) in associations
    for deployment in _resources("prod", DEPLOYMENT):
        pod_labels = deployment["inputs"]["spec"]["template"]["metadata"]["labels"]
        assert (pod_labels.get("azure.workload.identity/use") == "true") == (deployment["cloud"] == "azure")


def test_servers_wait_for_their_namespace_and_the_autoscaling_add_ons(prod_run):
    by_urn = {r.urn: r for r in prod_run.registrations}
    servers = [r for r in prod_run.registrations if r.type == SERVER]
    assert servers
    for server in servers:
        # A dependency on a component is one on each of its resources.
        needs = {by_urn[d].type for d in server.dependencies}
        assert {RELEASE, "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ServiceAccount"} <= needs
        names = {by_urn[d].inputs.get("name") for d in server.dependencies if by_urn[d].type == RELEASE}
        assert names == {"keda", "prometheus"}
    layers = [r for r in prod_run.registrations if r.type == LAYER]
    for layer in layers:
        # The add-ons need the untainted system nodes to schedule on.
        system = ("aws:SystemNodeGroup$", "gcp:GkeSystemPool$", "containerservice:ManagedCluster")
        assert any(marker in d for d in layer.dependencies for marker in system), layer.name


def test_prometheus_is_served_where_the_scalers_read_it():
    values = next(r for r in _resources("dev", RELEASE) if r["inputs"]["name"] == "prometheus")["inputs"]["values"]
    host, port = PROMETHEUS_URL.removeprefix("http://").rsplit(":", 1)
    name, namespace = host.split(".")[:2]
    assert values["server"]["fullnameOverride"] == name
    assert int(values["server"]["service"]["servicePort"]) == int(port)
    assert CHARTS["prometheus"].namespace == namespace
    deployment = _resources("dev", DEPLOYMENT)[0]
    annotations = deployment["inputs"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"


def test_eks_cluster_autoscaler_may_resize_only_its_own_clusters_groups():
    statements = {st["Sid"]: st for st in cluster_autoscaler_policy("tf-dev-use1")["Statement"]}
    resize = statements["ResizeOwnGroups"]
    writes = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    assert set(resize["Action"]) == writes
    assert resize["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/tf-dev-use1": "owned"}}
    # Reading managed node groups is what lets it scale a group up from zero nodes.
    assert "eks:DescribeNodegroup" in statements["DiscoverGroups"]["Action"]
    assert not writes & set(statements["DiscoverGroups"]["Action"])
    run = example_run("dev")
    (association,) = [
        r
        for r in run.registrations
        if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation" and "autoscaler" in r.name
    ]
    account = (association.inputs["namespace"], association.inputs["serviceAccount"])
    assert account == CLUSTER_AUTOSCALER_SERVICE_ACCOUNT
    values = next(r for r in _resources("dev", RELEASE) if r["inputs"]["name"] == "cluster-autoscaler")["inputs"]
    assert values["namespace"] == account[0]
    assert values["values"]["rbac"]["serviceAccount"]["name"] == account[1]


def _pool(vendor, driver="cloud"):
    return AcceleratorPool(vendor=vendor, driver=driver, instance_type="x", accelerator="A")


@pytest.mark.parametrize(
    ("cloud", "pools", "expected"),
    [
        ("aws", [_pool("nvidia")], ("nvidia-device-plugin", "dcgm-exporter")),
        ("aws", [_pool("neuron"), _pool("nvidia")], ("nvidia-device-plugin", "dcgm-exporter", "neuron")),
        ("gcp", [_pool("nvidia"), _pool("tpu")], ()),
        ("azure", [_pool("nvidia")], ("nvidia-device-plugin", "dcgm-exporter")),
        ("azure", [_pool("nvidia", "operator")], ("gpu-operator",)),
        ("azure", [_pool("amd", "operator")], ("cert-manager", "amd-gpu-operator")),
    ],
)
def test_device_add_ons_follow_who_owns_the_driver(cloud, pools, expected):
    assert accelerator_addons(cloud, tuple(pools)) == expected


@pytest.mark.parametrize(
    ("cloud", "pools", "fragment"),
    [
        ("gcp", [_pool("nvidia", "operator")], "Container-Optimized OS"),
        ("azure", [_pool("nvidia"), _pool("nvidia", "operator")], "one driver owner"),
        ("gcp", [_pool("neuron")], "only on AWS"),
        ("aws", [_pool("amd", "operator")], "AKS only"),
    ],
)
def test_device_add_ons_refuse_what_nothing_here_can_serve(cloud, pools, fragment):
    with pytest.raises(ValueError, match=fragment):
        accelerator_addons(cloud, tuple(pools))


def test_a_model_larger_than_a_node_is_a_leader_worker_set_on_compact_nodes():
    """Staging's 405B assistant: each replica two H100 nodes (tensor parallel 8 on each, two
    pipeline stages), deployed as a LeaderWorkerSet in a cluster placement group."""
    plan = _plan("staging")
    (row,) = [p for p in plan["placements"] if p["workload"] == "research-assistant"]
    assert row["accelerator_count"] == 8 and row["nodes"]["min"] % 2 == 0 and row["nodes"]["max"] % 2 == 0
    (group,) = _resources("staging", LWS)
    spec = group["inputs"]["spec"]
    template = spec["leaderWorkerTemplate"]
    assert template["size"] == 2 and template["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert spec["replicas"] == row["nodes"]["desired"] // 2
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    worker = template["workerTemplate"]["spec"]["containers"][0]
    for container, rank in ((leader, "0"), (worker, "$(LWS_WORKER_INDEX)")):
        assert "--tensor-parallel-size=8" in container["args"] and "--pipeline-parallel-size=2" in container["args"]
        assert f"--node-rank={rank}" in container["args"]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    assert "--headless" in worker["args"] and "ports" not in worker and "readinessProbe" not in worker
    name = group["inputs"]["metadata"]["name"]
    (scaler,) = [s for s in _resources("staging", SCALED_OBJECT) if s["inputs"]["metadata"]["name"] == name]
    target = scaler["inputs"]["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")
    assert scaler["inputs"]["spec"]["maxReplicaCount"] == row["nodes"]["max"] // 2
    # Not named like the LeaderWorkerSet: its controller owns the headless Service of that name.
    services = [s["inputs"] for s in _resources("staging", "kubernetes:core/v1:Service")]
    assert all(s["metadata"]["name"] != name for s in services)
    (service,) = [s for s in services if s["metadata"]["name"] == f"{name}-api"]
    assert service["spec"]["selector"]["tensorfleet.io/role"] == "leader"
    (quota,) = [
        q
        for q in _resources("staging", "kubernetes:core/v1:ResourceQuota")
        if q["inputs"]["metadata"]["namespace"] == "research"
    ]
    assert quota["inputs"]["spec"]["hard"] == {"requests.nvidia.com/gpu": str(row["nodes"]["max"] * 8)}
    releases = {r["inputs"]["name"] for r in _resources("staging", RELEASE) if r["region"] == row["region"]}
    assert "lws" in releases
    # Compact: a cluster placement group in the launch template, and subnets of one zone.
    groups = [r for r in plan["resources"] if r["type"] == "aws:ec2/placementGroup:PlacementGroup"]
    assert [g["inputs"]["strategy"] for g in groups] == ["cluster"]
    node_groups = [
        r
        for r in plan["resources"]
        if r["type"] == "aws:eks/nodeGroup:NodeGroup"
        and r["inputs"]["labels"].get("tensorfleet.io/workload") == "research-assistant"
    ]
    assert node_groups and all(len(g["inputs"]["subnetIds"]) == 1 for g in node_groups)


def test_a_measured_model_runs_in_the_server_its_profile_names():
    (deployment,) = [
        d
        for d in _resources("prod", DEPLOYMENT)
        if d["inputs"]["metadata"]["labels"]["tensorfleet.io/workload"] == "diagnostic-imaging"
        and d["region"] == "us-east4"
    ]
    pod = deployment["inputs"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "nvcr.io/nvidia/tritonserver:25.06-py3" and "command" not in container
    assert "--model-repository=$(TENSORFLEET_ARTIFACTS)" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8002"
    name = deployment["inputs"]["metadata"]["name"]
    (scaler,) = [
        s for s in _resources("prod", SCALED_OBJECT)
        if s["inputs"]["metadata"]["name"] == name and s["region"] == "us-east4"
    ]  # fmt: skip
    (trigger,) = scaler["inputs"]["spec"]["triggers"]
    assert trigger["metadata"]["query"].startswith("sum(nv_inference_pending_request_count{")
    (policy,) = [
        p for p in _resources("prod", "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p["inputs"]["metadata"]["name"] == name and p["region"] == "us-east4"
    ]  # fmt: skip
    assert [p["port"] for p in policy["inputs"]["spec"]["ingress"][0]["ports"]] == [8000, 8002]


def test_version_matched_add_ons_follow_the_clusters_kubernetes_minor():
    from components.k8s.addons import NEURON_SCHEDULER_IMAGES, check_versions

    (autoscaler,) = [r for r in _resources("dev", RELEASE) if r["inputs"]["name"] == "cluster-autoscaler"]
    assert autoscaler["inputs"]["version"] == CLUSTER_AUTOSCALER_CHARTS["1.33"].version == "9.51.0"
    assert "Cluster Autoscaler 1.33" in CLUSTER_AUTOSCALER_CHARTS["1.33"].source
    assert NEURON_SCHEDULER_IMAGES["1.33"].startswith("v1.33.")
    check_versions("aws", "1.33", ("neuron",))
    check_versions("gcp", None, ())  # GKE and AKS keep their clusters on a channel
    with pytest.raises(ValueError, match=r"no Neuron scheduler image is pinned for Kubernetes 1\.34"):
        check_versions("aws", "1.34", ("neuron",))
    with pytest.raises(ValueError, match=r"no Cluster Autoscaler is pinned for Kubernetes 1\.29"):
        check_versions("aws", "1.29", ())
