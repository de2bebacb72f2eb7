"""An AKS agent pool for one placement: GPU VMs of one size, encrypted at host with CMEK OS disks,
images and model caches on the OS disk or the VM's temporary disk, tainted and labelled,
autoscaled between the planner's bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_azure_native as azure_native

from components.fleet.labels import GPU_DRIVER_LABEL
from components.fleet.pool import DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL, GpuSlices
from components.naming import digest_key
from components.serving.images import family_of
from regions.footprint import AKS_OS_DISK_GIB, kubelet_on_temporary_disk

__all__ = [
    "MIG_ACCELERATORS",
    "MIG_PROFILES",
    "AksAgentPool",
    "AksAgentPoolArgs",
    "agent_pool_name",
    "fixed_at_creation",
    "gpu_vendor",
]

MIG_PROFILES = ("MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g")
"""AKS's GPU instance profiles (the ``gpuInstanceProfile`` values of the 2025-09-01 API). AKS makes
every GPU the most instances of that many compute slices (``MIG1g``: 7 of ``1g.10gb`` on an H100)."""
MIG_ACCELERATORS = frozenset({"A100", "A100-80GB", "A100-80GB-PCIe", "H100", "H100-NVL", "H200"})
"""Accelerators with Multi-Instance GPU that AKS partitions (its docs: A100, H100 and H200 sizes)."""
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
"""The taint AKS puts on every spot pool; stated so that it is reviewed, not discovered."""


def gpu_vendor(accelerator: str) -> Literal["nvidia", "amd"]:
    """Whose GPU the catalog's accelerator name is (Azure offers no other accelerators)."""
    return "amd" if family_of(accelerator) == "amd" else "nvidia"


@dataclass(frozen=True, kw_only=True)
class AksAgentPoolArgs:
    resource_group: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    key: str
    """The pool's stable key in the region (``workload/stage``); its Azure name derives from it."""
    vm_size: str
    accelerator: str
    """Canonical accelerator name, e.g. ``H100-NVL``."""
    capacity: str
    """``on-demand`` or ``spot``."""
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    workload: str
    tenant: str
    subnet_id: pulumi.Input[str]
    driver: Literal["cloud", "operator"] = "cloud"
    """Who installs the GPU driver: AKS (``cloud``, NVIDIA only) or the serving layer's operator."""
    gpu_slices: GpuSlices | None = None
    """Replicas share each GPU. MIG: AKS partitions the GPUs (``gpuInstanceProfile``) where it
    installs the driver, the GPU operator's MIG manager where the operator does; time slices: the
    device plugin's configuration for the pool. Only NVIDIA GPUs, MIG only on sizes that have it."""
    disk_gib: int | None = None
    """What each node's images and model caches need, GiB: on the 128 GiB OS disk where they fit,
    else on the VM's temporary disk (``kubeletDiskType: Temporary``), which the planner chose the
    size for. None: the OS disk."""
    proximity_placement_group_id: pulumi.Input[str] | None = None
    """A proximity placement group for nodes a model replica spans (set only at creation)."""
    takeover: bool = False
    tags: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class AksAgentPool(pulumi.ComponentResource):
    """Nodes of one VM size for one workload stage in one cluster."""

    agent_pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: AksAgentPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__("tensorfleet:azure:AksAgentPool", name, None, opts)
        vendor = gpu_vendor(args.accelerator)
        # AKS installs NVIDIA drivers only; AMD GPUs always take the operator's.
        driver = args.driver if vendor == "nvidia" else "operator"
        spot = args.capacity == "spot"
        taints = [f"{vendor}.com/gpu=present:NoSchedule"] + ([SPOT_TAINT] if spot else [])
        kubelet_disk_type = "Temporary" if kubelet_on_temporary_disk(args.disk_gib) else None
        instance_profile = _instance_profile(args.gpu_slices) if driver == "cloud" else None
        pool = azure_native.containerservice.AgentPool(
            f"{name}-pool",
            agent_pool_name=agent_pool_name(
                args.key, fixed_at_creation(args.vm_size, kubelet_disk_type, instance_profile)
            ),
            resource_group_name=args.resource_group,
            resource_name_=args.cluster_name,
            mode="User",
            os_type="Linux",
            os_sku="Ubuntu",
            vm_size=args.vm_size,
            count=args.nodes_desired,
            enable_auto_scaling=True,
            min_count=args.nodes_min,
            max_count=args.nodes_max,
            scale_down_mode="Delete",
            scale_set_priority="Spot" if spot else "Regular",
            scale_set_eviction_policy="Delete" if spot else None,
            # Pay up to the on-demand price: nodes are evicted for capacity, never for price.
            spot_max_price=-1 if spot else None,
            os_disk_size_gb=AKS_OS_DISK_GIB,
            os_disk_type="Managed",
            # The temporary disk is in the VM's price and, like the OS disk's cache, encrypted at host.
            # Unset is AKS's default, the OS disk.
            kubelet_disk_type=kubelet_disk_type,
            enable_encryption_at_host=True,
            enable_node_public_ip=False,
            vnet_subnet_id=args.subnet_id,
            gpu_profile=azure_native.containerservice.GPUProfileArgs(driver="Install" if driver == "cloud" else "None"),
            gpu_instance_profile=instance_profile,
            proximity_placement_group_id=args.proximity_placement_group_id,
            node_labels={
                "tensorfleet.io/accelerator": args.accelerator.replace(" ", "-"),
                "tensorfleet.io/workload": args.workload,
                "tensorfleet.io/tenant": args.tenant,
                GPU_DRIVER_LABEL: driver,
                **_sharing_labels(args.gpu_slices, driver),
            },
            node_taints=taints,
            # AKS refuses surge settings on spot pools (their nodes are replaced as evicted).
            upgrade_settings=None
            if spot
            else azure_native.containerservice.AgentPoolUpgradeSettingsArgs(max_surge="1"),
            tags={**args.tags, "workload": args.workload, "tenant": args.tenant},
            # The cluster autoscaler owns the node count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )
        self.agent_pool_name = pool.name
        self.register_outputs({"agent_pool_name": self.agent_pool_name})


def _instance_profile(slices: GpuSlices | None) -> str | None:
    """AKS's name for the MIG instances of the pool's GPUs (``MIG1g``)."""
    return None if slices is None or slices.mig_slices is None else f"MIG{slices.mig_slices}g"


def _sharing_labels(slices: GpuSlices | None, driver: str) -> dict[str, str]:
    """Labels that make the device plugin (and, under the operator, its MIG manager) share the GPUs."""
    if slices is None:
        return {}
    labels = {DEVICE_PLUGIN_CONFIG_LABEL: slices.device_plugin_config}
    if slices.mig_profile is not None and driver == "operator":
        labels[MIG_CONFIG_LABEL] = f"all-{slices.mig_profile}"
    return labels


def agent_pool_name(key: str, fixed: tuple[str, ...] = ()) -> str:
    """A Linux agent pool name (a lowercase letter, then letters and digits, at most 12) that keeps
    the workload readable and is unique for the key and for ``fixed``, what AKS sets only when it
    creates a pool: a plan that changes one gets a new pool, created before the old one is deleted,
    where AKS would refuse to update the pool in place."""
    letters = re.sub(r"[^a-z0-9]", "", key.split("/")[0].lower())
    head = letters if letters[:1].isalpha() else f"p{letters}"
    return f"{head[:6]}{digest_key('/'.join((key, *fixed)))[:6]}"


def fixed_at_creation(vm_size: str, kubelet_disk_type: str | None, gpu_instance_profile: str | None) -> tuple[str, ...]:
    """What of a pool AKS fixes when it creates it and a plan may change: its VM size, where the
    kubelet keeps its data and the GPUs' MIG profile."""
    return (vm_size, kubelet_disk_type or "OS", gpu_instance_profile or "")


def _validate(args: AksAgentPoolArgs) -> None:
    problems: list[pulumi.InputPropertyErrorDetails] = []

    def problem(path: str, reason: str) -> None:
        problems.append({"property_path": path, "reason": reason})

    if not 0 <= args.nodes_min <= args.nodes_desired <= args.nodes_max or args.nodes_max < 1:
        problem("nodes_desired", f"need 0 <= min <= desired <= max and max >= 1, got "
                f"{args.nodes_min}/{args.nodes_desired}/{args.nodes_max}")  # fmt: skip
    if args.capacity not in ("on-demand", "spot"):
        problem("capacity", f"must be on-demand or spot, got {args.capacity!r}")
    if not re.fullmatch(r"Standard_N[CDGV]\w+", args.vm_size):
        problem("vm_size", f"AKS GPU pools take NC, ND, NG or NV sizes, got {args.vm_size!r}")
    slices = args.gpu_slices
    if slices is not None:
        if gpu_vendor(args.accelerator) != "nvidia":
            problem("gpu_slices", f"only NVIDIA GPUs are shared, not {args.accelerator}")
        elif slices.mig_profile is not None and args.accelerator not in MIG_ACCELERATORS:
            problem("gpu_slices", f"{args.accelerator} GPUs ({args.vm_size}) have no Multi-Instance GPU on AKS")
        elif _instance_profile(slices) not in (None, *MIG_PROFILES):
            problem("gpu_slices", f"AKS has no {_instance_profile(slices)} profile; it has {', '.join(MIG_PROFILES)}")
    if problems:
        raise pulumi.InputPropertiesError("AksAgentPool inputs are invalid", errors=problems)
