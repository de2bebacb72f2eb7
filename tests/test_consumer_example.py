"""The app-team example reads a fleet's outputs through a stack reference, under the mock engine."""

from __future__ import annotations

import json

import pytest
from pulumi.runtime import mocks, rpc

from tensorfleet.engine import PROJECT_ROOT, run_program
from tests.components.aws_mocks import AwsMocks, run_stack


class _FleetReference(AwsMocks):
    """Answers the stack reference with the outputs of a real prod run (secrets unwrapped, as the engine does)."""

    def __init__(self, outputs):
        self.outputs = {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in outputs.items()}
        self.read = []

    def new_resource(self, args: mocks.MockResourceArgs):
        if args.typ == "pulumi:pulumi:StackReference":  # a read, not a registration
            self.read.append(args.inputs["name"])
            return args.name, {
                "name": args.inputs["name"],
                "outputs": self.outputs,
                "secretOutputNames": ["kubeconfigs"],
            }
        return super().new_resource(args)


def test_consumer_deploys_into_its_namespace_with_a_secret_kubeconfig():
    fleet = run_stack("prod")
    config = {"moderation-app:workload": "content-moderation", "moderation-app:fleetStack": "acme/tensorfleet/prod"}
    reference = _FleetReference(fleet.outputs)
    run = run_program("prod", config, project="moderation-app", program_dir=PROJECT_ROOT / "examples" / "consumer",
                      mock=reference)  # fmt: skip
    assert reference.read == ["acme/tensorfleet/prod"]
    (provider,) = [r for r in run.registrations if r.type == "pulumi:providers:kubernetes"]
    assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])
    (config_map,) = [r for r in run.registrations if r.type == "kubernetes:core/v1:ConfigMap"]
    assert config_map.inputs["metadata"]["namespace"] == "trust-safety"
    assert config_map.inputs["data"]["cluster"].startswith(("aws:", "gcp:", "azure:"))
    assert run.outputs["namespace"] == "trust-safety"


def _consume(fleet, workload: str, clusters: list[str]):
    config = {"app:workload": workload, "app:clusters": json.dumps(clusters)}
    run = run_program("prod", config, project="app", program_dir=PROJECT_ROOT / "examples" / "consumer",
                      mock=_FleetReference(fleet.outputs))  # fmt: skip
    maps = {r.name: r.inputs for r in run.registrations if r.type == "kubernetes:core/v1:ConfigMap"}
    providers = [r for r in run.registrations if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == len(clusters) and all(rpc.is_rpc_secret(p.inputs["kubeconfig"]) for p in providers)
    return maps


def test_consumer_reads_a_gcp_and_an_azure_cluster_with_their_identity_settings():
    fleet = run_stack("prod")
    gcp = _consume(fleet, "document-summaries", ["gcp:us-east4"])["app-settings-gcp-us-east4"]
    assert gcp["metadata"]["namespace"] == fleet.outputs["workloads"]["document-summaries"]["namespace"]
    assert gcp["data"]["project"] == "acme-ml-prod" and gcp["data"]["workloadIdentityPool"]
    maps = _consume(fleet, "recommendation-embeddings", ["azure:northeurope", "aws:us-east-2"])
    azure = maps["app-settings-azure-northeurope"]["data"]
    assert azure["resourceGroup"] == "tensorfleet-prod-northeurope" and azure["oidcIssuerUrl"].startswith("https://")
    assert azure["endpoint"] == fleet.outputs["clusters"]["azure:northeurope"]["endpoint"]
    assert maps["app-settings-aws-us-east-2"]["data"]["oidcProviderArn"].startswith("arn:aws:")


def test_consumer_refuses_a_cluster_the_workload_does_not_run_on():
    fleet = run_stack("prod")
    with pytest.raises(Exception, match="runs on no cluster 'gcp:us-east4'"):
        _consume(fleet, "recommendation-embeddings", ["gcp:us-east4"])
    # The Pulumi SDK leaves the failed run's error pending: the next program run in this process
    # (another test module's, on the same test worker) would fail with it. One run takes it.
    with pytest.raises(Exception, match="runs on no cluster 'gcp:us-east4'"):
        run_stack("dev")
    assert run_stack("dev").registrations
