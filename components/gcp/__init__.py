"""GCP fleet components: per-region key ring, network, GKE cluster, artifact bucket and GPU / TPU node pools."""

from components.gcp.network import ExistingGcpNetwork
from components.gcp.region import GcpRegionFleet, GcpRegionFleetArgs, NodePoolSpec

__all__ = ["ExistingGcpNetwork", "GcpRegionFleet", "GcpRegionFleetArgs", "NodePoolSpec"]
