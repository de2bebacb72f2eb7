"""The AWS fleet as the real program registers it: every security default, on every resource."""

from __future__ import annotations

import json
import re

import botocore.session
import pulumi
import pytest

from components.aws.nodegroup import ami_type, taint_key
from components.aws.policies import key_policy, tls_only_bucket_policy
from components.budget.aws import ACTUAL_ALERT_PERCENTS, FORECAST_ALERT_PERCENTS
from regions.catalog import load_catalog
from tests.components.aws_mocks import ACCOUNT, block_zone, run_stack


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


@pytest.fixture(scope="module")
def dev():
    return run_stack("dev")


def _all(run, type_):
    return [r for r in run.registrations if r.type == type_]


def _botocore_enum(service, shape):
    return set(botocore.session.get_session().get_service_model(service).shape_for(shape).enum)


def test_one_provider_per_region_locked_to_the_account(prod):
    providers = _all(prod, "pulumi:providers:aws")
    fleets = _all(prod, "tensorfleet:aws:RegionFleet")
    assert {p.inputs["region"] for p in providers} >= {f.name.removeprefix("aws-") for f in fleets}
    for provider in providers:
        assert json.loads(provider.inputs["allowedAccountIds"]) == [ACCOUNT]
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags == {"environment": "prod", "cost-centre": "ml-platform-prod", "managed-by": "tensorfleet"}
    # Every AWS resource names an explicit provider: nothing falls back to the default one.
    aws_resources = [r for r in prod.registrations if r.type.startswith("aws:")]
    assert aws_resources and all(r.provider and "pulumi:providers:aws" in r.provider for r in aws_resources)


def test_keys_rotate_and_keep_a_30_day_window_and_are_protected_in_prod(prod, dev):
    for key in _all(prod, "aws:kms/key:Key"):
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == 30
        assert key.protect
        sids = {s["Sid"] for s in json.loads(key.inputs["policy"])["Statement"]}
        assert {"AutoScalingEncryptsNodeVolumes", "BudgetsPublishToEncryptedTopics"} <= sids
    assert not any(k.protect for k in _all(dev, "aws:kms/key:Key"))


def test_clusters_encrypt_secrets_log_audit_and_are_private_in_prod(prod):
    log_types = _botocore_enum("eks", "LogType")
    for cluster in _all(prod, "aws:eks/cluster:Cluster"):
        (encryption,) = (
            cluster.inputs["encryptionConfig"]
            if isinstance(cluster.inputs["encryptionConfig"], list)
            else [cluster.inputs["encryptionConfig"]]
        )
        assert encryption["resources"] == ["secrets"]
        assert encryption["provider"]["keyArn"].startswith("arn:aws:kms:")
        assert set(cluster.inputs["enabledClusterLogTypes"]) == {"api", "audit", "authenticator"} <= log_types
        assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False
        assert cluster.inputs["vpcConfig"]["endpointPrivateAccess"] is True
        assert cluster.inputs["accessConfig"]["authenticationMode"] in _botocore_enum("eks", "AuthenticationMode")
        assert cluster.inputs["deletionProtection"] is True and cluster.protect


def test_dev_cluster_endpoint_is_public_only_to_the_configured_cidrs(dev):
    for cluster in _all(dev, "aws:eks/cluster:Cluster"):
        assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is True
        assert cluster.inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
        assert not cluster.protect


def test_admin_access_goes_through_access_entries(prod):
    entries = _all(prod, "aws:eks/accessEntry:AccessEntry")
    assert entries and {e.inputs["principalArn"] for e in entries} == {f"arn:aws:iam::{ACCOUNT}:role/platform-admin"}
    for association in _all(prod, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        assert association.inputs["policyArn"].endswith("AmazonEKSClusterAdminPolicy")
    assert all(
        c.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
        for c in _all(prod, "aws:eks/cluster:Cluster")
    )


def test_every_cluster_has_an_oidc_provider_and_pod_identity(prod):
    clusters = _all(prod, "aws:eks/cluster:Cluster")
    oidc = _all(prod, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert len(oidc) == len(clusters)
    assert all(o.inputs["url"].startswith("https://oidc.eks.amazonaws.com/") for o in oidc)
    assert {a.inputs["addonName"] for a in _all(prod, "aws:eks/addon:Addon")} == {"eks-pod-identity-agent"}


def test_buckets_are_kms_encrypted_versioned_private_and_tls_only(prod):
    buckets = _all(prod, "aws:s3/bucket:Bucket")
    assert buckets and all(b.protect for b in buckets)
    for sse in _all(prod, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"):
        (rule,) = sse.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
        assert rule["bucketKeyEnabled"] is True
    assert all(
        v.inputs["versioningConfiguration"]["status"] == "Enabled"
        for v in _all(prod, "aws:s3/bucketVersioning:BucketVersioning")
    )
    for block in _all(prod, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(
            block.inputs[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
    policies = _all(prod, "aws:s3/bucketPolicy:BucketPolicy")
    assert len(policies) == len(buckets)
    for policy in policies:
        (statement,) = json.loads(policy.inputs["policy"])["Statement"]
        assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_node_groups_match_their_placements(prod):
    catalog = load_catalog()
    placements = {
        (p.inputs["workload"], p.inputs["stage"], p.inputs["region"]): p.inputs
        for p in _all(prod, "tensorfleet:fleet:WorkloadPlacement")
        if p.inputs["cloud"] == "aws"
    }
    groups = [g for g in _all(prod, "aws:eks/nodeGroup:NodeGroup") if "-system-" not in g.name]
    # Spot placements that take over another region's users have an on-demand group beside them.
    takeovers = [p for p in placements.values() if p.get("takeoverNodes")]
    assert takeovers, "prod's content moderation runs spot at 99.9 %"
    assert len(groups) == len(placements) + len(takeovers)
    ami_types, capacity_types = _botocore_enum("eks", "AMITypes"), _botocore_enum("eks", "CapacityTypes")
    for group in groups:
        inputs = group.inputs
        labels = inputs["labels"]
        region = group.urn.split("::")[-1].split("-")[1:4]
        (instance_type,) = inputs["instanceTypes"]
        takeover = group.name.endswith("-takeover-ng")
        placement = next(
            p
            for (w, s, r), p in placements.items()
            if w == labels["tensorfleet.io/workload"]
            and group.name == f"aws-{r}-{w}-{s}" + ("-takeover" if takeover else "") + "-ng"
        )
        assert instance_type == placement["instanceType"]
        scaling = inputs["scalingConfig"]
        nodes = placement["nodes"]
        expected = (0, 0, placement["takeoverNodes"]) if takeover else (nodes["min"], nodes["desired"], nodes["max"])
        assert (scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]) == expected
        if takeover:
            assert placement["capacityType"] == "spot" and inputs["capacityType"] == "ON_DEMAND"
        assert scaling["minSize"] <= scaling["desiredSize"] <= scaling["maxSize"] and scaling["maxSize"] >= 1
        assert inputs["amiType"] == ami_type(placement["accelerator"], instance_type) and inputs["amiType"] in ami_types
        assert inputs["capacityType"] in capacity_types
        capacity = "on-demand" if takeover else placement["capacityType"]
        assert inputs["capacityType"] == {"on-demand": "ON_DEMAND", "spot": "SPOT"}[capacity]
        (taint,) = inputs["taints"]
        assert taint == {"key": taint_key(placement["accelerator"]), "value": "present", "effect": "NO_SCHEDULE"}
        assert taint["effect"] in _botocore_enum("eks", "TaintEffect")
        # The NVIDIA AMI ships the driver, and the label says so; Neuron nodes have no GPU driver.
        assert labels.get("tensorfleet.io/gpu-driver") == ("cloud" if taint["key"] == "nvidia.com/gpu" else None)
        # Subnets only in zones that offer the instance type (per the catalog).
        (offering,) = [
            o
            for o in catalog.offerings
            if (o.cloud, o.region, o.instance_type) == ("aws", placement["region"], instance_type)
        ]
        zones = {s.split("-private-")[1].removesuffix("-id") for s in inputs["subnetIds"]}
        assert zones and zones <= set(offering.zones)
        assert region  # the URN names the region fleet


def test_node_volumes_are_encrypted_gp3_and_imdsv2_only(prod):
    volume_types = _botocore_enum("ec2", "VolumeType")
    for template in _all(prod, "aws:ec2/launchTemplate:LaunchTemplate"):
        (mapping,) = template.inputs["blockDeviceMappings"]
        ebs = mapping["ebs"]
        assert ebs["volumeType"] == "gp3" in volume_types
        assert ebs["encrypted"] == "true" and ebs["kmsKeyId"].startswith("arn:aws:kms:")
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"


@pytest.mark.parametrize(
    ("accelerator", "instance_type", "expected_ami", "expected_taint"),
    [
        ("H100", "p5.48xlarge", "AL2023_x86_64_NVIDIA", "nvidia.com/gpu"),
        ("T4G", "g5g.xlarge", "AL2023_ARM_64_NVIDIA", "nvidia.com/gpu"),
        ("Inferentia2", "inf2.xlarge", "AL2023_x86_64_NEURON", "aws.amazon.com/neuron"),
        ("Trainium", "trn1.2xlarge", "AL2023_x86_64_NEURON", "aws.amazon.com/neuron"),
    ],
)
def test_ami_type_and_taint_follow_the_accelerator_family(accelerator, instance_type, expected_ami, expected_taint):
    assert ami_type(accelerator, instance_type) == expected_ami
    assert expected_ami in _botocore_enum("eks", "AMITypes")
    assert taint_key(accelerator) == expected_taint


def test_every_aws_accelerator_in_the_catalog_gets_a_valid_ami_type():
    ami_types = _botocore_enum("eks", "AMITypes")
    for offering in load_catalog().offerings:
        if offering.cloud == "aws":
            assert ami_type(offering.accelerator, offering.instance_type) in ami_types, offering


def test_budgets_alert_at_50_90_100_actual_and_100_forecast_to_an_encrypted_topic(prod):
    budgets = _all(prod, "aws:budgets/budget:Budget")
    aws_workloads = {
        p.inputs["workload"] for p in _all(prod, "tensorfleet:fleet:WorkloadPlacement") if p.inputs["cloud"] == "aws"
    }
    filters = {b.name.removeprefix("aws-budgets-"): b.inputs["costFilters"][0]["values"] for b in budgets}
    assert filters == {**{w: [f"user:workload${w}"] for w in aws_workloads}, "stack": ["user:environment$prod"]}
    for budget in budgets:
        assert (
            budget.inputs["budgetType"] in _botocore_enum("budgets", "BudgetType")
            and budget.inputs["budgetType"] == "COST"
        )
        assert budget.inputs["timeUnit"] == "MONTHLY" in _botocore_enum("budgets", "TimeUnit")
        got = sorted((n["notificationType"], n["threshold"]) for n in budget.inputs["notifications"])
        assert got == sorted(
            [("ACTUAL", p) for p in ACTUAL_ALERT_PERCENTS] + [("FORECASTED", p) for p in FORECAST_ALERT_PERCENTS]
        )
        for n in budget.inputs["notifications"]:
            assert n["comparisonOperator"] in _botocore_enum("budgets", "ComparisonOperator")
            assert n["thresholdType"] in _botocore_enum("budgets", "ThresholdType")
            assert n["subscriberSnsTopicArns"]
    (topic,) = _all(prod, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    subscribers = {s.inputs["endpoint"] for s in _all(prod, "aws:sns/topicSubscription:TopicSubscription")}
    assert subscribers == {"ml-platform@example.com", "finops@example.com"}
    (policy,) = _all(prod, "aws:sns/topicPolicy:TopicPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"}


def test_bring_your_own_network_creates_none(dev):
    placed = {
        p.inputs["region"] for p in _all(dev, "tensorfleet:fleet:WorkloadPlacement") if p.inputs["cloud"] == "aws"
    }
    region = sorted(placed)[0]
    zones = load_catalog().zones[f"aws:{region}"]
    existing = {"vpc_id": "vpc-0abc12345", "private_subnet_ids": {z: f"subnet-{i:08x}" for i, z in enumerate(zones)}}
    run = run_stack("dev", aws={"account_id": ACCOUNT, "existing_networks": {region: existing}})
    networks = {n.name for n in _all(run, "tensorfleet:aws:RegionNetwork")}
    assert f"aws-{region}-network" not in networks
    groups = [g for g in _all(run, "aws:eks/nodeGroup:NodeGroup") if g.name.startswith(f"aws-{region}-")]
    assert groups and all(s.startswith("subnet-") for g in groups for s in g.inputs["subnetIds"])


def test_aws_placements_without_aws_config_fail_cleanly():
    with pytest.raises(
        pulumi.RunError, match=r"tensorfleet:aws is not configured; set at least tensorfleet:aws\.account_id"
    ):
        run_stack("dev", aws=None)


def test_kubeconfigs_are_secret_and_cluster_outputs_are_not(prod):
    from pulumi.runtime import rpc

    from tensorfleet.outputs import ClusterOutput

    clusters, kubeconfigs = prod.outputs["clusters"], prod.outputs["kubeconfigs"]
    assert clusters and not rpc.is_rpc_secret(clusters)
    assert rpc.is_rpc_secret(kubeconfigs)
    for key, cluster in clusters.items():
        parsed = ClusterOutput.model_validate(cluster)
        assert f"{parsed.cloud}:{parsed.region}" == key
        assert parsed.endpoint.startswith("https://") and parsed.node_groups
    assert {ClusterOutput.model_validate(c).cloud for c in clusters.values()} == {"aws", "gcp", "azure"}
    configs = rpc.unwrap_rpc_secret(kubeconfigs)
    assert set(configs) == set(clusters)
    plugins = {"aws": "aws", "gcp": "gke-gcloud-auth-plugin", "azure": "kubelogin"}
    for key, config in configs.items():
        document = json.loads(config)
        assert document["users"][0]["user"]["exec"]["command"] == plugins[key.split(":")[0]]
        if not key.startswith("azure:"):  # AKS hands over its own kubeconfig (the API server's port added)
            assert document["clusters"][0]["cluster"]["server"] == clusters[key]["endpoint"]


def test_policy_builders():
    statements = key_policy(ACCOUNT)["Statement"]
    assert statements[0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert tls_only_bucket_policy("arn:aws:s3:::b")["Statement"][0]["Resource"] == [
        "arn:aws:s3:::b",
        "arn:aws:s3:::b/*",
    ]


def test_each_workload_gets_a_least_privilege_pod_identity(prod):
    every = _all(prod, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    associations = [a for a in every if a.inputs["namespace"] != "kube-system"]
    aws_placements = [p.inputs for p in _all(prod, "tensorfleet:fleet:WorkloadPlacement") if p.inputs["cloud"] == "aws"]
    assert {(a.inputs["serviceAccount"], a.inputs["clusterName"].split("-cluster")[0]) for a in associations} == {
        (p["workload"], f"aws-{p['region']}") for p in aws_placements
    }
    # Beside them, one per cluster: the Cluster Autoscaler's, resizing that cluster's groups only.
    autoscalers = [a for a in every if a.inputs["namespace"] == "kube-system"]
    assert sorted(a.inputs["clusterName"] for a in autoscalers) == sorted({a.inputs["clusterName"] for a in every})
    for policy in [r for r in _all(prod, "aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-autoscaler-scaling")]:
        cluster = f"{policy.name.removesuffix('-autoscaler-scaling')}-cluster-eks-name"
        resize = json.loads(policy.inputs["policy"])["Statement"][1]
        assert resize["Condition"]["StringEquals"] == {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"}
    tenants = {w.name: w.inputs["tenant"] for w in _all(prod, "tensorfleet:fleet:Workload")}
    assert all(a.inputs["namespace"] == tenants[a.inputs["serviceAccount"]] for a in associations)
    for policy in [r for r in _all(prod, "aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-artifacts")]:
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        workload = policy.name.split("-", 4)[-1].removesuffix("-artifacts")
        assert statements["ReadOwnArtifacts"]["Action"] == "s3:GetObject"
        assert statements["ReadOwnArtifacts"]["Resource"].endswith(f"/{workload}/*")
        assert statements["DecryptArtifacts"]["Action"] == "kms:Decrypt"
        assert "*" not in json.dumps([s["Action"] for s in statements.values()])


def test_capacity_blocks_and_the_autoscaling_role_when_configured(prod):
    placement = next(p.inputs for p in _all(prod, "tensorfleet:fleet:WorkloadPlacement")
                     if p.inputs["cloud"] == "aws" and p.inputs["capacityType"] == "on-demand")  # fmt: skip
    region, instance_type = placement["region"], placement["instanceType"]
    zone = block_zone(region, instance_type)
    settings = {
        "account_id": ACCOUNT,
        "nat_per_zone": True,
        "admin_principal_arns": [f"arn:aws:iam::{ACCOUNT}:role/platform-admin"],
        "capacity_blocks": {region: {instance_type: {"reservation_id": "cr-0123456789abcdef0", "az_id": zone}}},
        "create_autoscaling_service_linked_role": True,
    }
    run = run_stack("prod", aws=settings)
    blocked = [g for g in _all(run, "aws:eks/nodeGroup:NodeGroup")
               if g.name.startswith(f"aws-{region}-") and g.inputs["instanceTypes"] == [instance_type]
               and g.inputs.get("capacityType") == "CAPACITY_BLOCK"]  # fmt: skip
    assert blocked
    # A block lives in one zone: its nodes launch in that zone's subnet only.
    (subnet,) = [s for s in _all(run, "aws:ec2/subnet:Subnet")
                 if s.name.startswith(f"aws-{region}-") and s.name.endswith(f"-private-{zone}")]  # fmt: skip
    assert all(g.inputs["subnetIds"] == [f"{subnet.name}-id"] for g in blocked)
    bare_id = re.escape("a Capacity Block is {reservation_id: cr-0123456789abcdef0, az_id")
    with pytest.raises(pulumi.RunError, match=bare_id):
        run_stack("prod", aws={**settings, "capacity_blocks": {region: {instance_type: "cr-0123456789abcdef0"}}})
    with pytest.raises(pulumi.RunError, match=rf"tensorfleet:aws.capacity_blocks.{region}.{instance_type}.az_id"):
        elsewhere = {"reservation_id": "cr-0123456789abcdef0", "az_id": "use1-az99"}
        run_stack("prod", aws={**settings, "capacity_blocks": {region: {instance_type: elsewhere}}})
    assert "CAPACITY_BLOCK" in _botocore_enum("eks", "CapacityTypes")
    templates = [t for t in _all(run, "aws:ec2/launchTemplate:LaunchTemplate") if t.name.startswith(f"aws-{region}-")]
    reserved = [t for t in templates if "capacityReservationSpecification" in t.inputs]
    assert reserved and all(
        t.inputs["capacityReservationSpecification"]["capacityReservationTarget"]["capacityReservationId"]
        == "cr-0123456789abcdef0"
        and t.inputs["instanceMarketOptions"]["marketType"] in _botocore_enum("ec2", "MarketType")
        for t in reserved
    )
    (role,) = _all(run, "aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.inputs["awsServiceName"] == "autoscaling.amazonaws.com"
    # KMS rejects a key policy naming a role that does not exist yet: every key waits for it.
    keys = _all(run, "aws:kms/key:Key")
    assert keys and all(role.urn in key.dependencies for key in keys)
    assert not _all(prod, "aws:iam/serviceLinkedRole:ServiceLinkedRole")  # off by default


def test_every_cluster_has_an_untainted_cmk_encrypted_system_node_group(prod):
    from components.fleet.labels import SYSTEM_POOL_LABEL
    from regions.footprint import SYSTEM_DISK_GIB, SYSTEM_MACHINE_TYPES, SYSTEM_NODES

    clusters = _all(prod, "aws:eks/cluster:Cluster")
    systems = [g for g in _all(prod, "aws:eks/nodeGroup:NodeGroup") if "-system-" in g.name]
    assert len(systems) == len(clusters)
    templates = {t.name: t.inputs for t in _all(prod, "aws:ec2/launchTemplate:LaunchTemplate")}
    for group in systems:
        inputs = group.inputs
        assert inputs["instanceTypes"] == [SYSTEM_MACHINE_TYPES["aws"]] and not inputs.get("taints")
        assert inputs["labels"] == {SYSTEM_POOL_LABEL: "system"} and inputs["capacityType"] == "ON_DEMAND"
        assert inputs["scalingConfig"]["desiredSize"] == SYSTEM_NODES
        assert inputs["amiType"] in _botocore_enum("eks", "AMITypes")
        ebs = templates[group.name.removesuffix("-ng") + "-lt"]["blockDeviceMappings"][0]["ebs"]
        assert ebs["volumeSize"] == SYSTEM_DISK_GIB and ebs["encrypted"] == "true" and ebs["kmsKeyId"]


@pytest.mark.parametrize(("accelerator", "instance_type", "tagged"), [("Inferentia2", "inf2.48xlarge", True),
                                                                      ("H100", "p5.48xlarge", False)])  # fmt: skip
def test_neuron_groups_tell_the_autoscaler_their_devices_for_scaling_up_from_zero(accelerator, instance_type, tagged):
    from pulumi.runtime import rpc

    from components.aws.nodegroup import AcceleratorNodeGroup, AcceleratorNodeGroupArgs
    from tests.components.aws_mocks import register

    args = AcceleratorNodeGroupArgs(
        cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s"], key_arn="k",
        instance_type=instance_type, accelerator=accelerator, capacity="on-demand", nodes_min=0, nodes_desired=0,
        nodes_max=2, workload="w", tenant="t", accelerator_count=12,
    )  # fmt: skip
    (group,) = [r for r in register(lambda: AcceleratorNodeGroup("g", args)) if r.type == "aws:eks/nodeGroup:NodeGroup"]
    tags = rpc.deserialize_properties(group.object)["tags"]
    key = "k8s.io/cluster-autoscaler/node-template/resources/aws.amazon.com/neuron"
    assert (tags.get(key) == "12") == tagged and (key in tags) == tagged
