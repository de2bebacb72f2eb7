"""AWS fleet components: per-region key, network, EKS cluster, artifact bucket and accelerator node groups."""

from components.aws.region import AwsRegionFleet, AwsRegionFleetArgs, ExistingNetwork, NodeGroupSpec

__all__ = ["AwsRegionFleet", "AwsRegionFleetArgs", "ExistingNetwork", "NodeGroupSpec"]
