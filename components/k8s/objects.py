"""Registers a Kubernetes object built as a plain manifest (the pure builders' output) as the typed
Pulumi resource of its kind, so that the plan, the policy pack and the provider see one resource per
object with the manifest's own fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["register_object"]

_BUILT_IN: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}
_CUSTOM = {("keda.sh/v1alpha1", "ScaledObject"), ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")}
"""Custom resources we create; their CRDs come with the cluster add-ons."""


def register_object(name: str, manifest: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """The manifest as a resource named ``name``; its fields pass through unchanged (camelCase)."""
    kind = (manifest["apiVersion"], manifest["kind"])
    fields = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
    if kind in _CUSTOM:
        return k8s.apiextensions.CustomResource(
            name, api_version=kind[0], kind=kind[1], metadata=manifest["metadata"], opts=opts, **fields
        )
    if kind not in _BUILT_IN:
        raise ValueError(f"{name}: no resource class registered for {kind[0]} {kind[1]}")
    if kind == ("v1", "ServiceAccount"):
        token = fields.pop("automountServiceAccountToken", None)
        if token is not None:
            fields["automount_service_account_token"] = token
    return _BUILT_IN[kind](name, metadata=manifest["metadata"], opts=opts, **fields)
