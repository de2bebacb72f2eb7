"""An EKS managed node group for one placement: the right accelerated AMI, tainted, labelled, encrypted."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pulumi
import pulumi_aws as aws

from components.fleet.labels import GPU_DRIVER_LABEL, SYSTEM_POOL_LABEL
from components.fleet.pool import DEVICE_PLUGIN_CONFIG_LABEL, GpuSlices
from regions.footprint import ROOT_DISK_GIB, SYSTEM_DISK_GIB, SYSTEM_MACHINE_TYPES, SYSTEM_NODES

__all__ = [
    "AcceleratorNodeGroup",
    "AcceleratorNodeGroupArgs",
    "SystemNodeGroup",
    "SystemNodeGroupArgs",
    "ami_type",
    "capacity_type",
    "mig_user_data",
    "taint_key",
]

AUTOSCALER_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"
"""Prefix of the node-group tags the Cluster Autoscaler builds a scale-from-zero node template from."""
NEURON_CHIPS = ("Inferentia", "Inferentia2", "Trainium", "Trainium2")
"""AWS Neuron accelerators (the catalog's canonical names)."""
NVIDIA_TAINT = "nvidia.com/gpu"
NEURON_TAINT = "aws.amazon.com/neuron"
ROOT_DEVICE = "/dev/xvda"  # the root volume of the EKS-optimised Amazon Linux 2023 AMIs


def ami_type(accelerator: str, instance_type: str) -> str:
    """The EKS AMI type for an accelerator: Neuron chips, NVIDIA on Graviton (``g5g``), NVIDIA on x86."""
    if accelerator in NEURON_CHIPS:
        return "AL2023_x86_64_NEURON"
    family = instance_type.split(".", 1)[0]
    return "AL2023_ARM_64_NVIDIA" if family.endswith("g") else "AL2023_x86_64_NVIDIA"


def taint_key(accelerator: str) -> str:
    """Extended-resource name the device plugin publishes, used as the node taint key."""
    return NEURON_TAINT if accelerator in NEURON_CHIPS else NVIDIA_TAINT


def capacity_type(capacity: str) -> str:
    """EKS capacity type for the planner's ``on-demand`` or ``spot``."""
    return {"on-demand": "ON_DEMAND", "spot": "SPOT"}[capacity]


@dataclass(frozen=True, kw_only=True)
class AcceleratorNodeGroupArgs:
    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    """Private subnets, only in zones that offer the instance type."""
    key_arn: pulumi.Input[str]
    """KMS key that encrypts the nodes' root volumes."""
    instance_type: str
    accelerator: str
    """Canonical accelerator name, e.g. ``H100``, ``Inferentia2``."""
    capacity: str
    """``on-demand`` or ``spot``."""
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    workload: str
    tenant: str
    capacity_reservation_id: pulumi.Input[str] | None = None
    """An EC2 Capacity Block for ML reserved for these nodes (``cr-...``, may be a secret). When set,
    nodes launch into it (EKS capacity type ``CAPACITY_BLOCK``); the reservation's own dates bound
    when they run. Default: none."""
    accelerator_count: int = 0
    """Accelerators per node. For Neuron groups it is tagged for the Cluster Autoscaler, which knows
    GPU counts from the instance type but learns ``aws.amazon.com/neuron`` only from this tag when
    it scales a group up from zero nodes. Default: unknown (no tag)."""
    compact: bool = False
    """Launch the nodes into a cluster placement group (a model replica spans them). The caller
    gives subnets of one zone, as a cluster placement group lives in one. Default: no."""
    gpu_slices: GpuSlices | None = None
    """Replicas share each GPU: MIG instances the nodes create at boot, or device-plugin time slices.
    Default: none."""
    disk_size_gib: int = ROOT_DISK_GIB
    """Root volume (gp3) size: container images of model servers are large. Default: the size the
    planner prices (``regions.footprint.ROOT_DISK_GIB``)."""
    tags: dict[str, str] = field(default_factory=dict)


class AcceleratorNodeGroup(pulumi.ComponentResource):
    """Nodes of one instance type for one workload stage in one cluster."""

    node_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: AcceleratorNodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__("tensorfleet:aws:AcceleratorNodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "workload": args.workload, "tenant": args.tenant}
        if args.accelerator in NEURON_CHIPS and args.accelerator_count:
            tags[f"{AUTOSCALER_TEMPLATE}/resources/{NEURON_TAINT}"] = str(args.accelerator_count)
        slices = args.gpu_slices
        if slices is not None and args.accelerator_count:
            # A node offers a GPU per share, not per chip: the autoscaler must not size from the chips.
            tags[f"{AUTOSCALER_TEMPLATE}/resources/{NVIDIA_TAINT}"] = str(
                args.accelerator_count * slices.replicas_per_gpu
            )
            tags[f"{AUTOSCALER_TEMPLATE}/label/{DEVICE_PLUGIN_CONFIG_LABEL}"] = slices.device_plugin_config
        block = args.capacity_reservation_id
        placement = (
            aws.ec2.PlacementGroup(f"{name}-placement", strategy="cluster", tags=tags, opts=child)
            if args.compact
            else None
        )
        user_data = mig_user_data(slices) if slices is not None and slices.mig_profile is not None else None
        template = _launch_template(
            f"{name}-lt", args.key_arn, args.disk_size_gib, tags, block, child, placement, user_data
        )
        labels = {
            "tensorfleet.io/accelerator": args.accelerator.replace(" ", "-"),
            "tensorfleet.io/workload": args.workload,
            "tensorfleet.io/tenant": args.tenant,
        }
        if args.accelerator not in NEURON_CHIPS:
            # The EKS-optimised NVIDIA AMI ships the driver: the serving layer must not install one.
            labels[GPU_DRIVER_LABEL] = "cloud"
        if slices is not None:
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = slices.device_plugin_config
        group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            instance_types=[args.instance_type],
            ami_type=ami_type(args.accelerator, args.instance_type),
            capacity_type="CAPACITY_BLOCK" if block is not None else capacity_type(args.capacity),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.nodes_min, desired_size=args.nodes_desired, max_size=args.nodes_max
            ),
            labels=labels,
            taints=[aws.eks.NodeGroupTaintArgs(key=taint_key(args.accelerator), value="present", effect="NO_SCHEDULE")],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            tags=tags,
            # The cluster autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.node_group_name = group.node_group_name
        self.register_outputs({"node_group_name": self.node_group_name})


@dataclass(frozen=True, kw_only=True)
class SystemNodeGroupArgs:
    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    key_arn: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)


class SystemNodeGroup(pulumi.ComponentResource):
    """The cluster's untainted general-purpose nodes: CoreDNS and the cluster add-ons run here, never
    on accelerators."""

    node_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: SystemNodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:aws:SystemNodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "pool": "system"}
        template = _launch_template(f"{name}-lt", args.key_arn, SYSTEM_DISK_GIB, tags, None, child)
        group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            instance_types=[SYSTEM_MACHINE_TYPES["aws"]],
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=SYSTEM_NODES, desired_size=SYSTEM_NODES, max_size=SYSTEM_NODES
            ),
            labels={SYSTEM_POOL_LABEL: "system"},
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            tags=tags,
            opts=child,
        )
        self.node_group_name = group.node_group_name
        self.register_outputs({"node_group_name": self.node_group_name})


def _launch_template(
    name: str,
    key_arn: pulumi.Input[str],
    disk_gib: int,
    tags: dict[str, str],
    block: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
    placement: aws.ec2.PlacementGroup | None = None,
    user_data: str | None = None,
) -> aws.ec2.LaunchTemplate:
    """Nodes' launch template: a CMK-encrypted gp3 root volume, IMDSv2 only, the group's tags on
    instances and volumes, the Capacity Block when one is reserved, the placement group if any, and
    user data (MIME, merged by EKS with its own node configuration) when the nodes need it."""

    return aws.ec2.LaunchTemplate(
        name,
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=disk_gib,
                    volume_type="gp3",
                    encrypted="true",
                    kms_key_id=key_arn,
                    delete_on_termination="true",
                ),
            )
        ],
        # IMDSv2 only; hop limit 2 so that pods on the node can still reach it through the node.
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=2
        ),
        # A Capacity Block for ML, when one is reserved for these nodes.
        instance_market_options=None
        if block is None
        else aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="capacity-block"),
        capacity_reservation_specification=None
        if block is None
        else aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
            capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=block
            )
        ),
        placement=None if placement is None else aws.ec2.LaunchTemplatePlacementArgs(group_name=placement.name),
        user_data=None if user_data is None else base64.b64encode(user_data.encode()).decode(),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags) for kind in ("instance", "volume")
        ],
        tags=tags,
        opts=opts,
    )


MIG_UNIT = "tensorfleet-mig.service"


NVIDIA_UNITS = "nvidia-kmod-load.service nvidia-persistenced.service nvidia-fabricmanager.service"
"""The EKS NVIDIA AMI's units that load the driver and bring the GPUs (and NVSwitches) up."""


def mig_user_data(slices: GpuSlices) -> str:
    """User data that splits every GPU into the pool's MIG instances on every boot, before the
    kubelet starts, and keeps the kubelet down when that fails (a node that joined with whole GPUs
    would advertise fewer GPUs than the plan counts).

    MIG instances do not survive a reboot, so a systemd unit recreates them after the AMI's driver
    units and before the kubelet, which requires it (a drop-in). Enabling MIG mode can stay
    pending until the GPU resets; where the VM refuses the reset, one reboot (guarded by a file)
    applies it. User data only starts the unit without waiting: the kubelet waits for it."""
    profile = slices.mig_profile
    if profile is None:
        raise ValueError("MIG user data for a pool without a MIG profile")
    instances = ",".join([profile] * slices.replicas_per_gpu)
    script = f"""#!/bin/bash
# Every GPU of this node as {slices.replicas_per_gpu} MIG instances of {profile} (tensorfleet).
set -euo pipefail
guard=/var/lib/tensorfleet/mig-reboot
nvidia-smi -mig 1
if nvidia-smi --query-gpu=mig.mode.current --format=csv,noheader | grep -q Disabled; then
  if ! nvidia-smi --gpu-reset; then
    if [ -e "$guard" ]; then
      echo "MIG mode is still pending after a reboot" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$guard")"
    touch "$guard"
    systemctl reboot --no-block
    exit 1
  fi
fi
nvidia-smi mig -dci || true
nvidia-smi mig -dgi || true
nvidia-smi mig -cgi {instances} -C
"""
    unit = f"""[Unit]
Description=Split the GPUs into MIG instances before the kubelet starts
Wants={NVIDIA_UNITS}
After={NVIDIA_UNITS}
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/tensorfleet-mig

[Install]
WantedBy=multi-user.target
"""
    kubelet = f"""[Unit]
Requires={MIG_UNIT}
After={MIG_UNIT}
"""
    boot = f"""#!/bin/bash
set -euo pipefail
cat > /usr/local/sbin/tensorfleet-mig <<'SCRIPT'
{script}SCRIPT
chmod 0755 /usr/local/sbin/tensorfleet-mig
cat > /etc/systemd/system/{MIG_UNIT} <<'UNIT'
{unit}UNIT
mkdir -p /etc/systemd/system/kubelet.service.d
cat > /etc/systemd/system/kubelet.service.d/20-tensorfleet-mig.conf <<'UNIT'
{kubelet}UNIT
systemctl daemon-reload
systemctl enable {MIG_UNIT}
systemctl start --no-block {MIG_UNIT}
"""
    message = MIMEMultipart(boundary="==TENSORFLEET==")
    message.attach(MIMEText(boot, "x-shellscript"))
    return message.as_string()


def _validate(args: AcceleratorNodeGroupArgs) -> None:
    problems: list[pulumi.InputPropertyErrorDetails] = []
    if not 0 <= args.nodes_min <= args.nodes_desired <= args.nodes_max or args.nodes_max < 1:
        problems.append(
            {
                "property_path": "nodes_desired",
                "reason": f"need 0 <= min <= desired <= max and max >= 1, got "
                f"{args.nodes_min}/{args.nodes_desired}/{args.nodes_max}",
            }
        )
    if args.capacity not in ("on-demand", "spot"):
        problems.append({"property_path": "capacity", "reason": f"must be on-demand or spot, got {args.capacity!r}"})
    if args.capacity_reservation_id is not None and args.capacity != "on-demand":
        problems.append({"property_path": "capacity_reservation_id", "reason": "a capacity block is not spot capacity"})
    if not args.subnet_ids:
        problems.append({"property_path": "subnet_ids", "reason": "no subnet in a zone that offers the instance type"})
    if args.gpu_slices is not None and args.accelerator in NEURON_CHIPS:
        problems.append({"property_path": "gpu_slices", "reason": "Neuron devices are not shared"})
    if problems:
        raise pulumi.InputPropertiesError("AcceleratorNodeGroup inputs are invalid", errors=problems)
