"""A Cloud KMS key ring and key per region, rotated, and usable by the services that encrypt with it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

__all__ = ["ENCRYPTER_DECRYPTER", "ROTATION_PERIOD", "SERVICE_AGENTS", "RegionKeyRing", "RegionKeyRingArgs"]

ROTATION_PERIOD = f"{90 * 24 * 3600}s"
"""A new key version every 90 days; old versions keep decrypting what they encrypted."""
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
SERVICE_AGENTS = {
    "container": "service-{number}@container-engine-robot.iam.gserviceaccount.com",
    "compute": "service-{number}@compute-system.iam.gserviceaccount.com",
    "storage": "service-{number}@gs-project-accounts.iam.gserviceaccount.com",
}
"""Google-managed service agents that encrypt for us: GKE (etcd secrets), Compute Engine (boot
disks), Cloud Storage (artifacts). Each gets encrypt/decrypt on this key only."""


@dataclass(frozen=True, kw_only=True)
class RegionKeyRingArgs:
    project: pulumi.Input[str]
    project_number: pulumi.Input[str]
    """Names the project's service agents (digits; may be a secret)."""
    region: str
    name: str
    """Key ring name, e.g. ``tensorfleet-prod-us-central1``: key rings cannot be deleted, so a name
    is used once per project and region."""
    production: bool = False
    """Protect the key from deletion by Pulumi. Default: no."""


class RegionKeyRing(pulumi.ComponentResource):
    """The key that encrypts cluster secrets, node boot disks and model artifacts of a region."""

    key_id: pulumi.Output[str]
    """``projects/…/locations/…/keyRings/…/cryptoKeys/…``."""
    grants: list[pulumi.Resource]
    """The service agents' grants: resources that encrypt with the key depend on them."""

    def __init__(self, name: str, args: RegionKeyRingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:gcp:RegionKeyRing", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ring = gcp.kms.KeyRing(
            f"{name}-ring", name=args.name, location=args.region, project=args.project,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )  # fmt: skip
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            name="fleet",
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=ROTATION_PERIOD,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        self.grants = [
            gcp.kms.CryptoKeyIAMMember(
                f"{name}-{service}",
                crypto_key_id=key.id,
                role=ENCRYPTER_DECRYPTER,
                member=_agent_member(args.project_number, agent),
                opts=child,
            )
            for service, agent in SERVICE_AGENTS.items()
        ]
        self.key_id = key.id
        self.register_outputs({"key_id": self.key_id})


def _agent_member(project_number: pulumi.Input[str], agent: str) -> pulumi.Output[str]:
    return pulumi.Output.from_input(project_number).apply(
        lambda number: f"serviceAccount:{agent.format(number=number)}"
    )
