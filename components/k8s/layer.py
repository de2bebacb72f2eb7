"""``KubernetesLayer``: everything the serving layer puts into one cluster, through one Kubernetes
provider made from the cluster's kubeconfig (a secret): add-ons, tenant namespaces with their
service accounts, and a model server per placement row."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.addons import ClusterAddons, ClusterAddonsArgs
from components.k8s.tenant import TenantNamespace, TenantNamespaceArgs
from components.serving.manifests import ServerSpec
from components.serving.model_server import ModelServer

__all__ = ["KubernetesLayer", "KubernetesLayerArgs"]


@dataclass(frozen=True, kw_only=True)
class KubernetesLayerArgs:
    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig; a Pulumi secret."""
    addons: ClusterAddonsArgs
    tenants: tuple[TenantNamespaceArgs, ...]
    servers: tuple[ServerSpec, ...]
    """One per placement row served by a model server on this cluster; each in its tenant's namespace."""


class KubernetesLayer(pulumi.ComponentResource):
    """One cluster's Kubernetes objects. Registered with the cluster's cloud and region, which the
    plan reports for every object under it."""

    def __init__(self, name: str, args: KubernetesLayerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        super().__init__(
            "tensorfleet:k8s:KubernetesLayer", name, {"cloud": args.addons.cloud, "region": args.addons.region}, opts
        )
        provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=args.kubeconfig,
            # Replaced only with the cluster itself, not when a kubeconfig detail changes.
            cluster_identifier=args.addons.cluster_name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        inside = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider})
        addons = ClusterAddons(f"{name}-addons", args.addons, inside)
        tenants = {t.namespace: TenantNamespace(f"{name}-{t.namespace}", t, inside) for t in args.tenants}
        for spec in args.servers:
            ModelServer(
                f"{name}-{spec.name}",
                spec,
                pulumi.ResourceOptions(
                    parent=self,
                    providers={"kubernetes": provider},
                    # The ScaledObject needs KEDA's CRD and Prometheus; the pods their namespace and account.
                    depends_on=[
                        *(addons.releases[name] for name in _needs(spec)),
                        tenants[spec.namespace],
                    ],
                ),
            )
        self.register_outputs({})


def _validate(name: str, args: KubernetesLayerArgs) -> None:
    namespaces = {t.namespace for t in args.tenants}
    missing = sorted({s.namespace for s in args.servers} - namespaces)
    if missing:
        raise ValueError(f"{name}: model servers in namespaces that no tenant declares: {', '.join(missing)}")
    if any(s.multi_node for s in args.servers) and not args.addons.leader_worker_sets:
        raise ValueError(f"{name}: model servers span nodes but the LeaderWorkerSet add-on is off")
    names = [(s.namespace, s.name) for s in args.servers]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: two model servers share a name in one namespace")


def _needs(spec: ServerSpec) -> tuple[str, ...]:
    """Add-ons a server's objects need first: CRDs (KEDA's, LeaderWorkerSet's) and its metrics."""
    return ("keda", "prometheus", *(("lws",) if spec.multi_node else ()))
