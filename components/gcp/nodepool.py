"""A GKE node pool for one placement: GPU or TPU nodes, CMEK boot disks, shielded, tainted and
labelled, autoscaled between the planner's bounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp

from components.fleet.labels import GPU_DRIVER_LABEL, SYSTEM_POOL_LABEL
from components.fleet.pool import GpuSlices
from components.gcp.accelerators import GPU_TYPES, TPU_GENERATIONS, TpuMachine, gpu_type, tpu_machine
from regions.footprint import ROOT_DISK_GIB, SYSTEM_DISK_GIB, SYSTEM_MACHINE_TYPES, SYSTEM_NODES

__all__ = [
    "GkeNodePool",
    "GkeNodePoolArgs",
    "GkeSystemPool",
    "GkeSystemPoolArgs",
    "node_locations",
]

NVIDIA_TAINT = "nvidia.com/gpu"
TPU_TAINT = "google.com/tpu"
BOOT_DISK_TYPE = "pd-balanced"


@dataclass(frozen=True, kw_only=True)
class GkeNodePoolArgs:
    project: pulumi.Input[str]
    cluster: pulumi.Input[str]
    """Cluster ID (``projects/…/locations/…/clusters/…``)."""
    region: str
    machine_type: str
    """Compute Engine machine type, or the catalog's Cloud TPU type (``tpu-v5litepod-8``)."""
    accelerator: str
    """Canonical accelerator name, e.g. ``H100``, ``TPU v5e``."""
    accelerator_count: int
    """GPUs per node, or chips of the TPU slice."""
    zones: tuple[str, ...]
    """Zones of the region that offer the machine type."""
    capacity: str
    """``on-demand`` or ``spot``."""
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    workload: str
    tenant: str
    service_account: pulumi.Input[str]
    key_id: pulumi.Input[str]
    """Cloud KMS key that encrypts the boot disks (the Compute Engine service agent's grant first)."""
    disk_size_gib: int = ROOT_DISK_GIB
    driver: Literal["cloud", "operator"] = "cloud"
    """Who installs the GPU driver: GKE (``cloud``) or the serving layer's operator. TPUs need none."""
    gpu_slices: GpuSlices | None = None
    """Replicas share each GPU: GKE partitions it into MIG instances or time-shares it."""
    reservation: pulumi.Input[str] | None = None
    """A Compute Engine reservation (name) the nodes consume; None: any matching one."""
    takeover: bool = False
    """The on-demand pool beside spot nodes that takes over another region's users."""
    compact: bool = False
    """GPU nodes in one zone under a compact placement policy (a model replica spans them)."""
    labels: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Cost-allocation labels on the nodes' VMs and disks (the workload's and tenant's are added)."""


class GkeNodePool(pulumi.ComponentResource):
    """Nodes of one machine type for one workload stage in one cluster."""

    node_pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GkeNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__("tensorfleet:gcp:GkeNodePool", name, None, opts)
        tpu = args.accelerator in TPU_GENERATIONS
        machine = tpu_machine(args.accelerator, args.accelerator_count) if tpu else None
        zones = args.zones[:1] if args.compact else node_locations(args.nodes_desired, args.zones)
        k8s_labels = {
            "tensorfleet.io/accelerator": args.accelerator.replace(" ", "-"),
            "tensorfleet.io/workload": args.workload,
            "tensorfleet.io/tenant": args.tenant,
        }
        if not tpu:
            k8s_labels[GPU_DRIVER_LABEL] = args.driver
        resource_labels = {**args.labels, "workload": args.workload, "tenant": args.tenant}
        pool = gcp.container.NodePool(
            f"{name}-pool",
            project=args.project,
            cluster=args.cluster,
            location=args.region,
            node_locations=list(zones),
            # Per zone: the pool starts with exactly the planner's desired nodes.
            initial_node_count=args.nodes_desired // len(zones),
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=args.nodes_min,
                total_max_node_count=args.nodes_max,
                location_policy="ANY",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            placement_policy=_placement(machine, args.compact),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=1, max_unavailable=0),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=machine.machine_type if machine else args.machine_type,
                guest_accelerators=None if tpu else [_gpu(args)],
                spot=args.capacity == "spot",
                disk_size_gb=args.disk_size_gib,
                **_hardened_node(args.service_account, args.key_id),
                labels=k8s_labels,
                resource_labels=resource_labels,
                taints=[
                    gcp.container.NodePoolNodeConfigTaintArgs(
                        key=TPU_TAINT if tpu else NVIDIA_TAINT, value="present", effect="NO_SCHEDULE"
                    )
                ],
                reservation_affinity=None
                if args.reservation is None
                else gcp.container.NodePoolNodeConfigReservationAffinityArgs(
                    consume_reservation_type="SPECIFIC_RESERVATION",
                    key="compute.googleapis.com/reservation-name",
                    values=[args.reservation],
                ),
            ),
            # The cluster autoscaler owns the node count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )
        self.node_pool_name = pool.name
        self.register_outputs({"node_pool_name": self.node_pool_name})


@dataclass(frozen=True, kw_only=True)
class GkeSystemPoolArgs:
    project: pulumi.Input[str]
    cluster: pulumi.Input[str]
    region: str
    zones: tuple[str, ...]
    """Zones of the region the cluster's accelerator pools use."""
    service_account: pulumi.Input[str]
    key_id: pulumi.Input[str]
    labels: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class GkeSystemPool(pulumi.ComponentResource):
    """The cluster's untainted general-purpose nodes: kube-dns and the cluster add-ons run here,
    never on accelerators."""

    node_pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GkeSystemPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.zones:
            raise pulumi.InputPropertiesError(
                "GkeSystemPool inputs are invalid", errors=[{"property_path": "zones", "reason": "no zone given"}]
            )
        super().__init__("tensorfleet:gcp:GkeSystemPool", name, None, opts)
        zones = node_locations(SYSTEM_NODES, args.zones)
        pool = gcp.container.NodePool(
            f"{name}-pool",
            project=args.project,
            cluster=args.cluster,
            location=args.region,
            node_locations=list(zones),
            node_count=SYSTEM_NODES // len(zones),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=1, max_unavailable=0),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=SYSTEM_MACHINE_TYPES["gcp"],
                disk_size_gb=SYSTEM_DISK_GIB,
                **_hardened_node(args.service_account, args.key_id),
                labels={SYSTEM_POOL_LABEL: "system"},
                resource_labels={**args.labels, "pool": "system"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.node_pool_name = pool.name
        self.register_outputs({"node_pool_name": self.node_pool_name})


def _hardened_node(service_account: pulumi.Input[str], key_id: pulumi.Input[str]) -> dict[str, Any]:
    """What every node of every pool runs with: CMEK boot disks, Container-Optimized OS, the
    cluster's least-privilege service account, shielded VMs and the GKE metadata server."""
    return {
        "disk_type": BOOT_DISK_TYPE,
        "boot_disk_kms_key": key_id,
        "image_type": "COS_CONTAINERD",
        "service_account": service_account,
        "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
        "shielded_instance_config": gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        "workload_metadata_config": gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
    }


def node_locations(desired: int, zones: tuple[str, ...]) -> tuple[str, ...]:
    """The zones the pool spans: the most of ``zones`` whose count divides ``desired``, so that the
    per-zone initial count launches exactly the planner's nodes (all zones when none are desired)."""
    if desired == 0:
        return zones
    count = max(k for k in range(1, len(zones) + 1) if desired % k == 0)
    return zones[:count]


def _placement(machine: TpuMachine | None, compact: bool) -> gcp.container.NodePoolPlacementPolicyArgs | None:
    """COMPACT for a multi-host TPU slice (with its topology) and for GPU nodes a replica spans."""
    if machine is not None and not machine.single_host:
        return gcp.container.NodePoolPlacementPolicyArgs(type="COMPACT", tpu_topology=machine.topology)
    if machine is None and compact:
        return gcp.container.NodePoolPlacementPolicyArgs(type="COMPACT")
    return None


def _gpu(args: GkeNodePoolArgs) -> gcp.container.NodePoolNodeConfigGuestAcceleratorArgs:
    slices = args.gpu_slices
    time_shared = slices is not None and slices.mig_profile is None
    return gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
        type=gpu_type(args.accelerator, args.machine_type),
        count=args.accelerator_count,
        gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
            gpu_driver_version="LATEST" if args.driver == "cloud" else "INSTALLATION_DISABLED"
        ),
        gpu_partition_size=None if slices is None else slices.mig_profile,
        gpu_sharing_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
            gpu_sharing_strategy="TIME_SHARING", max_shared_clients_per_gpu=slices.replicas_per_gpu
        )
        if slices is not None and time_shared
        else None,
    )


def _validate(args: GkeNodePoolArgs) -> None:
    problems: list[pulumi.InputPropertyErrorDetails] = []

    def problem(path: str, reason: str) -> None:
        problems.append({"property_path": path, "reason": reason})

    if not 0 <= args.nodes_min <= args.nodes_desired <= args.nodes_max or args.nodes_max < 1:
        problem("nodes_desired", f"need 0 <= min <= desired <= max and max >= 1, got "
                f"{args.nodes_min}/{args.nodes_desired}/{args.nodes_max}")  # fmt: skip
    if args.capacity not in ("on-demand", "spot"):
        problem("capacity", f"must be on-demand or spot, got {args.capacity!r}")
    if args.reservation is not None and args.capacity != "on-demand":
        problem("reservation", "a reservation is not spot capacity")
    if not args.zones:
        problem("zones", "no zone of the region offers the machine type")
    elif any(not zone.startswith(f"{args.region}-") for zone in args.zones):
        problem("zones", f"every zone must be in {args.region}, got {', '.join(args.zones)}")
    if args.accelerator in TPU_GENERATIONS:
        try:
            machine = tpu_machine(args.accelerator, args.accelerator_count)
        except ValueError as exc:
            problem("accelerator_count", str(exc))
        else:
            if not machine.single_host and args.nodes_max % machine.hosts:
                problem("nodes_max", f"a {machine.topology} slice takes {machine.hosts} hosts at a time")
        if args.gpu_slices is not None:
            problem("gpu_slices", "TPU chips are not shared")
    elif args.accelerator not in GPU_TYPES:
        problem("accelerator", f"GKE offers no GPU or TPU named {args.accelerator!r}")
    if problems:
        raise pulumi.InputPropertiesError("GkeNodePool inputs are invalid", errors=problems)
