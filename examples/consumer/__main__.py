"""An app team's program: reads the tensorfleet stack's typed outputs and deploys into its namespace.

The fleet's outputs arrive validated (``tensorfleet.outputs.StackOutputs``); the kubeconfig stays a
Pulumi secret all the way into the Kubernetes provider.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from tensorfleet.outputs import StackOutputs, read_stack_outputs

config = pulumi.Config()
workload = config.require("workload")
fleet = read_stack_outputs(config.get("fleetStack", "acme/tensorfleet/prod"))


def first_cluster(outputs: StackOutputs) -> str:
    """The ``cloud:region`` key of the workload's first placement that has a cluster."""
    for placement in outputs.workloads[workload].placements:
        key = f"{placement.cloud}:{placement.region}"
        if key in outputs.clusters:
            return key
    raise pulumi.RunError(f"workload {workload!r} has no cluster in this fleet")


cluster = fleet.apply(first_cluster)
kubeconfig = pulumi.Output.secret(pulumi.Output.all(fleet, cluster).apply(lambda v: v[0].kubeconfigs[v[1]]))
provider = k8s.Provider("fleet", kubeconfig=kubeconfig)
namespace = fleet.apply(lambda o: o.workloads[workload].namespace)
k8s.core.v1.ConfigMap(
    "app-settings",
    metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, name="app-settings"),
    data={
        "cluster": cluster,
        "endpoint": pulumi.Output.all(fleet, cluster).apply(lambda v: v[0].clusters[v[1]].endpoint),
    },
    opts=pulumi.ResourceOptions(provider=provider),
)
pulumi.export("namespace", namespace)
