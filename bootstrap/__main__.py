"""Creates the team's Pulumi state backend: a versioned, KMS-encrypted, private, TLS-only bucket for
stack state, and a customer-managed KMS key (rotated, protected) for the stacks' secrets provider."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.bucket import SecureBucket, SecureBucketArgs
from components.aws.kms import RegionKey, RegionKeyArgs

config = pulumi.Config()
account_id = config.require("accountId")
region = pulumi.Config("aws").require("region")
provider = aws.Provider("state", region=region, allowed_account_ids=[account_id])
options = pulumi.ResourceOptions(providers={"aws": provider})

key = RegionKey("state-key", RegionKeyArgs(account_id=account_id, alias="tensorfleet-state", production=True), options)
bucket = SecureBucket("state", SecureBucketArgs(key_arn=key.arn, production=True), options)

pulumi.export("backendUrl", bucket.bucket_name.apply(lambda name: f"s3://{name}?region={region}"))
pulumi.export("secretsProvider", f"awskms://alias/tensorfleet-state?region={region}")
