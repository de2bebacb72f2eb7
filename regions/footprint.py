"""What a stack pays beyond its accelerator nodes, as the planner must count it before anything exists.

Opening a region builds a regional fleet (a managed Kubernetes control plane and its logs, NAT,
a key); every node carries a root disk; every model placed in a region is stored in the region's
artifact bucket; a cloud used at all carries stack-wide pieces (AWS: the budget alerts key). The
planner adds these to its costs (a region's fixed cost is paid once, whichever workloads use it),
and the bill prices the same items: from the registered resources where the stack builds them
(AWS, GCP, Azure), from this module for a cloud whose fleet a stack does not build. A test holds
the two equal for every region of the example plans.

Each item names a row of ``regions/data/service_prices.csv``; quantities follow what the
components build (``components/aws``) and the stack's usage assumptions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from regions.catalog import Catalog
from regions.pricing import HOURS_PER_MONTH, PriceBook, UnpricedItem, UsageAssumptions, load_price_book

__all__ = [
    "AKS_DISK_ITEMS",
    "AKS_OS_DISK_GIB",
    "AKS_SYSTEM_VM_SIZE",
    "GENERAL_PURPOSE_ITEMS",
    "OS_AND_IMAGES_GIB",
    "ROOT_DISK_GIB",
    "SYSTEM_DISK_GIB",
    "SYSTEM_MACHINE_TYPES",
    "SYSTEM_NODES",
    "FleetLayout",
    "Footprint",
    "Item",
    "cloud_items",
    "footprint_of",
    "kubelet_on_temporary_disk",
    "model_cache_gib",
    "node_disk_gib",
    "node_disk_limit_gib",
    "node_items",
    "region_items",
    "stage_items",
]

ROOT_DISK_GIB = 200
"""Root disk of an accelerator node, at least: model-server container images are large."""
OS_AND_IMAGES_GIB = 100
"""What an accelerator node's disk holds besides model caches: the OS, the kubelet's and container
runtime's state and the model server's images (a stated allowance: the CUDA builds of vLLM
unpack to tens of GB, kept beside their compressed layers)."""
MODEL_CACHE_HEADROOM = 1.25
"""A model server's cache volume over its weights: tokenizer, configuration, partial downloads."""
MIN_MODEL_CACHE_GIB = 10
"""The smallest cache volume a model server gets (its limit, not what it holds)."""
AKS_OS_DISK_GIB = 128
"""OS disk of every AKS node: Azure prices managed disks by size tier, and 128 GiB is the P10 tier.
A node whose images and model caches need more keeps them on the VM's temporary disk (the AKS pool's
``kubeletDiskType: Temporary``): included in the VM's price, encrypted at host."""
AKS_DISK_ITEMS = {128: "managed_disk_premium_ssd_p10"}
"""Premium SSD OS disk sizes with a priced tier."""
SYSTEM_NODES = 2
"""Every cluster's untainted system pool, where CoreDNS and the cluster add-ons run: two nodes, so
that an upgrade or a failure leaves them somewhere to go."""
SYSTEM_MACHINE_TYPES = {"aws": "m5.large", "gcp": "e2-medium", "azure": "Standard_DS2_v2"}
"""The system pool's machine type per cloud: small general-purpose types with a sourced price."""
SYSTEM_DISK_GIB = 50
"""Root disk of an EKS or GKE system node (no model images); AKS nodes take the P10 tier."""
GENERAL_PURPOSE_ITEMS = {
    "m5.large": "ec2_m5_large",
    "e2-medium": "gce_e2_medium",
    "Standard_DS2_v2": "vm_standard_ds2_v2",
}
"""General-purpose machine types with a priced item (accelerator types are priced from the catalog)."""
AKS_SYSTEM_VM_SIZE = SYSTEM_MACHINE_TYPES["azure"]
"""The AKS System pool's VM size (AKS requires a System pool in every cluster)."""


@dataclass(frozen=True, kw_only=True)
class FleetLayout:
    """The stack's choices that change what a regional fleet builds."""

    nat_per_zone: bool = False
    """AWS: a NAT gateway (and its address) in every zone instead of one per region."""
    existing_networks: frozenset[str] = frozenset()
    """AWS regions whose VPC the team brings: no NAT gateways or addresses are built there."""
    usage: UsageAssumptions = field(default_factory=UsageAssumptions)


@dataclass(frozen=True, slots=True)
class Item:
    """A priced quantity of one item of ``service_prices.csv``."""

    item: str
    quantity: float
    assumption: str | None = None


def region_items(catalog: Catalog, cloud: str, region: str, layout: FleetLayout) -> list[Item]:
    """What opening ``region`` builds, once, whichever workloads use it."""
    usage = layout.usage
    log_gb = usage.control_plane_log_gb_per_cluster_month
    logs = Item("", log_gb, f"{log_gb:g} GB of control-plane logs per cluster-month")
    nat_gb = usage.nat_gb_per_gateway_month
    if cloud not in SYSTEM_MACHINE_TYPES:
        raise ValueError(f"unknown cloud {cloud!r}")
    system = f"{SYSTEM_NODES} system node(s)"
    system_vms = Item(GENERAL_PURPOSE_ITEMS[SYSTEM_MACHINE_TYPES[cloud]], SYSTEM_NODES * HOURS_PER_MONTH, system)
    if cloud == "aws":
        items = [
            Item("eks_control_plane", HOURS_PER_MONTH),
            system_vms,
            Item("ebs_gp3_storage", SYSTEM_NODES * SYSTEM_DISK_GIB, system),
            _named(logs, "cloudwatch_logs_ingestion"),
            Item("kms_key", 1),
        ]
        if region not in layout.existing_networks:
            zones = min(6, len(catalog.zones.get(f"aws:{region}", ()))) or 1
            gateways = zones if layout.nat_per_zone else 1
            items += [
                Item("nat_gateway", gateways * HOURS_PER_MONTH),
                Item("nat_gateway_data", gateways * nat_gb, f"{nat_gb:g} GB processed per gateway-month"),
                Item("public_ipv4", gateways * HOURS_PER_MONTH),
            ]
        return items
    if cloud == "gcp":
        return [
            Item("gke_cluster_management", HOURS_PER_MONTH),
            system_vms,
            Item("pd_balanced", SYSTEM_NODES * SYSTEM_DISK_GIB, system),
            Item("cloud_nat_gateway", SYSTEM_NODES * HOURS_PER_MONTH, f"{system} behind the gateway"),
            _named(logs, "cloud_logging_ingestion"),
            Item("kms_key_version", 1),
            Item("cloud_nat_data", nat_gb, f"{nat_gb:g} GB processed per gateway-month"),
        ]
    if cloud == "azure":
        return [
            Item("aks_standard_tier", HOURS_PER_MONTH),
            system_vms,
            Item(AKS_DISK_ITEMS[AKS_OS_DISK_GIB], SYSTEM_NODES, system),
            _named(logs, "log_analytics_ingestion"),
            Item("nat_gateway", HOURS_PER_MONTH),
            Item("nat_gateway_data", nat_gb, f"{nat_gb:g} GB processed per gateway-month"),
            Item("public_ip_standard", HOURS_PER_MONTH),
        ]
    raise ValueError(f"unknown cloud {cloud!r}")


def model_cache_gib(weights_gb: float | None) -> int:
    """The volume one model server downloads its weights into (an emptyDir on the node's disk)."""
    return max(MIN_MODEL_CACHE_GIB, math.ceil((weights_gb or 0) * MODEL_CACHE_HEADROOM))


def node_disk_gib(cloud: str, weights_gb: float | None, replicas_per_node: int, nodes_per_replica: int) -> int:
    """The disk an accelerator node needs: every replica on it downloads the weights (a replica that
    spans nodes downloads them on each of its nodes), a quarter more for the files beside them, on
    top of ``OS_AND_IMAGES_GIB``. EKS and GKE nodes get a root disk of that size, at least
    ``ROOT_DISK_GIB``. On AKS it is what the kubelet's disk must hold: the 128 GiB OS disk where it
    fits, else the VM's temporary disk (``node_disk_limit_gib``)."""
    caches = math.ceil((weights_gb or 0) * MODEL_CACHE_HEADROOM) * (replicas_per_node if nodes_per_replica == 1 else 1)
    if cloud == "azure":
        return OS_AND_IMAGES_GIB + caches
    return max(ROOT_DISK_GIB, OS_AND_IMAGES_GIB + caches)


def node_disk_limit_gib(cloud: str, temp_disk_gib: int | None) -> float:
    """The most ``node_disk_gib`` a node of the cloud can have. EKS and GKE size the root volume to
    the need. An AKS node has its OS disk or, larger, its VM size's temporary disk
    (``temp_disk_gib``, from ``regions/data/azure_temp_disks.csv``; None where no source gives one)."""
    if cloud != "azure":
        return math.inf
    return max(AKS_OS_DISK_GIB, temp_disk_gib or 0)


def kubelet_on_temporary_disk(disk_gib: int | None) -> bool:
    """Whether an AKS node's images and model caches go to the VM's temporary disk: where the OS
    disk cannot hold them (the planner placed the pool only on sizes whose temporary disk can)."""
    return disk_gib is not None and disk_gib > AKS_OS_DISK_GIB


def node_items(cloud: str, disk_gib: int = ROOT_DISK_GIB) -> list[Item]:
    """What every node adds beside its own price, per node-month (its disk of ``disk_gib``)."""
    if cloud == "aws":
        return [Item("ebs_gp3_storage", disk_gib)]
    if cloud == "gcp":
        # Cloud NAT bills each VM that uses the gateway by the hour (up to 32 VMs, then a flat fee:
        # counting every node is an upper bound).
        return [Item("pd_balanced", disk_gib), Item("cloud_nat_gateway", HOURS_PER_MONTH)]
    if cloud == "azure":
        return [Item(AKS_DISK_ITEMS[AKS_OS_DISK_GIB], 1)]
    raise ValueError(f"unknown cloud {cloud!r}")


def stage_items(cloud: str, weights_gb: float | None, usage: UsageAssumptions) -> list[Item]:
    """The artifact storage of one model placed in a region."""
    if not weights_gb:
        return []
    item = {"aws": "s3_standard_storage", "gcp": "gcs_standard_storage", "azure": "blob_hot_lrs_storage"}[cloud]
    versions = usage.artifact_versions
    return [Item(item, weights_gb * versions, f"{weights_gb:g} GB of weights, {versions} version(s)")]


def cloud_items(cloud: str) -> list[Item]:
    """What using ``cloud`` at all builds, once per stack."""
    return [Item("kms_key", 1)] if cloud == "aws" else []  # the budget alerts topic's key


def _named(item: Item, name: str) -> Item:
    return Item(name, item.quantity, item.assumption)


def priced(items: list[Item], prices: PriceBook, cloud: str, region: str) -> float:
    """Monthly USD of ``items`` in ``region`` (items no source prices count as zero, as in the bill)."""
    total = 0.0
    for item in items:
        try:
            total += item.quantity * prices.price(cloud, region, item.item).usd
        except UnpricedItem:
            continue
    return total


class Footprint:
    """Monthly USD beyond node prices, per region key (``cloud:region``) and per cloud."""

    def __init__(self, catalog: Catalog, layout: FleetLayout, prices: PriceBook | None = None) -> None:
        self.catalog = catalog
        self.layout = layout
        self.prices = prices or load_price_book()
        self._fixed: dict[str, float] = {}
        self._per_node: dict[tuple[str, int], float] = {}
        self._per_stage: dict[tuple[str, float | None], float] = {}

    def region_fixed(self, key: str) -> float:
        """What opening the region costs per month, once for the stack."""
        if key not in self._fixed:
            cloud, region = key.split(":", 1)
            items = region_items(self.catalog, cloud, region, self.layout)
            self._fixed[key] = priced(items, self.prices, cloud, region)
        return self._fixed[key]

    def per_node(self, key: str, disk_gib: int = ROOT_DISK_GIB) -> float:
        """What each node adds to its own price per month (its disk, its NAT charge)."""
        if (key, disk_gib) not in self._per_node:
            cloud, region = key.split(":", 1)
            self._per_node[(key, disk_gib)] = priced(node_items(cloud, disk_gib), self.prices, cloud, region)
        return self._per_node[(key, disk_gib)]

    def per_stage(self, key: str, weights_gb: float | None) -> float:
        """What storing one model's weights in the region costs per month."""
        if (key, weights_gb) not in self._per_stage:
            cloud, region = key.split(":", 1)
            items = stage_items(cloud, weights_gb, self.layout.usage)
            self._per_stage[(key, weights_gb)] = priced(items, self.prices, cloud, region)
        return self._per_stage[(key, weights_gb)]

    def cloud_fixed(self, cloud: str) -> float:
        """What using the cloud at all costs per month, once for the stack."""
        return priced(cloud_items(cloud), self.prices, cloud, "*")


@functools.lru_cache(maxsize=8)
def footprint_of(catalog: Catalog, layout: FleetLayout) -> Footprint:
    """The footprint of a layout under the price file, built once per catalog and layout."""
    return Footprint(catalog, layout)
