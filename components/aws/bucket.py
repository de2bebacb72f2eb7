"""An S3 bucket that is KMS-encrypted with a customer-managed key, versioned, private and TLS only.

Used for each region's model artifacts and for the team's Pulumi state (bootstrap/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policies import tls_only_bucket_policy

__all__ = ["FORMER_TYPES", "TYPE", "SecureBucket", "SecureBucketArgs"]

TYPE = "tensorfleet:aws:SecureBucket"
FORMER_TYPES = ("tensorfleet:aws:ModelArtifactBucket",)
"""Earlier type tokens of this component, kept as aliases so that stacks created under them keep
their buckets (a changed token would otherwise replace the component and every child)."""


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    key_arn: pulumi.Input[str]
    """KMS key for default SSE-KMS encryption."""
    production: bool = False
    """Protect the bucket from deletion. Default: no."""


class SecureBucket(pulumi.ComponentResource):
    """A bucket with every protection on: model artifacts next to the cluster, or Pulumi state."""

    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        aliases = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=former) for former in FORMER_TYPES])
        super().__init__(TYPE, name, None, pulumi.ResourceOptions.merge(opts, aliases))
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket", force_destroy=False, opts=pulumi.ResourceOptions(parent=self, protect=args.production)
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.key_arn
                    ),
                    # A bucket key cuts KMS requests (and their cost) for object-heavy workloads.
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_bucket_policy(arn))),
            opts=child,
        )
        self.bucket_name = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})
