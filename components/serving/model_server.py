"""``ModelServer``: one placement row's model server registered in its cluster (the objects of
:func:`components.serving.manifests.server_objects`, each its own resource)."""

from __future__ import annotations

import math

import pulumi

from components.k8s.objects import register_object
from components.serving.manifests import ServerSpec, load_seconds, server_objects

__all__ = ["NODE_READY_S", "ModelServer"]

NODE_READY_S = 600
"""Assumed time for the node autoscaler to bring up an accelerator node (launch, join, driver and
device plugin): with the model's load time, how long ``pulumi up`` waits for a replica."""


class ModelServer(pulumi.ComponentResource):
    """A Deployment (or, for replicas that span nodes, a LeaderWorkerSet) of model-server replicas,
    its Service, PodDisruptionBudget, NetworkPolicy and KEDA ScaledObject. KEDA owns the replica
    count once the server exists."""

    def __init__(self, name: str, spec: ServerSpec, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:serving:ModelServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for manifest in server_objects(spec):
            kind = manifest["kind"]
            options = child
            if kind in ("Deployment", "LeaderWorkerSet"):
                manifest = _awaited_for_load(manifest, spec)
                options = pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"])
            register_object(f"{name}-{kind.lower()}", manifest, options)
        self.register_outputs({})


def _awaited_for_load(deployment: dict, spec: ServerSpec) -> dict:
    """The Deployment with the time ``pulumi up`` waits for it raised to a node's start plus the
    model's load (the provider's 10-minute default would fail a large model that is still loading)."""
    seconds = math.ceil(NODE_READY_S + load_seconds(spec.weights_gb))
    metadata = deployment["metadata"]
    annotations = {**metadata.get("annotations", {}), "pulumi.com/timeoutSeconds": str(seconds)}
    return {**deployment, "metadata": {**metadata, "annotations": annotations}}
