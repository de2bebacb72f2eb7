"""How a workload's pods take on its cloud identity: the contract between a region fleet (which
creates the identity and trusts the service account) and the serving layer (which creates the
service account and the pods)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

__all__ = ["WorkloadIdentity"]


@dataclass(frozen=True)
class WorkloadIdentity:
    """What service account ``<workload>`` in namespace ``<tenant>`` and its pods must carry."""

    annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """On the service account (GKE: the Google service account; AKS: the identity's client ID).
    EKS Pod Identity needs none: the association names the service account."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """On the pods (AKS: the label that lets the webhook project the federated token)."""
