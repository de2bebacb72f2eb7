"""The GCP fleet as the real program registers it: every security default, every pool true to the plan."""

from __future__ import annotations

import json
import math

import pytest

from components.budget.spec import ACTUAL_ALERT_PERCENTS, FORECAST_ALERT_PERCENTS
from components.gcp.accelerators import gpu_type, tpu_machine
from components.gcp.kms import ROTATION_PERIOD, SERVICE_AGENTS
from regions.bill import gke_pool_nodes
from regions.catalog import load_catalog
from regions.gke import catalog_instance_type
from tests.components.aws_mocks import run_stack
from tests.components.gcp_api import node_pool_body, problems

POOL = "gcp:container/nodePool:NodePool"


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


@pytest.fixture(scope="module")
def dev():
    return run_stack("dev")


def _all(run, type_):
    return [r for r in run.registrations if r.type == type_]


def _placements(run):
    """GCP placement records by (region, workload, stage)."""
    return {
        (r.inputs["region"], r.inputs["workload"], r.inputs["stage"]): r.inputs
        for r in _all(run, "tensorfleet:fleet:WorkloadPlacement")
        if r.inputs["cloud"] == "gcp"
    }


def test_every_gcp_placement_becomes_a_region_fleet_with_its_pools(dev, prod):
    for run in (dev, prod):
        placements = _placements(run)
        assert placements, "the example stacks place workloads on GCP"
        fleets = {f.name.removeprefix("gcp-") for f in _all(run, "tensorfleet:gcp:RegionFleet")}
        assert fleets == {region for region, _, _ in placements}
        pools = {
            (p.inputs["location"], p.inputs["nodeConfig"]["resourceLabels"]["workload"])
            for p in _all(run, POOL)
            if "takeover" not in p.name and "-system-" not in p.name
        }
        assert pools == {(region, workload) for region, workload, _ in placements}


def test_one_provider_per_region_with_the_project_and_cost_labels(prod):
    providers = {p.name: p for p in _all(prod, "pulumi:providers:gcp")}
    for fleet in _all(prod, "tensorfleet:gcp:RegionFleet"):
        provider = providers[fleet.name]
        assert provider.inputs["project"] == "acme-ml-prod"
        assert provider.inputs["region"] == fleet.name.removeprefix("gcp-")
        labels = json.loads(provider.inputs["defaultLabels"])
        assert labels == {"environment": "prod", "cost-centre": "ml-platform-prod", "managed-by": "tensorfleet"}
    gcp_resources = [r for r in prod.registrations if r.type.startswith("gcp:")]
    assert gcp_resources and all(r.provider and "pulumi:providers:gcp" in r.provider for r in gcp_resources)


def test_keys_rotate_are_protected_in_prod_and_only_service_agents_may_use_them(prod, dev):
    for key in _all(prod, "gcp:kms/cryptoKey:CryptoKey"):
        assert key.inputs["rotationPeriod"] == ROTATION_PERIOD == "7776000s"
        assert key.protect
    assert not any(k.protect for k in _all(dev, "gcp:kms/cryptoKey:CryptoKey"))
    grants = _all(prod, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    expected = {f"serviceAccount:{agent.format(number='123456789012')}" for agent in SERVICE_AGENTS.values()}
    keys = {k.name for k in _all(prod, "gcp:kms/cryptoKey:CryptoKey")}
    assert len(grants) == len(SERVICE_AGENTS) * len(keys)
    assert {g.inputs["member"] for g in grants} == expected
    assert {g.inputs["role"] for g in grants} == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}


def test_clusters_are_private_encrypted_shielded_logged_and_on_a_release_channel(prod):
    for cluster in _all(prod, "gcp:container/cluster:Cluster"):
        inputs = cluster.inputs
        assert inputs["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
        assert inputs["workloadIdentityConfig"] == {"workloadPool": "acme-ml-prod.svc.id.goog"}
        assert inputs["databaseEncryption"]["state"] == "ENCRYPTED"
        assert inputs["databaseEncryption"]["keyName"].endswith("/cryptoKeys/fleet")
        assert inputs["enableShieldedNodes"] is True and inputs["enableLegacyAbac"] is False
        assert "APISERVER" in inputs["loggingConfig"]["enableComponents"]
        assert inputs["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
        assert inputs["releaseChannel"] == {"channel": "REGULAR"}
        assert inputs["removeDefaultNodePool"] is True
        assert inputs["deletionProtection"] is True and cluster.protect
        assert not problems({k: v for k, v in inputs.items() if k in _CLUSTER_API_FIELDS}, "Cluster")


_CLUSTER_API_FIELDS = ("privateClusterConfig", "workloadIdentityConfig", "databaseEncryption", "releaseChannel",
                       "ipAllocationPolicy", "masterAuthorizedNetworksConfig")  # fmt: skip
"""Cluster inputs whose shape the provider sends to the API unchanged."""


def test_dev_control_plane_is_public_only_to_the_configured_cidrs(dev):
    for cluster in _all(dev, "gcp:container/cluster:Cluster"):
        assert cluster.inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
        blocks = cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]
        assert [b["cidrBlock"] for b in blocks] == ["203.0.113.0/24"]
        assert not cluster.protect


def test_node_pool_inputs_are_valid_for_the_container_v1_api(dev, prod):
    pools = _all(dev, POOL) + _all(prod, POOL)
    assert any("TPU" in p.inputs["nodeConfig"]["labels"].get("tensorfleet.io/accelerator", "") for p in pools)
    assert any("-system-" in p.name for p in pools)
    for pool in pools:
        assert problems(node_pool_body(pool.inputs), "NodePool") == [], pool.name


def test_the_api_check_rejects_unknown_fields_and_enum_values():
    body = {"config": {"taints": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE_PLEASE"}], "gpuCount": 1}}
    found = problems(body, "NodePool")
    assert any("NO_SCHEDULE_PLEASE" in p for p in found)
    assert any("gpuCount" in p for p in found)


def test_pools_are_the_planned_capacity_on_valid_machine_types_and_zones(dev, prod):
    catalog = load_catalog()
    offerings = {(o.region, o.instance_type): o for o in catalog.offerings if o.cloud == "gcp"}
    for run in (dev, prod):
        placements = _placements(run)
        for pool in [p for p in _all(run, POOL) if "-system-" not in p.name]:
            inputs, config = pool.inputs, pool.inputs["nodeConfig"]
            region = inputs["location"]
            topology = (inputs.get("placementPolicy") or {}).get("tpuTopology")
            instance_type, hosts = catalog_instance_type(config["machineType"], topology)
            offering = offerings[(region, instance_type)]
            assert set(inputs["nodeLocations"]) <= set(offering.zones)
            labels = config["resourceLabels"]
            placement = next(p for (r, w, _), p in placements.items() if r == region and w == labels["workload"])
            if "takeover" in pool.name:
                assert (gke_pool_nodes(inputs), inputs["autoscaling"]["totalMinNodeCount"]) == (0, 0)
                assert inputs["autoscaling"]["totalMaxNodeCount"] == placement["takeoverNodes"]
                assert not config.get("spot")
                continue
            assert gke_pool_nodes(inputs) == placement["nodes"]["desired"] * hosts
            autoscaling = inputs["autoscaling"]
            assert (autoscaling["totalMinNodeCount"], autoscaling["totalMaxNodeCount"]) == (
                placement["nodes"]["min"],
                placement["nodes"]["max"],
            )
            assert bool(config.get("spot")) == (placement["capacityType"] == "spot")
            assert config["bootDiskKmsKey"].endswith("/cryptoKeys/fleet")
            assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
            assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
            if offering.kind == "tpu_slice":
                machine = tpu_machine(offering.accelerator, offering.accelerator_count)
                assert config["machineType"] == machine.machine_type and "guestAccelerators" not in config
                assert [t["key"] for t in config["taints"]] == ["google.com/tpu"]
                assert "tensorfleet.io/gpu-driver" not in config["labels"]
                if machine.single_host:
                    assert "placementPolicy" not in inputs
                else:
                    assert math.prod(map(int, topology.split("x"))) == offering.accelerator_count
            else:
                (gpu,) = config["guestAccelerators"]
                assert (gpu["type"], gpu["count"]) == (
                    gpu_type(offering.accelerator, offering.instance_type),
                    offering.accelerator_count,
                )
                # The driver has one owner: GKE installs it and the label tells the serving layer so.
                assert gpu["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}
                assert config["labels"]["tensorfleet.io/gpu-driver"] == "cloud"
                assert [t["key"] for t in config["taints"]] == ["nvidia.com/gpu"]


def test_buckets_use_the_region_key_uniform_access_and_no_public_access(prod):
    buckets = _all(prod, "gcp:storage/bucket:Bucket")
    assert buckets
    for bucket in buckets:
        assert bucket.inputs["encryption"]["defaultKmsKeyName"].endswith("/cryptoKeys/fleet")
        assert bucket.inputs["uniformBucketLevelAccess"] is True
        assert bucket.inputs["publicAccessPrevention"] == "enforced"
        assert bucket.inputs["versioning"] == {"enabled": True}
        assert bucket.protect


def test_each_workload_reads_only_its_own_artifacts_through_workload_identity(prod):
    members = _all(prod, "gcp:storage/bucketIAMMember:BucketIAMMember")
    assert members
    for member in members:
        assert member.inputs["role"] == "roles/storage.objectViewer"
        workload = member.inputs["condition"]["title"].removesuffix(" artifacts only")
        assert member.inputs["condition"]["expression"].endswith(f'/objects/{workload}/")')
    bindings = _all(prod, "gcp:serviceaccount/iAMMember:IAMMember")
    assert {b.inputs["member"] for b in bindings} >= {
        "serviceAccount:acme-ml-prod.svc.id.goog[radiology/diagnostic-imaging]"
    }


def test_budgets_per_gcp_workload_and_stack_at_the_alert_thresholds(prod):
    budgets = {b.name: b.inputs for b in _all(prod, "gcp:billing/budget:Budget")}
    gcp_workloads = {w for _, w, _ in _placements(prod)}
    assert set(budgets) == {f"gcp-budgets-{w}" for w in gcp_workloads} | {"gcp-budgets-stack"}
    expected = [(p / 100, "CURRENT_SPEND") for p in ACTUAL_ALERT_PERCENTS] + [
        (p / 100, "FORECASTED_SPEND") for p in FORECAST_ALERT_PERCENTS
    ]
    for name, budget in budgets.items():
        assert budget["billingAccount"] == "012345-6789AB-CDEF01"
        assert [(r["thresholdPercent"], r["spendBasis"]) for r in budget["thresholdRules"]] == expected
        scope = budget["budgetFilter"]
        assert scope["projects"] == ["projects/123456789012"]
        assert scope["labels"] == ({"environment": "prod"} if name.endswith("-stack") else
                                   {"workload": name.removeprefix("gcp-budgets-")})  # fmt: skip
        assert budget["allUpdatesRule"]["pubsubTopic"]
        assert len(budget["allUpdatesRule"]["monitoringNotificationChannels"]) == 2
    (publisher,) = _all(prod, "gcp:pubsub/topicIAMMember:TopicIAMMember")
    assert publisher.inputs["member"] == "serviceAccount:billing-budget-alert@system.gserviceaccount.com"


def test_every_cluster_has_an_untainted_cmek_system_pool_for_its_add_ons(dev, prod):
    from components.fleet.labels import SYSTEM_POOL_LABEL
    from regions.footprint import SYSTEM_DISK_GIB, SYSTEM_MACHINE_TYPES, SYSTEM_NODES

    for run in (dev, prod):
        clusters = _all(run, "gcp:container/cluster:Cluster")
        systems = [p for p in _all(run, POOL) if "-system-" in p.name]
        assert len(systems) == len(clusters)
        for pool in systems:
            config = pool.inputs["nodeConfig"]
            assert config["machineType"] == SYSTEM_MACHINE_TYPES["gcp"] and not config.get("taints")
            assert config["labels"] == {SYSTEM_POOL_LABEL: "system"} and config["bootDiskKmsKey"]
            assert config["diskSizeGb"] == SYSTEM_DISK_GIB and gke_pool_nodes(pool.inputs) == SYSTEM_NODES
            assert config["shieldedInstanceConfig"]["enableSecureBoot"] is True


def test_the_control_plane_reaches_the_add_ons_webhooks_on_private_nodes(dev):
    """KEDA's metrics API (6443) and the KEDA and LeaderWorkerSet admission webhooks (9443): GKE opens
    only 443 and 10250 from the control plane to private nodes by itself."""
    from components.gcp.cluster import WEBHOOK_PORTS

    clusters = _all(dev, "gcp:container/cluster:Cluster")
    rules = _all(dev, "gcp:compute/firewall:Firewall")
    assert len(rules) == len(clusters) >= 1
    for rule in rules:
        inputs = rule.inputs
        assert inputs["direction"] == "INGRESS" and len(inputs["sourceRanges"]) == 1
        assert inputs["allows"] == [{"protocol": "tcp", "ports": list(WEBHOOK_PORTS)}]
        assert len(inputs["targetServiceAccounts"]) == 1  # the cluster's own nodes, nothing else
