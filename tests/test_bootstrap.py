"""The state-backend bootstrap program, run under the mock engine like the main program."""

from __future__ import annotations

import json

from tensorfleet.engine import PROJECT_ROOT, run_program
from tests.components.aws_mocks import AwsMocks


def test_bootstrap_creates_a_protected_encrypted_state_bucket_and_key():
    config = {"aws:region": "eu-west-1", "tensorfleet-state:accountId": "111122223333"}
    run = run_program(
        "state", config, project="tensorfleet-state", program_dir=PROJECT_ROOT / "bootstrap", mock=AwsMocks()
    )
    by_type = {r.type: r for r in run.registrations}
    key = by_type["aws:kms/key:Key"]
    assert key.protect and key.inputs["enableKeyRotation"] is True
    bucket = by_type["aws:s3/bucket:Bucket"]
    assert bucket.protect
    sse = by_type["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"]
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert by_type["aws:s3/bucketVersioning:BucketVersioning"].inputs["versioningConfiguration"]["status"] == "Enabled"
    policy = json.loads(by_type["aws:s3/bucketPolicy:BucketPolicy"].inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert json.loads(by_type["pulumi:providers:aws"].inputs["allowedAccountIds"]) == ["111122223333"]
    assert run.outputs["backendUrl"] == "s3://state-bucket-bucket?region=eu-west-1"
    assert run.outputs["secretsProvider"] == "awskms://alias/tensorfleet-state?region=eu-west-1"
