"""Shared GPUs from profile to cluster: workloads whose replicas share GPUs (MIG instances, time
slices) on each cloud, run through the real program. Each pool shares its GPUs as the planner sized
it, the device plugin advertises one ``nvidia.com/gpu`` per share, each server asks for one share
and is told its share of memory, and every object stays valid."""

from __future__ import annotations

import base64
import email
import functools
import re
import subprocess
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from azure.mgmt.containerservice import models

from components.aws.nodegroup import AUTOSCALER_TEMPLATE
from components.fleet.pool import DEVICE_PLUGIN_CONFIG_LABEL, GpuSlices
from components.k8s.addons import AcceleratorPool, ClusterAddonsArgs
from components.k8s.addons import _values as addon_values
from regions.bill import PLACEMENT_TYPE
from regions.catalog import load_catalog
from tensorfleet.report import build_plan
from tests.components.aws_mocks import run_stack
from tests.components.azure_api import agent_pool_body
from tests.components.azure_api import problems as azure_problems
from tests.components.gcp_api import node_pool_body, problems
from tests.serving.test_kubernetes_layer import DEPLOYMENT, RELEASE, SCALED_OBJECT, _manifest, crd_schema
from tests.serving.test_model_server import KUBERNETES

PROFILES = {
    # name: (cloud, sharing) as written in tests/serving/profiles/<name>.yaml
    "mig-aws": ("aws", {"mig": "1g"}),
    "slices-aws": ("aws", {"time_slicing": 2}),
    "mig-gcp": ("gcp", {"mig": "2g"}),
    "slices-gcp": ("gcp", {"time_slicing": 4}),
    "mig-azure": ("azure", {"mig": "1g"}),
}


@functools.cache
def _plan() -> dict[str, Any]:
    workloads = [{"profile": f"tests/serving/profiles/{name}.yaml"} for name in PROFILES]
    return build_plan("dev", run_stack("dev", workloads=workloads))


def _resources(type_: str) -> list[dict[str, Any]]:
    return [r for r in _plan()["resources"] if r["type"] == type_]


def _row(workload: str) -> dict[str, Any]:
    """The registered placement of the workload (wire form, with the planner's replica shape)."""
    (row,) = [r["inputs"] for r in _resources(PLACEMENT_TYPE) if r["inputs"]["workload"] == workload]
    return row


def _node_group(workload: str) -> dict[str, Any]:
    """The workload's EKS node group (its inputs)."""
    (found,) = [
        g["inputs"]
        for g in _resources("aws:eks/nodeGroup:NodeGroup")
        if g["inputs"]["labels"].get("tensorfleet.io/workload") == workload
    ]
    return found


def _deployment(workload: str) -> dict[str, Any]:
    (found,) = [
        d["inputs"]
        for d in _resources(DEPLOYMENT)
        if d["inputs"]["metadata"]["labels"].get("tensorfleet.io/workload") == workload
    ]
    return found


def test_the_profiles_are_what_this_module_says():
    for name, (cloud, sharing) in PROFILES.items():
        with open(f"tests/serving/profiles/{name}.yaml", encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        assert document["placement"]["clouds"] == [cloud] and document["model"]["gpu_sharing"] == sharing


def test_every_shared_workload_is_placed_on_gpus_it_can_share_and_counted_per_share():
    catalog = load_catalog()
    placements = {p["workload"]: p for p in _plan()["placements"]}
    for name, (cloud, sharing) in PROFILES.items():
        row = _row(name)
        assert row["cloud"] == cloud and row["acceleratorsPerReplica"] == 1
        if "mig" in sharing:
            mig = catalog.mig_profiles[(row["accelerator"], int(sharing["mig"][0]))]
            per_gpu, wanted = (
                mig.instances_per_gpu,
                {"replicas_per_gpu": mig.instances_per_gpu, "mig_profile": mig.name},
            )
        else:
            per_gpu = sharing["time_slicing"]
            wanted = {"replicas_per_gpu": per_gpu}
        assert row["replicasPerNode"] == row["acceleratorCount"] * per_gpu
        assert placements[name]["gpu_sharing"] == wanted
        assert f"{per_gpu} per GPU" in row["reason"] or f"{per_gpu} time-slicing each GPU" in row["reason"]


def test_eks_mig_nodes_split_their_gpus_at_every_boot_before_the_kubelet():
    group = _node_group("mig-aws")
    assert group["labels"][DEVICE_PLUGIN_CONFIG_LABEL] == "mig-single"
    row = _row("mig-aws")
    shares = int(row["acceleratorCount"]) * 7
    assert group["tags"][f"{AUTOSCALER_TEMPLATE}/resources/nvidia.com/gpu"] == str(shares)
    templates = [
        t["inputs"] for t in _resources("aws:ec2/launchTemplate:LaunchTemplate") if t["inputs"].get("userData")
    ]
    (template,) = templates  # only the MIG group's nodes need user data
    message = email.message_from_bytes(base64.b64decode(template["userData"]))
    assert message.is_multipart()
    (part,) = message.get_payload()
    assert part.get_content_type() == "text/x-shellscript"
    script = part.get_payload()
    subprocess.run(["bash", "-n"], input=script, text=True, check=True, timeout=30)
    (inner,) = re.findall(r"<<'SCRIPT'\n(.*?)SCRIPT\n", script, re.S)
    subprocess.run(["bash", "-n"], input=inner, text=True, check=True, timeout=30)
    assert "nvidia-smi mig -cgi " + ",".join(["1g.10gb"] * 7) + " -C" in inner
    units = dict(re.findall(r"cat > (\S+) <<'UNIT'\n(.*?)UNIT\n", script, re.S))
    mig_unit = units["/etc/systemd/system/tensorfleet-mig.service"]
    # After the AMI's driver units, before the kubelet, which cannot start without it.
    assert "After=nvidia-kmod-load.service" in mig_unit and "Before=kubelet.service" in mig_unit
    kubelet = units["/etc/systemd/system/kubelet.service.d/20-tensorfleet-mig.conf"]
    assert "Requires=tensorfleet-mig.service" in kubelet and "After=tensorfleet-mig.service" in kubelet
    # User data does not wait for it (the kubelet does), and one guarded reboot applies a pending mode.
    assert "systemctl start --no-block tensorfleet-mig.service" in script
    assert "systemctl reboot" in inner and "$guard" in inner


def test_eks_time_sliced_nodes_name_their_device_plugin_configuration():
    group = _node_group("slices-aws")
    assert group["labels"][DEVICE_PLUGIN_CONFIG_LABEL] == "time-slicing-2"
    assert group["tags"][f"{AUTOSCALER_TEMPLATE}/resources/nvidia.com/gpu"] == str(
        2 * int(_row("slices-aws")["acceleratorCount"])
    )


def test_gke_shares_the_gpus_itself():
    pools = {
        p["inputs"]["nodeConfig"]["labels"]["tensorfleet.io/workload"]: p["inputs"]
        for p in _resources("gcp:container/nodePool:NodePool")
        if "tensorfleet.io/workload" in p["inputs"]["nodeConfig"]["labels"]
    }
    for pool in (pools["mig-gcp"], pools["slices-gcp"]):
        assert problems(node_pool_body(pool), "NodePool") == []  # Google's container v1 API model
    (mig,) = pools["mig-gcp"]["nodeConfig"]["guestAccelerators"]
    assert mig["gpuPartitionSize"] == load_catalog().mig_profiles[(_row("mig-gcp")["accelerator"], 2)].name
    assert "gpuSharingConfig" not in mig
    (sliced,) = pools["slices-gcp"]["nodeConfig"]["guestAccelerators"]
    assert sliced["gpuSharingConfig"] == {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4}
    assert "gpuPartitionSize" not in sliced
    # GKE asks the pods of shared GPUs to select its sharing labels.
    assert (
        _deployment("mig-gcp")["spec"]["template"]["spec"]["nodeSelector"]["cloud.google.com/gke-gpu-partition-size"]
        == mig["gpuPartitionSize"]
    )
    selector = _deployment("slices-gcp")["spec"]["template"]["spec"]["nodeSelector"]
    assert selector["cloud.google.com/gke-gpu-sharing-strategy"] == "time-sharing"
    assert selector["cloud.google.com/gke-max-shared-clients-per-gpu"] == "4"


def test_aks_partitions_mig_pools_and_the_device_plugin_advertises_each_instance():
    (pool,) = [
        p["inputs"]
        for p in _resources("azure-native:containerservice:AgentPool")
        if p["inputs"].get("nodeLabels", {}).get("tensorfleet.io/workload") == "mig-azure"
    ]
    assert pool["gpuInstanceProfile"] == "MIG1g" and pool["nodeLabels"][DEVICE_PLUGIN_CONFIG_LABEL] == "mig-single"
    assert azure_problems(agent_pool_body(pool), models.AgentPool) == []  # the Azure SDK's AgentPool model


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_the_device_plugin_has_a_configuration_for_every_way_its_cluster_shares(cloud):
    (release,) = [
        r for r in _resources(RELEASE) if r["cloud"] == cloud and r["inputs"]["chart"] == "nvidia-device-plugin"
    ]
    config = release["inputs"]["values"]["config"]
    assert config["default"] == "default"
    configs = {name: yaml.safe_load(text) for name, text in config["map"].items()}
    wanted = {"default", "mig-single"} | ({"time-slicing-2"} if cloud == "aws" else set())
    assert set(configs) == wanted
    assert configs["default"] == {"version": "v1", "flags": {"migStrategy": "none"}}
    assert configs["mig-single"]["flags"]["migStrategy"] == "single"
    if cloud == "aws":
        slicing = configs["time-slicing-2"]["sharing"]["timeSlicing"]
        assert slicing["resources"] == [{"name": "nvidia.com/gpu", "replicas": 2}]
        assert slicing["renameByDefault"] is False and slicing["failRequestsGreaterThanOne"] is True


@pytest.mark.parametrize("workload", sorted(PROFILES))
def test_each_server_asks_for_one_share_and_is_told_its_share_of_memory(workload):
    (container,) = _deployment(workload)["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    utilisation = next(
        float(a.split("=", 1)[1]) for a in container["args"] if a.startswith("--gpu-memory-utilization=")
    )
    time_slices = PROFILES[workload][1].get("time_slicing")
    assert utilisation == pytest.approx(0.9 / time_slices if time_slices else 0.9, abs=1e-6)
    assert "--tensor-parallel-size=1" in container["args"]
    kv = [int(a.split("=", 1)[1]) for a in container["args"] if a.startswith("--kv-cache-memory-bytes=")]
    if time_slices:
        # Told its KV cache: its share of the GPU's usable memory less its own copy of the weights
        # (Qwen2.5-1.5B: 1.54e9 bf16 parameters), not what it would measure beside the others.
        spec = load_catalog().spec(_row(workload)["accelerator"])
        assert spec is not None
        assert kv == [int(spec.memory_gib / time_slices * 2**30 * 0.9 - 1.54e9 * 2)]
    else:
        assert kv == []  # a MIG instance is a device of its own: the server measures it


def test_quotas_count_shares_and_every_object_validates():
    # Per cluster (one per cloud and region): the tenant's quota holds every share its nodes offer
    # at the planner's maximum, nodes x GPUs x shares per GPU, as the placements state them.
    offered: dict[tuple[str, str], int] = {}
    for placement in _resources(PLACEMENT_TYPE):
        row = placement["inputs"]
        key = (row["cloud"], row["region"])
        shares = int(row["gpuSharing"]["replicasPerGpu"])
        offered[key] = offered.get(key, 0) + int(row["nodes"]["max"]) * int(row["acceleratorCount"]) * shares
    quotas = {
        (q["cloud"], q["region"]): q["inputs"]["spec"]["hard"]["requests.nvidia.com/gpu"]
        for q in _resources("kubernetes:core/v1:ResourceQuota")
        if q["inputs"]["metadata"]["namespace"] == "shared-gpus"
    }
    assert set(quotas) == set(offered) and len(quotas) >= 3
    for key, hard in quotas.items():
        assert hard == str(offered[key])
    checked = 0
    for resource in _plan()["resources"]:
        kind = resource["type"]
        if kind == SCALED_OBJECT:
            jsonschema.validate(_manifest(resource), crd_schema("keda.sh_scaledobjects.yaml", "v1alpha1"))
        elif kind.startswith("kubernetes:") and kind != RELEASE:
            kubernetes_validate.validate(_manifest(resource), KUBERNETES, strict=True)
        else:
            continue
        checked += 1
    assert checked > 6 * len(PROFILES)


def test_the_gpu_operator_shares_gpus_where_it_owns_the_driver():
    """AKS pools whose driver the GPU operator installs: its device plugin gets the configurations,
    and its MIG manager may reboot a node to enable MIG mode (cloud VMs may refuse a GPU reset)."""
    mig = GpuSlices(replicas_per_gpu=7, mig_profile="1g.10gb")
    pools = (
        AcceleratorPool(vendor="nvidia", driver="operator", instance_type="Standard_NC24ads_A100_v4",
                        accelerator="A100-80GB-PCIe", gpu_slices=mig),
        AcceleratorPool(vendor="nvidia", driver="operator", instance_type="Standard_NC4as_T4_v3",
                        accelerator="T4", gpu_slices=GpuSlices(replicas_per_gpu=3)),
    )  # fmt: skip
    values = addon_values(ClusterAddonsArgs(cloud="azure", region="eastus", cluster_name="aks", pools=pools))
    operator = values["gpu-operator"]
    config = operator["devicePlugin"]["config"]
    assert config["create"] is True and config["default"] == "default"
    assert set(config["data"]) == {"default", "mig-single", "time-slicing-3"}
    assert operator["mig"] == {"strategy": "single"}
    assert {"name": "WITH_REBOOT", "value": "true"} in operator["migManager"]["env"]
    # Without a shared pool the operator's values are what they were.
    plain = addon_values(ClusterAddonsArgs(cloud="azure", region="eastus", cluster_name="aks", pools=(
        AcceleratorPool(vendor="nvidia", driver="operator", instance_type="Standard_NC4as_T4_v3", accelerator="T4"),
    )))["gpu-operator"]  # fmt: skip
    assert not {"devicePlugin", "mig", "migManager"} & set(plain)
