"""``TenantNamespace``: a tenant's namespace on one cluster with its guard rails, and the service
accounts of its workloads bound to their cloud identities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.fleet.identity import WorkloadIdentity
from components.k8s.objects import register_object
from components.serving.manifests import ServerSpec, service_account
from components.serving.tenancy import tenant_objects

__all__ = ["TenantNamespace", "TenantNamespaceArgs"]


@dataclass(frozen=True, kw_only=True)
class TenantNamespaceArgs:
    namespace: str
    """The tenant's name: a DNS label."""
    servers: tuple[ServerSpec, ...]
    """The tenant's model servers on this cluster: their planned maximum is the accelerator quota."""
    identities: Mapping[str, WorkloadIdentity] = field(default_factory=dict)
    """Per workload of the tenant placed on this cluster: its service account's cloud identity."""


class TenantNamespace(pulumi.ComponentResource):
    """Namespace, default-deny ingress, accelerator ResourceQuota, LimitRange, service accounts."""

    namespace: pulumi.Resource

    def __init__(self, name: str, args: TenantNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:k8s:TenantNamespace", name, None, opts)
        namespace, *guard_rails = tenant_objects(args.namespace, args.servers)
        self.namespace = register_object(f"{name}-namespace", namespace, pulumi.ResourceOptions(parent=self))
        inside = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        for manifest in guard_rails:
            register_object(f"{name}-{manifest['kind'].lower()}", manifest, inside)
        for workload, identity in sorted(args.identities.items()):
            account = service_account(args.namespace, workload, dict(identity.annotations))
            register_object(f"{name}-{workload}-serviceaccount", account, inside)
        self.register_outputs({})
