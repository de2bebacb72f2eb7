"""A customer-managed KMS key per region: rotation on, 30-day deletion window, protected in production."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policies import key_policy

__all__ = ["RegionKey", "RegionKeyArgs"]

DELETION_WINDOW_DAYS = 30  # the maximum AWS allows: a deleted key stays recoverable for a month


@dataclass(frozen=True, kw_only=True)
class RegionKeyArgs:
    account_id: pulumi.Input[str]
    """AWS account that administers the key (12 digits); a secret account stays secret in the policy."""
    alias: str
    """Alias name without the ``alias/`` prefix, e.g. ``tensorfleet-prod-us-east-1``."""
    production: bool = False
    """Protect the key from deletion by Pulumi. Default: no."""


class RegionKey(pulumi.ComponentResource):
    """The key that encrypts cluster secrets, node volumes, model artifacts and alert topics of a region."""

    arn: pulumi.Output[str]
    """Key ARN."""

    def __init__(self, name: str, args: RegionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:aws:RegionKey", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"tensorfleet {args.alias}: EKS secrets, EBS, S3 artifacts, SNS alerts",
            enable_key_rotation=True,
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            policy=pulumi.Output.from_input(args.account_id).apply(lambda account: json.dumps(key_policy(account))),
            # Children do not inherit depends_on: roles the policy names must exist before the key.
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.production, depends_on=opts.depends_on if opts else None
            ),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = key.arn
        self.register_outputs({"arn": self.arn})
