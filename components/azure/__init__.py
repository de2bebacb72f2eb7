"""Azure fleet components: per-region resource group, key vault, network, AKS cluster, artifact
storage and GPU agent pools."""

from components.azure.region import AgentPoolSpec, AzureRegionFleet, AzureRegionFleetArgs

__all__ = ["AgentPoolSpec", "AzureRegionFleet", "AzureRegionFleetArgs"]
