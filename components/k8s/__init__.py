"""The Kubernetes layer of a cluster: provider, add-ons, tenant namespaces (model servers come from
:mod:`components.serving`)."""

from components.k8s.addons import CHARTS, AcceleratorPool, ClusterAddons, ClusterAddonsArgs, accelerator_addons
from components.k8s.layer import KubernetesLayer, KubernetesLayerArgs
from components.k8s.tenant import TenantNamespace, TenantNamespaceArgs

__all__ = [
    "CHARTS",
    "AcceleratorPool",
    "ClusterAddons",
    "ClusterAddonsArgs",
    "KubernetesLayer",
    "KubernetesLayerArgs",
    "TenantNamespace",
    "TenantNamespaceArgs",
    "accelerator_addons",
]
