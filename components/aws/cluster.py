"""An EKS cluster per region: secrets encrypted with the region key, audit logs on, private in production."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.policies import (
    EKS_CLUSTER_ADMIN_POLICY,
    EKS_CLUSTER_POLICIES,
    EKS_NODE_POLICIES,
    assume_role_policy,
)

__all__ = ["CONTROL_PLANE_LOGS", "EksCluster", "EksClusterArgs", "kubeconfig"]

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator")


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    subnet_ids: list[pulumi.Input[str]]
    """Private subnets for the control plane's network interfaces (two zones at least)."""
    key_arn: pulumi.Input[str]
    """KMS key for envelope encryption of Kubernetes secrets."""
    kubernetes_version: pulumi.Input[str] = "1.33"
    """EKS Kubernetes version. Default: 1.33."""
    private_endpoint_only: bool = True
    """Serve the API only inside the VPC. Default: yes (always in production)."""
    public_access_cidrs: tuple[pulumi.Input[str], ...] = ()
    """With a public endpoint, the CIDRs allowed to reach it. Required when the endpoint is public.
    Plain entries are checked here; secret (Output) entries cannot be read before deployment, so the
    caller validates them."""
    admin_principals: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """IAM principal ARNs granted cluster admin through access entries, each under a stable key that
    names its entry (``<name>-admin-<key>``): ``components.naming.keyed(arns, principal_key)``.
    Default: none, so the identity that creates the cluster keeps admin rights (EKS's bootstrap
    permission)."""
    production: bool = False
    """Protect the cluster and turn on EKS deletion protection. Default: no."""
    tags: dict[str, str] = field(default_factory=dict)


class EksCluster(pulumi.ComponentResource):
    """Control plane, IAM roles, OIDC provider and pod identity for one region."""

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Kubeconfig that authenticates with ``aws eks get-token``; a Pulumi secret."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__("tensorfleet:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_role = _role(f"{name}-cluster-role", "eks.amazonaws.com", EKS_CLUSTER_POLICIES, child)
        public = not args.private_endpoint_only
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(args.public_access_cidrs) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.key_arn), resources=["secrets"]
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=not args.admin_principals,
            ),
            deletion_protection=args.production,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        issuer = cluster.identities.apply(_issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=args.tags, opts=child
        )
        # Pod Identity lets each workload's service account assume its own least-privilege role.
        aws.eks.Addon(
            f"{name}-pod-identity", cluster_name=cluster.name, addon_name="eks-pod-identity-agent", opts=child
        )
        for key, principal in args.admin_principals.items():
            _cluster_admin(f"{name}-admin-{key}", cluster.name, principal, child)
        node_role = _role(f"{name}-node-role", "ec2.amazonaws.com", EKS_NODE_POLICIES, child)
        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.oidc_provider_arn = oidc.arn
        self.node_role_arn = node_role.arn
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda values: kubeconfig(*values)
            )
        )
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": self.endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
                "node_role_arn": self.node_role_arn,
                "kubeconfig": self.kubeconfig,
            }
        )


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str) -> str:
    """A kubeconfig for the cluster that gets short-lived tokens from ``aws eks get-token``."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                    }
                },
            }
        ],
    }
    return json.dumps(document)


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity] | None) -> str | None:
    """The cluster's OIDC issuer URL (known once the cluster exists)."""
    oidcs = identities[0].oidcs if identities else None
    return oidcs[0].issuer if oidcs else None


def _cluster_admin(
    name: str, cluster_name: pulumi.Input[str], principal: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> None:
    """An access entry and the cluster-admin policy for one principal. The association takes the
    principal as given (a secret stays one) and waits for the entry."""
    entry = aws.eks.AccessEntry(name, cluster_name=cluster_name, principal_arn=principal, type="STANDARD", opts=opts)
    aws.eks.AccessPolicyAssociation(
        name,
        cluster_name=cluster_name,
        principal_arn=principal,
        policy_arn=EKS_CLUSTER_ADMIN_POLICY,
        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[entry])),
    )


def _role(name: str, service: str, policies: tuple[str, ...], opts: pulumi.ResourceOptions) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=json.dumps(assume_role_policy(service)), opts=opts)
    for policy in policies:
        short = policy.rsplit("/", 1)[-1]
        aws.iam.RolePolicyAttachment(f"{name}-{short}", role=role.name, policy_arn=policy, opts=opts)
    return role


def _validate(args: EksClusterArgs) -> None:
    problems: list[pulumi.InputPropertyErrorDetails] = []
    if len(args.subnet_ids) < 2:
        problems.append(
            {"property_path": "subnet_ids", "reason": f"EKS needs subnets in two zones, got {len(args.subnet_ids)}"}
        )
    if args.production and not args.private_endpoint_only:
        problems.append({"property_path": "private_endpoint_only", "reason": "must be true in production"})
    if not args.private_endpoint_only and not args.public_access_cidrs:
        problems.append(
            {"property_path": "public_access_cidrs", "reason": "a public endpoint needs an explicit CIDR allow-list"}
        )
    if any(isinstance(c, str) and c.endswith("/0") for c in args.public_access_cidrs):
        problems.append({"property_path": "public_access_cidrs", "reason": "a /0 range opens the API to the internet"})
    if problems:
        raise pulumi.InputPropertiesError("EksCluster inputs are invalid", errors=problems)
