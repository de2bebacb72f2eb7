"""A GCS bucket for a region's model artifacts: CMEK, uniform access, no public access, versioned."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

__all__ = ["SecureGcsBucket", "SecureGcsBucketArgs"]


@dataclass(frozen=True, kw_only=True)
class SecureGcsBucketArgs:
    project: pulumi.Input[str]
    region: str
    key_id: pulumi.Input[str]
    """Cloud KMS key (same region) for default encryption; the storage service agent must hold
    encrypt/decrypt on it (``depends_on`` that grant)."""
    production: bool = False
    """Protect the bucket from deletion. Default: no."""
    labels: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class SecureGcsBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]

    def __init__(self, name: str, args: SecureGcsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:gcp:SecureGcsBucket", name, None, opts)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            project=args.project,
            location=args.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=args.key_id),
            force_destroy=False,
            labels=args.labels,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.production, depends_on=opts.depends_on if opts else None
            ),
        )
        self.bucket_name = bucket.name
        self.register_outputs({"bucket_name": self.bucket_name})
