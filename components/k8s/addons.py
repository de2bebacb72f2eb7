"""``ClusterAddons``: what a cluster needs before a model server can run and scale, as pinned Helm
releases on the untainted system pool.

- KEDA (scales model servers on queue depth and latency) and a Prometheus server (the metrics
  KEDA's triggers read) on every cluster; the LeaderWorkerSet controller where a model server's
  replicas span nodes.
- Node autoscaling: the Cluster Autoscaler on EKS (the chart of the cluster's minor version),
  bounded by the node groups the planner sized (min/max per group), so the nodes that can exist
  are exactly the ones the plan priced. Karpenter
  would choose instance types itself, outside the plan. GKE and AKS pools scale with the managed
  cluster autoscaler already.
- Accelerators, by who owns the driver: where the cloud installs the NVIDIA driver but not the
  device plugin (EKS's NVIDIA AMI, AKS's ``Install``), the NVIDIA device plugin and the DCGM
  exporter; where the operator owns it (AKS ``None``), the NVIDIA GPU operator; GKE installs the
  driver and the device plugin for GPUs and TPUs itself. Neuron (EKS): the device plugin and the
  scheduler extension, which places replicas on contiguous cores. AMD (AKS): the AMD GPU operator
  and the cert-manager it needs.
- Shared GPUs: where a pool's replicas share GPUs, the NVIDIA device plugin (standalone or the
  operator's) gets one named configuration per way of sharing (``device_plugin_configs``), which
  the pool's nodes select by label; on MIG pools it advertises each instance as one
  ``nvidia.com/gpu`` (the ``single`` strategy). GKE shares GPUs itself, from the node pool.

Chart versions are pinned, each with where it was read (2026-11/12, stored copies of the chart
repositories); raising one is a reviewed change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.fleet.labels import GPU_DRIVER_LABEL, SYSTEM_POOL_LABEL
from components.fleet.pool import GpuSlices
from components.serving.images import NEURON_SCHEDULER
from components.serving.manifests import METRICS_NAMESPACE, PROMETHEUS_URL, Toleration, toleration_manifest

__all__ = [
    "CHARTS",
    "CLUSTER_AUTOSCALER_CHARTS",
    "DEVICE_PLUGIN_CONFIGMAP",
    "NEURON_SCHEDULER_IMAGES",
    "AcceleratorPool",
    "ClusterAddons",
    "ClusterAddonsArgs",
    "HelmChart",
    "accelerator_addons",
    "check_versions",
    "device_plugin_configs",
]


@dataclass(frozen=True, slots=True)
class HelmChart:
    chart: str
    version: str
    repo: str | None
    """Chart repository URL; None when ``chart`` is an ``oci://`` reference."""
    namespace: str
    source: str


CHARTS: dict[str, HelmChart] = {
    "keda": HelmChart(
        "keda", "2.20.2", "https://kedacore.github.io/charts", "keda",
        "kedacore/charts keda/Chart.yaml @1444d00d (2026-08-13)",
    ),
    "prometheus": HelmChart(
        "prometheus", "29.27.0", "https://prometheus-community.github.io/helm-charts", METRICS_NAMESPACE,
        "prometheus-community/helm-charts charts/prometheus/Chart.yaml @cf408a29 (2026-08-22), Prometheus v3.14.0",
    ),
    "nvidia-device-plugin": HelmChart(
        "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin",
        "NVIDIA/k8s-device-plugin gh-pages index.yaml (2026-08-20), tag v0.20.0",
    ),
    "dcgm-exporter": HelmChart(
        "dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts", "nvidia-device-plugin",
        "NVIDIA/dcgm-exporter deployment/Chart.yaml @d5e5f510 (2026-05-12)",
    ),
    "gpu-operator": HelmChart(
        "gpu-operator", "v26.7.0", "https://helm.ngc.nvidia.com/nvidia", "gpu-operator",
        "NVIDIA/gpu-operator tag v26.7.0 (2026-08-20); cloud-native-docs release notes",
    ),
    "neuron": HelmChart(
        "oci://public.ecr.aws/neuron/neuron-helm-chart", "1.9.0", None, "kube-system",
        "aws-neuron/neuron-helm-charts charts/neuron-helm-chart/Chart.yaml @b77a6f90",
    ),
    "lws": HelmChart(
        "oci://registry.k8s.io/lws/charts/lws", "0.10.0", None, "lws-system",
        "kubernetes-sigs/lws site/content/en/docs/installation/_index.md (CHART_VERSION=0.10.0), tag v0.10.0 "
        "(2026-08-11)",
    ),
    "cert-manager": HelmChart(
        "cert-manager", "v1.15.1", "https://charts.jetstack.io", "cert-manager",
        "ROCm/gpu-operator Quick Start: the cert-manager release the AMD GPU operator is installed with",
    ),
    "amd-gpu-operator": HelmChart(
        "gpu-operator-charts", "v1.5.1", "https://rocm.github.io/gpu-operator", "kube-amd-gpu",
        "ROCm/gpu-operator gh-pages index.yaml (2026-07-21)",
    ),
}  # fmt: skip
"""Every chart a cluster may get, by add-on name (the Cluster Autoscaler's by Kubernetes version)."""

_AUTOSCALER_INDEX = "kubernetes/autoscaler gh-pages index.yaml @be36214 (2026-07-26)"
CLUSTER_AUTOSCALER_CHARTS: dict[str, HelmChart] = {
    minor: HelmChart("cluster-autoscaler", chart, "https://kubernetes.github.io/autoscaler", "kube-system",
                     f"{_AUTOSCALER_INDEX}: chart {chart}, Cluster Autoscaler {app}")
    for minor, chart, app in (("1.33", "9.51.0", "1.33.0"), ("1.34", "9.52.0", "1.34.1"), ("1.35", "9.59.0", "1.35.0"))
}  # fmt: skip
"""The Cluster Autoscaler runs the minor version of the cluster it scales (its compatibility rule):
the newest chart of each minor, by EKS version."""
NEURON_SCHEDULER_IMAGES: dict[str, str] = {"1.33": "v1.33.13-eks-1-33-31"}
"""The kube-scheduler (EKS Distro) the Neuron scheduler extension runs beside, by EKS version: the
scheduler may not be older than the control plane by more than one minor, and the chart's default
is 1.31. Source: aws/eks-distro docs/contents/releases/1-33/31/index.md @1788446 (2026-08-19)."""

SYSTEM_NODES = {SYSTEM_POOL_LABEL: "system"}
"""Where the add-ons' controllers run: the untainted system pool of every cluster."""
PROMETHEUS_RETENTION = "2d"
"""The Prometheus here is the autoscalers' metric source (queries look back minutes), not the
team's monitoring: two days in an emptyDir on its node, nothing persisted or billed."""

Cloud = Literal["aws", "gcp", "azure"]
Vendor = Literal["nvidia", "amd", "neuron", "tpu"]


@dataclass(frozen=True, slots=True)
class AcceleratorPool:
    """What the add-ons need to know of one accelerator pool of the cluster."""

    vendor: Vendor
    driver: Literal["cloud", "operator"]
    """Who installs the GPU driver (``tensorfleet.io/gpu-driver``)."""
    instance_type: str
    accelerator: str
    gpu_slices: GpuSlices | None = None
    """How replicas share the pool's GPUs; None: each replica owns whole GPUs."""


DEVICE_PLUGIN_CONFIGMAP = "tensorfleet-device-plugin"
"""The ConfigMap of device plugin configurations the GPU operator is given."""


def device_plugin_configs(pools: tuple[AcceleratorPool, ...]) -> dict[str, str]:
    """The NVIDIA device plugin's configuration files by name, when some pool shares its GPUs:
    ``default`` (whole GPUs) for every other node, and the one each shared pool's nodes name in
    ``nvidia.com/device-plugin.config``. Time slices keep the resource name ``nvidia.com/gpu``
    and refuse requests for more than one slice (a replica takes exactly one); MIG instances are
    each one ``nvidia.com/gpu`` under the ``single`` strategy (every GPU of a node alike)."""
    shared = sorted({p.gpu_slices for p in pools if p.gpu_slices is not None}, key=lambda s: s.device_plugin_config)
    if not shared:
        return {}
    configs = {"default": {"version": "v1", "flags": {"migStrategy": "none"}}}
    for slices in shared:
        if slices.mig_profile is not None:
            configs[slices.device_plugin_config] = {"version": "v1", "flags": {"migStrategy": "single"}}
        else:
            configs[slices.device_plugin_config] = {
                "version": "v1",
                "flags": {"migStrategy": "none"},
                "sharing": {
                    "timeSlicing": {
                        "renameByDefault": False,
                        "failRequestsGreaterThanOne": True,
                        "resources": [{"name": "nvidia.com/gpu", "replicas": slices.replicas_per_gpu}],
                    }
                },
            }
    return {name: yaml.safe_dump(config, sort_keys=False) for name, config in configs.items()}


@dataclass(frozen=True, kw_only=True)
class ClusterAddonsArgs:
    cloud: Cloud
    region: str
    cluster_name: pulumi.Input[str]
    pools: tuple[AcceleratorPool, ...] = ()
    extra_tolerations: tuple[Toleration, ...] = ()
    """Taints of accelerator pools beyond the accelerator's own (AKS spot) that device DaemonSets
    must tolerate."""
    leader_worker_sets: bool = False
    """Some model server's replicas span nodes: install the LeaderWorkerSet controller."""
    kubernetes_version: str | None = None
    """The cluster's minor version (EKS): picks the Cluster Autoscaler and the Neuron scheduler."""
    kubernetes_version_secret: bool = False
    """The version is a secret: what is chosen by it (a chart version, an image tag) is one too."""


def accelerator_addons(cloud: Cloud, pools: tuple[AcceleratorPool, ...]) -> tuple[str, ...]:
    """The device add-ons a cluster needs, by chart name, in install order.

    Raises:
        ValueError: a pool needs something no add-on here provides.
    """
    names: list[str] = []
    nvidia = {p.driver for p in pools if p.vendor == "nvidia"}
    if cloud == "gcp":
        if "operator" in nvidia:
            raise ValueError(
                "GKE GPU pools with gpu_driver 'operator': the GPU operator cannot install drivers on "
                "Container-Optimized OS nodes; use GKE's managed driver (gpu_driver 'cloud')"
            )
    elif nvidia == {"cloud"}:
        names += ["nvidia-device-plugin", "dcgm-exporter"]
    elif nvidia == {"operator"}:
        names.append("gpu-operator")
    elif nvidia:
        raise ValueError("one cluster's NVIDIA pools must share one driver owner (cloud or operator)")
    if any(p.vendor == "neuron" for p in pools):
        if cloud != "aws":
            raise ValueError(f"Neuron accelerators run only on AWS, not {cloud}")
        names.append("neuron")
    if any(p.vendor == "amd" for p in pools):
        if cloud != "azure":
            raise ValueError(f"AMD GPU pools are served on AKS only, not {cloud}")
        names += ["cert-manager", "amd-gpu-operator"]
    return tuple(names)


class ClusterAddons(pulumi.ComponentResource):
    """The cluster's add-ons as Helm releases (the Kubernetes provider comes with ``opts``)."""

    releases: dict[str, pulumi.Resource]
    """Release per add-on name: model servers wait for KEDA and Prometheus."""

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        devices = accelerator_addons(args.cloud, args.pools)
        check_versions(args.cloud, args.kubernetes_version, devices)
        super().__init__("tensorfleet:k8s:ClusterAddons", name, None, opts)
        values = _values(args)
        wanted = [
            "keda",
            "prometheus",
            *(["cluster-autoscaler"] if args.cloud == "aws" else []),
            *(["lws"] if args.leader_worker_sets else []),
            *devices,
        ]
        self.releases = {}
        for addon in wanted:
            after = [self.releases["cert-manager"]] if addon == "amd-gpu-operator" else []
            chart = CHARTS.get(addon) or CLUSTER_AUTOSCALER_CHARTS[args.kubernetes_version or ""]
            by_version = addon == "cluster-autoscaler" or (addon == "neuron" and bool(args.kubernetes_version))
            secret = args.kubernetes_version_secret and by_version
            self.releases[addon] = _release(f"{name}-{addon}", addon, chart, values[addon], self, after, secret)
        self.register_outputs({})


def check_versions(cloud: Cloud, kubernetes_version: str | None, devices: tuple[str, ...]) -> None:
    """The version-matched add-ons exist for the cluster's Kubernetes version.

    Raises:
        ValueError: no pinned Cluster Autoscaler (EKS) or Neuron scheduler for that version.
    """
    if cloud != "aws":
        return
    if kubernetes_version not in CLUSTER_AUTOSCALER_CHARTS:
        raise ValueError(
            f"no Cluster Autoscaler is pinned for Kubernetes {kubernetes_version}; supported: "
            f"{', '.join(CLUSTER_AUTOSCALER_CHARTS)}"
        )
    if "neuron" in devices and kubernetes_version not in NEURON_SCHEDULER_IMAGES:
        raise ValueError(
            f"no Neuron scheduler image is pinned for Kubernetes {kubernetes_version}; supported: "
            f"{', '.join(NEURON_SCHEDULER_IMAGES)}"
        )


def _release(
    name: str,
    addon: str,
    chart: HelmChart,
    values: dict[str, Any],
    parent: pulumi.Resource,
    after: list[pulumi.Resource],
    secret: bool = False,
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        name=addon,
        chart=chart.chart,
        version=pulumi.Output.secret(chart.version) if secret else chart.version,
        repository_opts=None if chart.repo is None else k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=chart.namespace,
        create_namespace=True,
        values=pulumi.Output.secret(values) if secret else values,
        # A failed install or upgrade rolls back rather than leaving a half-made add-on.
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        max_history=5,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )


def _on_system_pool() -> dict[str, Any]:
    return {"nodeSelector": dict(SYSTEM_NODES)}


def _node_affinity(key: str, values: list[str]) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": key, "operator": "In", "values": values}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def _values(args: ClusterAddonsArgs) -> dict[str, dict[str, Any]]:
    """Each add-on's chart values (keys as in the pinned chart's values.yaml)."""
    spot = [toleration_manifest(t) for t in args.extra_tolerations]
    gpu_tolerations = [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        *spot,
    ]
    # The device plugin's default affinity wants labels from node feature discovery, which is off:
    # select the pools whose driver the cloud installed instead.
    cloud_driver = _node_affinity(GPU_DRIVER_LABEL, ["cloud"])
    neuron_pools = [p for p in args.pools if p.vendor == "neuron"]
    amd_tolerations = [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, *spot]
    port = PROMETHEUS_URL.rsplit(":", 1)[1]
    sharing = device_plugin_configs(args.pools)
    return {
        "keda": _on_system_pool(),
        "prometheus": {
            "server": {
                "fullnameOverride": "prometheus",
                "service": {"servicePort": int(port)},
                "retention": PROMETHEUS_RETENTION,
                "persistentVolume": {"enabled": False},
                # The triggers poll every 15 s; a one-minute scrape would hold scale-up back.
                "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
                **_on_system_pool(),
            },
            "alertmanager": {"enabled": False},
            "kube-state-metrics": {"enabled": False},
            "prometheus-node-exporter": {"enabled": False},
            "prometheus-pushgateway": {"enabled": False},
        },
        "cluster-autoscaler": {
            "cloudProvider": "aws",
            "awsRegion": args.region,
            "autoDiscovery": {"clusterName": args.cluster_name},
            "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler"}},
            "extraArgs": {
                "balance-similar-node-groups": True,
                "skip-nodes-with-local-storage": False,
                "expander": "least-waste",
            },
            **_on_system_pool(),
        },
        "nvidia-device-plugin": {
            "affinity": cloud_driver,
            "tolerations": gpu_tolerations,
            **({"config": {"map": sharing, "default": "default"}} if sharing else {}),
        },
        "dcgm-exporter": {
            "affinity": cloud_driver,
            "tolerations": gpu_tolerations,
            "serviceMonitor": {"enabled": False},
            "podAnnotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9400"},
        },
        "gpu-operator": {
            "operator": _on_system_pool(),
            "daemonsets": {"tolerations": gpu_tolerations},
            "node-feature-discovery": {"worker": {"tolerations": gpu_tolerations}},
            **(
                {
                    "devicePlugin": {
                        "config": {
                            "create": True,
                            "name": DEVICE_PLUGIN_CONFIGMAP,
                            "default": "default",
                            "data": sharing,
                        }
                    },
                    # The MIG manager partitions the nodes labelled nvidia.com/mig.config; on cloud
                    # VMs enabling MIG mode may need a reboot, which it only does when allowed to.
                    "mig": {"strategy": "single"},
                    **(
                        {"migManager": {"env": [{"name": "WITH_REBOOT", "value": "true"}]}}
                        if any(p.gpu_slices and p.gpu_slices.mig_profile for p in args.pools)
                        else {}
                    ),
                }
                if sharing
                else {}
            ),
        },
        "neuron": {
            # The device plugin's affinity names the Neuron instance types; the cluster's are these.
            "neuronInstances": sorted({p.instance_type for p in neuron_pools}),
            "devicePlugin": {"enabled": True},
            "npd": {"enabled": False},
            "scheduler": {
                "enabled": True,
                **_on_system_pool(),
                "customScheduler": {
                    "enabled": True,
                    "fullnameOverride": NEURON_SCHEDULER,
                    "image": {"tag": NEURON_SCHEDULER_IMAGES.get(args.kubernetes_version or "", "")},
                    **_on_system_pool(),
                },
            },
        },
        "lws": _on_system_pool(),
        "cert-manager": {"crds": {"enabled": True}, **_on_system_pool()},
        "amd-gpu-operator": {
            "controllerManager": _on_system_pool(),
            # Node feature discovery labels the AMD nodes the DeviceConfig selects: it must run there.
            "node-feature-discovery": {"worker": {"tolerations": amd_tolerations}},
            # The default DeviceConfig selects AMD GPU nodes by node feature discovery's labels.
            "deviceConfig": {"spec": {"devicePlugin": {"devicePluginTolerations": amd_tolerations}}},
        },
    }
