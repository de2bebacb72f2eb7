"""An app team's program: reads the tensorfleet stack's typed outputs and deploys into its namespace
on each cluster it names (any cloud).

The fleet's outputs arrive validated (``tensorfleet.outputs.StackOutputs``); each kubeconfig stays a
Pulumi secret all the way into its Kubernetes provider.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from tensorfleet.outputs import ClusterOutput, StackOutputs, read_stack_outputs

config = pulumi.Config()
workload = config.require("workload")
fleet = read_stack_outputs(config.get("fleetStack", "acme/tensorfleet/prod"))
clusters: list[str] = config.get_object("clusters") or []
"""``cloud:region`` keys of the fleet's clusters to deploy into; default: the workload's first."""


def first_cluster(outputs: StackOutputs) -> str:
    """The ``cloud:region`` key of the workload's first placement that has a cluster."""
    for placement in outputs.workloads[workload].placements:
        key = f"{placement.cloud}:{placement.region}"
        if key in outputs.clusters:
            return key
    raise pulumi.RunError(f"workload {workload!r} has no cluster in this fleet")


def placed_cluster(outputs: StackOutputs, key: str) -> ClusterOutput:
    """The named cluster, which must run the workload."""
    placed = {f"{p.cloud}:{p.region}" for p in outputs.workloads[workload].placements}
    if key not in outputs.clusters or key not in placed:
        raise pulumi.RunError(f"workload {workload!r} runs on no cluster {key!r}; it runs on {sorted(placed)}")
    return outputs.clusters[key]


def identity_settings(cluster: ClusterOutput) -> dict[str, str]:
    """What the workload's pods need to reach their cloud identity on this cluster."""
    if cluster.cloud == "gcp":
        return {"project": cluster.project or "", "workloadIdentityPool": cluster.workload_identity_pool or ""}
    if cluster.cloud == "azure":
        return {"resourceGroup": cluster.resource_group or "", "oidcIssuerUrl": cluster.oidc_issuer_url or ""}
    return {"oidcProviderArn": cluster.oidc_provider_arn or ""}


namespace = fleet.apply(lambda o: o.workloads[workload].namespace)
for key in clusters or [None]:
    cluster_key = pulumi.Output.from_input(key) if key else fleet.apply(first_cluster)
    suffix = f"-{key.replace(':', '-')}" if key else ""
    cluster = pulumi.Output.all(fleet, cluster_key).apply(lambda v: placed_cluster(v[0], v[1]))
    kubeconfig = pulumi.Output.secret(pulumi.Output.all(fleet, cluster_key).apply(lambda v: v[0].kubeconfigs[v[1]]))
    provider = k8s.Provider(f"fleet{suffix}", kubeconfig=kubeconfig)
    k8s.core.v1.ConfigMap(
        f"app-settings{suffix}",
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, name="app-settings"),
        data=pulumi.Output.all(cluster_key, cluster).apply(
            lambda v: {"cluster": v[0], "endpoint": v[1].endpoint, **identity_settings(v[1])}
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
pulumi.export("namespace", namespace)
