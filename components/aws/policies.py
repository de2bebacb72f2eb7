"""IAM and resource policy documents, as plain builders so that tests can read them without an engine."""

from __future__ import annotations

from typing import Any

__all__ = [
    "CLUSTER_AUTOSCALER_SERVICE_ACCOUNT",
    "assume_role_policy",
    "cluster_autoscaler_policy",
    "key_policy",
    "tls_only_bucket_policy",
]

# AWS-managed policies attached to EKS roles. Source: Amazon EKS User Guide, "Amazon EKS cluster
# IAM role" and "Amazon EKS node IAM role" (as of 2026-11).
EKS_CLUSTER_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
EKS_NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
)
EKS_CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def assume_role_policy(service: str) -> dict[str, Any]:
    """Trust policy letting one AWS service (``eks.amazonaws.com``) assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def key_policy(account_id: str) -> dict[str, Any]:
    """Key policy: the account administers the key through IAM; Budgets may publish to encrypted SNS
    topics; the Auto Scaling service-linked role may encrypt node volumes (without that grant,
    managed node groups with CMK-encrypted EBS fail to launch)."""
    root = f"arn:aws:iam::{account_id}:root"
    autoscaling = (
        f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersViaIam",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "BudgetsPublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "AutoScalingEncryptsNodeVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": autoscaling},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
            },
            {
                "Sid": "AutoScalingCreatesVolumeGrants",
                "Effect": "Allow",
                "Principal": {"AWS": autoscaling},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    }


POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"


def pod_identity_trust_policy() -> dict[str, Any]:
    """Trust policy for an EKS Pod Identity role (the agent assumes it and tags the session)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_SERVICE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def artifact_reader_policy(bucket_arn: str, prefix: str, key_arn: str) -> dict[str, Any]:
    """Read-only access to one prefix of the artifact bucket, and decryption with its key only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadOwnArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"{bucket_arn}/{prefix}/*"},
            {"Sid": "ListOwnPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
             "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}},
            {"Sid": "DecryptArtifacts", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
        ],
    }  # fmt: skip


CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = ("kube-system", "cluster-autoscaler")
"""Namespace and name of the Cluster Autoscaler's service account (its Helm release names it so)."""


def cluster_autoscaler_policy(cluster_name: str) -> dict[str, Any]:
    """What the Cluster Autoscaler's AWS provider needs (its README, "IAM Policy"): read the groups,
    their launch templates and instance types, and the managed node groups' labels and taints (so it
    can scale a group up from zero); resize and terminate only groups tagged as this cluster's."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DiscoverGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ResizeOwnGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
        ],
    }


def tls_only_bucket_policy(bucket_arn: str) -> dict[str, Any]:
    """Denies every request to the bucket that does not arrive over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def sns_budgets_publish_policy(topic_arn: str, account_id: str) -> dict[str, Any]:
    """Lets AWS Budgets (of this account only) publish alerts to the topic."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BudgetsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }
