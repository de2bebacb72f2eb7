"""Mocks that compute the outputs AWS and GCP would, so that policies, subnets and kubeconfigs resolve in tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any

from pulumi.runtime import mocks, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from tensorfleet.engine import EchoMocks, ProgramRun, echoed_outputs, read_stack_config, run_program

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
        if args.typ.startswith("gcp:"):
            resource_id = _gcp_outputs(args, outputs) or resource_id
        if args.typ.startswith("azure-native:"):
            outputs = echoed_outputs(args.typ, outputs)
            resource_id = _azure_outputs(args, outputs)
        return resource_id, outputs

    def call(self, args: mocks.MockCallArgs) -> dict:  # type: ignore[override]
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            # The shape of ``az aks get-credentials --format exec``: Entra ID sign-in through kubelogin.
            config = json.dumps({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": args.args["resourceName"], "cluster": {"server": "https://aks.example:443"}}],
                "users": [{"name": "clusterUser", "user": {"exec": {"command": "kubelogin", "args": ["get-token"]}}}],
            })  # fmt: skip
            return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(config.encode()).decode()}]}
        return {}


AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
AZURE_NAT_ADDRESS = "198.51.100.7"
_AZURE_NAME_INPUTS = [
    "agentPoolName", "keyName", "containerName", "subnetName", "resourceName", "vaultName", "accountName",
    "virtualNetworkName",
]  # fmt: skip
"""Inputs that name an Azure resource (its ``name`` output), by resource type."""


def _azure_outputs(args: mocks.MockResourceArgs, outputs: dict[str, Any]) -> str:
    """What Azure returns for the resources that others read; the ARM ID."""
    group = args.inputs.get("resourceGroupName", "rg")
    name = args.name
    kind = args.typ.split(":")[-1]
    resource_id = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{group}/providers/test/{kind}/{name}"
    keys = ["resourceGroupName"] if kind == "ResourceGroup" else _AZURE_NAME_INPUTS
    outputs["name"] = next((args.inputs[k] for k in keys if k in args.inputs), f"{name}-name")
    if kind == "UserAssignedIdentity":
        outputs.update(principalId=f"{name}-principal", clientId=f"{name}-client")
    if kind == "PublicIPAddress":
        outputs["ipAddress"] = AZURE_NAT_ADDRESS
    if kind == "DiskEncryptionSet":
        outputs["identity"] = {**outputs["identity"], "principalId": f"{name}-principal"}
    if kind == "Key":
        outputs.update(
            keyUri=f"https://vault.vault.azure.net/keys/{name}",
            keyUriWithVersion=f"https://vault.vault.azure.net/keys/{name}/1",
        )
    if kind == "ManagedCluster":
        outputs.update(
            fqdn=f"{name}.hcp.{args.inputs['location']}.azmk8s.io",
            privateFQDN=f"{name}.privatelink.{args.inputs['location']}.azmk8s.io",
            oidcIssuerProfile={
                "enabled": True,
                "issuerURL": f"https://{args.inputs['location']}.oic.prod-aks.azure.com/{name}/",
            },
        )
    return resource_id


def _gcp_outputs(args: mocks.MockResourceArgs, outputs: dict[str, Any]) -> str | None:
    """What GCP returns for the resources that others read; the ID when the API's has a form."""
    project = args.inputs.get("project", "acme-ml-prod")
    if args.typ == "gcp:kms/keyRing:KeyRing":
        return f"projects/{project}/locations/{args.inputs['location']}/keyRings/{args.inputs['name']}"
    if args.typ == "gcp:kms/cryptoKey:CryptoKey":
        return f"{args.inputs['keyRing']}/cryptoKeys/{args.inputs['name']}"
    if args.typ == "gcp:container/cluster:Cluster":
        outputs.update(endpoint="203.0.113.10", masterAuth={"clusterCaCertificate": "Q0VSVA=="})
    if args.typ == "gcp:container/nodePool:NodePool":
        outputs["name"] = f"{args.name}-name"
    if args.typ == "gcp:storage/bucket:Bucket":
        outputs["name"] = f"{args.name}-bucket"
    if args.typ == "gcp:serviceaccount/account:Account":
        email = f"{args.inputs['accountId']}@{project}.iam.gserviceaccount.com"
        outputs.update(email=email, name=f"projects/{project}/serviceAccounts/{email}")
    return None


def block_zone(region: str, instance_type: str) -> str:
    """A zone where a Capacity Block of the instance type could be: one that offers the type, among
    the first six of the region (the ones the stack's VPC spans)."""
    from regions.catalog import load_catalog
    from tensorfleet.fleet.aws import AWS_VPC_ZONES

    catalog = load_catalog()
    spanned = catalog.zones[f"aws:{region}"][:AWS_VPC_ZONES]
    offered = {z for o in catalog.offerings if (o.cloud, o.region, o.instance_type) == ("aws", region, instance_type)
               for z in o.zones}  # fmt: skip
    return next(zone for zone in spanned if zone in offered)


def run_stack(stack: str, secret: Iterable[str] = (), **changes: Any) -> ProgramRun:
    """Runs the real program for ``stack`` with config ``changes`` (camelCase keys) under AwsMocks.

    ``secret`` names camelCase keys to mark secret; their values are handed over decrypted, as the
    Pulumi CLI hands them to the language host.
    """
    config, secret_keys = read_stack_config(stack)
    config.update({f"tensorfleet:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()})
    return run_program(stack, config, secret_keys | {f"tensorfleet:{k}" for k in secret}, mock=AwsMocks())


class RequestMonitor(mocks.MockMonitor):
    """Pulumi's mock monitor, keeping every RegisterResource request as sent (aliases included). It
    may deny alias specs, as engines before them did, so that the SDK computes alias URNs itself."""

    def __init__(self, alias_specs: bool = True) -> None:
        super().__init__(EchoMocks())
        self.alias_specs = alias_specs
        self.requests: list[Any] = []

    def GetDeploymentInfo(self, request: Any) -> Any:
        features = super().GetDeploymentInfo(request).supportedFeatures
        specs = resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS
        return resource_pb2.DeploymentInfo(supportedFeatures=[f for f in features if self.alias_specs or f != specs])

    def RegisterResource(self, request: Any) -> Any:
        self.requests.append(request)
        return super().RegisterResource(request)


def register(build: Callable[[], object], alias_specs: bool = True) -> list[Any]:
    """Runs ``build`` (components made directly, without the planner) as a program of stack ``test``
    under the mock engine; returns the RegisterResource requests, the root stack's left out."""
    monitor = RequestMonitor(alias_specs)
    mocks.set_mocks(monitor.mocks, project="tensorfleet", stack="test", preview=True, monitor=monitor)
    settings.set_root_resource(None)  # type: ignore[arg-type]  # run_in_stack creates the root stack
    _sync_await(run_in_stack(build))
    return [r for r in monitor.requests if r.type != "pulumi:pulumi:Stack"]
