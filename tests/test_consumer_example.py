"""The app-team example reads a fleet's outputs through a stack reference, under the mock engine."""

from __future__ import annotations

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
