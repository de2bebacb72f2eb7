"""Mocks that compute the outputs AWS would, so that policies, subnets and kubeconfigs resolve in tests."""

from __future__ import annotations

import json
from typing import Any

from pulumi.runtime import mocks

from tensorfleet.engine import ProgramRun, read_stack_config, run_program

ACCOUNT = "111122223333"


class AwsMocks(mocks.Mocks):
    """Inputs echoed; IDs, ARNs, generated names and the EKS cluster identity filled in."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        outputs: dict[str, Any] = dict(args.inputs)
        resource_id = f"{args.name}-id"
        kind = args.typ.split(":")[1].split("/")[0] if args.typ.startswith("aws:") else ""
        outputs.setdefault("arn", f"arn:aws:{kind}:us-east-1:{ACCOUNT}:{args.name}")
        if args.typ == "aws:s3/bucket:Bucket":
            outputs.update(bucket=f"{args.name}-bucket", arn=f"arn:aws:s3:::{args.name}-bucket")
        if args.typ == "aws:eks/cluster:Cluster":
            outputs.update(
                name=f"{args.name}-name",
                endpoint=f"https://{args.name}.eks.amazonaws.com",
                certificateAuthority={"data": "Q0VSVA=="},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.amazonaws.com/id/{args.name}"}]}],
            )
        if args.typ == "aws:eks/nodeGroup:NodeGroup":
            outputs["nodeGroupName"] = f"{args.name}-name"
        if args.typ == "aws:kms/key:Key":
            outputs["keyId"] = f"{args.name}-key-id"
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        return resource_id, outputs

    def call(self, args: mocks.MockCallArgs) -> dict:  # type: ignore[override]
        return {}


def run_stack(stack: str, **changes: Any) -> ProgramRun:
    """Runs the real program for ``stack`` with config ``changes`` (camelCase keys) under AwsMocks."""
    config, secret_keys = read_stack_config(stack)
    config.update({f"tensorfleet:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()})
    return run_program(stack, config, secret_keys, mock=AwsMocks())
