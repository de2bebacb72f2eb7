"""A tenant's namespace on one cluster: default-deny ingress, accelerator quota equal to what the
planner lets the tenant's servers scale to there, and default container requests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from components.serving.images import ACCELERATOR_RESOURCES, family_of
from components.serving.manifests import ServerSpec

__all__ = ["DEFAULT_CONTAINER_REQUESTS", "accelerator_quota", "tenant_objects"]

DEFAULT_CONTAINER_REQUESTS = {"cpu": "250m", "memory": "512Mi"}
"""Requests of a container that states none, so that the scheduler counts it. No default limits: a
LimitRange's default limit would also cap a model server's memory (weights staged in host memory,
tensor-parallel workers), which its accelerator request already gives a node of its own."""


def accelerator_quota(servers: Iterable[ServerSpec]) -> dict[str, int]:
    """Accelerators per extended resource that the tenant's servers on one cluster may hold at their
    planned maximum: replicas × nodes per replica × tensor-parallel width, summed. A quota above it is capacity the plan
    never bought; below it, the autoscaler could not reach the plan."""
    quota: dict[str, int] = defaultdict(int)
    for spec in servers:
        resource = ACCELERATOR_RESOURCES[family_of(spec.accelerator)]
        quota[resource] += spec.replicas_max * spec.nodes_per_replica * spec.accelerators_per_replica
    return dict(sorted(quota.items()))


def tenant_objects(namespace: str, servers: Iterable[ServerSpec]) -> list[dict[str, Any]]:
    """The namespace and its guard rails, in apply order."""
    labels = {"app.kubernetes.io/managed-by": "tensorfleet", "tensorfleet.io/tenant": namespace}
    quota = accelerator_quota(servers)
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}},
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-ingress", "namespace": namespace, "labels": labels},
            # Selects every pod and admits nothing: each server's own policy opens what it needs.
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "accelerators", "namespace": namespace, "labels": labels},
            "spec": {"hard": {f"requests.{resource}": str(count) for resource, count in quota.items()}},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "container-defaults", "namespace": namespace, "labels": labels},
            "spec": {"limits": [{"type": "Container", "defaultRequest": dict(DEFAULT_CONTAINER_REQUESTS)}]},
        },
    ]
