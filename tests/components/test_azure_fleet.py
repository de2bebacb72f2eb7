"""The Azure fleet as the real program registers it: every security default, every pool true to the plan."""

from __future__ import annotations

import pulumi
import pytest
from azure.mgmt.containerservice import models

from components.azure.agentpool import (
    MIG_ACCELERATORS,
    SPOT_TAINT,
    AksAgentPool,
    AksAgentPoolArgs,
    agent_pool_name,
    fixed_at_creation,
)
from components.azure.cluster import AUDIT_LOG_CATEGORIES, dns_service_ip
from components.azure.keyvault import KEY_ROTATION
from components.azure.roles import (
    CONTRIBUTOR,
    KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
    KEY_VAULT_CRYPTO_USER,
    READER,
    STORAGE_BLOB_DATA_READER,
)
from components.budget.spec import ACTUAL_ALERT_PERCENTS, FORECAST_ALERT_PERCENTS
from components.fleet.labels import GPU_DRIVER_LABEL
from components.fleet.pool import DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL, GpuSlices
from regions.catalog import load_catalog
from regions.footprint import AKS_OS_DISK_GIB, AKS_SYSTEM_VM_SIZE, SYSTEM_NODES
from tests.components.aws_mocks import AZURE_NAT_ADDRESS, AZURE_SUBSCRIPTION, register, run_stack
from tests.components.azure_api import agent_pool_body, managed_cluster_body, problems

POOL = "azure-native:containerservice:AgentPool"
CLUSTER = "azure-native:containerservice:ManagedCluster"


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


@pytest.fixture(scope="module")
def staging():
    return run_stack("staging", azure={
        "subscription_id": AZURE_SUBSCRIPTION, "tenant_id": "11111111-1111-1111-1111-111111111111",
        "public_access_cidrs": ["203.0.113.0/24"], "gpu_driver": "operator",
    })  # fmt: skip


def _all(run, type_):
    return [r for r in run.registrations if r.type == type_]


def _node_disk(run, pool):
    """What the planner sized the pool's nodes' disk to (its placement's ``diskGib``)."""
    (disk,) = {
        int(p.inputs["diskGib"])
        for p in _all(run, "tensorfleet:fleet:WorkloadPlacement")
        if p.inputs["instanceType"] == pool.inputs["vmSize"]
        and p.inputs["workload"] == pool.inputs["nodeLabels"]["tensorfleet.io/workload"]
    }
    return disk


def _placements(run):
    """Azure placement records by (region, workload, stage)."""
    return {
        (r.inputs["region"], r.inputs["workload"], r.inputs["stage"]): r.inputs
        for r in _all(run, "tensorfleet:fleet:WorkloadPlacement")
        if r.inputs["cloud"] == "azure"
    }


def _region_of(run, resource):
    by_urn = {r.urn: r for r in run.registrations}
    provider = by_urn[resource.provider.rsplit("::", 1)[0]]
    return provider.inputs["location"]


def test_every_azure_placement_becomes_a_region_fleet_with_its_pools(staging, prod):
    for stack, run in (("staging", staging), ("prod", prod)):
        placements = _placements(run)
        assert placements, "the example stacks place workloads on Azure"
        fleets = {f.name.removeprefix("azure-") for f in _all(run, "tensorfleet:azure:RegionFleet")}
        assert fleets == {region for region, _, _ in placements}
        pools = {
            (_region_of(run, p), p.inputs["tags"]["workload"]) for p in _all(run, POOL) if "takeover" not in p.name
        }
        assert pools == {(region, workload) for region, workload, _ in placements}
        groups = {g.inputs["resourceGroupName"] for g in _all(run, "azure-native:resources:ResourceGroup")}
        assert groups == {f"tensorfleet-{stack}-{region}" for region in fleets}


def test_every_azure_resource_goes_through_its_regions_provider(prod):
    providers = {p.urn: p for p in _all(prod, "pulumi:providers:azure-native")}
    assert {p.inputs["subscriptionId"] for p in providers.values()} == {AZURE_SUBSCRIPTION}
    resources = [r for r in prod.registrations if r.type.startswith("azure-native:")]
    assert resources and all(r.provider and r.provider.rsplit("::", 1)[0] in providers for r in resources)
    for resource in resources:
        if "location" in resource.inputs:
            assert resource.inputs["location"] == _region_of(prod, resource), resource.name


def test_key_vaults_purge_protected_rbac_only_and_keys_rotate(prod, staging):
    for vault in _all(prod, "azure-native:keyvault:Vault"):
        properties = vault.inputs["properties"]
        assert properties["enablePurgeProtection"] is True and properties["enableSoftDelete"] is True
        assert properties["enableRbacAuthorization"] is True and not properties.get("accessPolicies")
        assert 3 <= len(vault.inputs["vaultName"]) <= 24 and vault.protect
    for key in _all(prod, "azure-native:keyvault:Key"):
        actions = key.inputs["properties"]["rotationPolicy"]["lifetimeActions"]
        assert {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": KEY_ROTATION}} in actions
        assert key.protect
    assert not any(k.protect for k in _all(staging, "azure-native:keyvault:Key"))
    sets = _all(prod, "azure-native:compute:DiskEncryptionSet")
    assert sets and all(s.inputs["encryptionType"] == "EncryptionAtRestWithCustomerKey" for s in sets)
    assert all(s.inputs["rotationToLatestKeyVersionEnabled"] for s in sets)
    # The disk encryption set and the storage identity each wrap with the key, nothing else does.
    grants = _all(prod, "azure-native:authorization:RoleAssignment")
    wrapping = [g for g in grants if g.inputs["roleDefinitionId"].endswith(KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER)]
    assert len(wrapping) == 2 * len(sets) and all(g.inputs["principalId"] for g in wrapping)


def test_identities_get_only_the_key_and_blob_roles_they_need(prod):
    grants = _all(prod, "azure-native:authorization:RoleAssignment")
    roles = {g.inputs["roleDefinitionId"].rsplit("/", 1)[1] for g in grants}
    assert KEY_VAULT_CRYPTO_USER in roles and KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER in roles
    readers_of_disk_sets = [g for g in grants if g.inputs["roleDefinitionId"].endswith(READER)]
    assert readers_of_disk_sets and all("disk" in g.name for g in readers_of_disk_sets)
    readers = [g for g in grants if g.inputs["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_READER)]
    assert readers and all(g.inputs["principalType"] == "ServicePrincipal" for g in grants)
    for reader in readers:
        workload = reader.name.split("-", 2)[2].removesuffix("-artifacts")
        condition = reader.inputs["condition"]
        blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
        assert f"@Resource[{blobs}:path] StringStartsWith '{workload}/'" in condition
        assert f"@Request[{blobs}:prefix] StringStartsWith '{workload}/'" in condition
        assert condition.count("SubOperationMatches{'Blob.List'}") == 2
        assert reader.inputs["conditionVersion"] == "2.0" and reader.inputs["scope"].endswith("artifacts")
    federations = _all(prod, "azure-native:managedidentity:FederatedIdentityCredential")
    assert federations and all(f.inputs["subject"].startswith("system:serviceaccount:") for f in federations)
    assert all(f.inputs["issuer"].startswith("https://") for f in federations)


def test_clusters_are_private_kms_encrypted_entra_only_and_audited(prod):
    clusters = _all(prod, CLUSTER)
    assert clusters
    for cluster in clusters:
        inputs = cluster.inputs
        assert inputs["apiServerAccessProfile"]["enablePrivateCluster"] is True
        assert "authorizedIPRanges" not in inputs["apiServerAccessProfile"]
        kms = inputs["securityProfile"]["azureKeyVaultKms"]
        assert kms["enabled"] is True and kms["keyId"].startswith("https://")
        assert inputs["securityProfile"]["workloadIdentity"]["enabled"] is True
        assert inputs["oidcIssuerProfile"]["enabled"] is True
        assert inputs["disableLocalAccounts"] is True
        assert inputs["aadProfile"] == {
            "managed": True,
            "enableAzureRBAC": True,
            "tenantID": inputs["aadProfile"]["tenantID"],
        }
        assert inputs["diskEncryptionSetID"] and inputs["identity"]["type"] == "UserAssigned"
        assert inputs["sku"] == {"name": "Base", "tier": "Standard"}
        assert inputs["networkProfile"]["outboundType"] == "userAssignedNATGateway"
        assert inputs["networkProfile"]["dnsServiceIP"] == dns_service_ip(inputs["networkProfile"]["serviceCidr"])
        (system,) = inputs["agentPoolProfiles"]
        assert system["mode"] == "System" and system["vmSize"] == AKS_SYSTEM_VM_SIZE
        assert system["count"] == SYSTEM_NODES and system["enableEncryptionAtHost"] is True
        assert cluster.protect
    audits = _all(prod, "azure-native:monitor:DiagnosticSetting")
    assert len(audits) == len(clusters)
    for audit in audits:
        assert {log["category"] for log in audit.inputs["logs"] if log["enabled"]} == set(AUDIT_LOG_CATEGORIES)


def test_outside_production_the_api_server_is_public_only_to_the_configured_cidrs(staging):
    for cluster in _all(staging, CLUSTER):
        access = cluster.inputs["apiServerAccessProfile"]
        assert access["enablePrivateCluster"] is False
        assert access["authorizedIPRanges"] == ["203.0.113.0/24", f"{AZURE_NAT_ADDRESS}/32"]
        assert not cluster.protect


def test_cluster_and_pool_inputs_are_valid_for_the_aks_api(staging, prod):
    for run in (staging, prod):
        for pool in _all(run, POOL):
            assert problems(agent_pool_body(pool.inputs), models.AgentPool) == [], pool.name
        for cluster in _all(run, CLUSTER):
            assert problems(managed_cluster_body(cluster.inputs), models.ManagedCluster) == [], cluster.name


def test_the_api_check_rejects_unknown_fields_enum_values_and_wrong_types():
    found = problems(
        agent_pool_body({"vmSize": "Standard_NC40ads_H100_v5", "gpuSharing": True, "scaleSetPriority": "Cheap",
                         "count": "2", "gpuProfile": {"driver": "Maybe"}}),
        models.AgentPool,
    )  # fmt: skip
    assert len(found) == 4
    assert any("gpuSharing: no such field" in f for f in found)
    assert any("scaleSetPriority: 'Cheap'" in f for f in found)
    assert any("count: expected int" in f for f in found)
    assert any("gpuProfile.driver: 'Maybe'" in f for f in found)


def test_pools_are_the_planned_capacity_on_catalog_sizes(staging, prod):
    catalog = load_catalog()
    offered = {(o.region, o.instance_type): o for o in catalog.offerings if o.cloud == "azure"}
    for run in (staging, prod):
        placements = _placements(run)
        for pool in _all(run, POOL):
            inputs = pool.inputs
            region = _region_of(run, pool)
            offering = offered[(region, inputs["vmSize"])]
            assert inputs["mode"] == "User" and inputs["enableAutoScaling"] is True
            assert inputs["enableEncryptionAtHost"] is True and inputs["enableNodePublicIP"] is False
            assert inputs["osDiskType"] == "Managed" and inputs["osDiskSizeGB"] == AKS_OS_DISK_GIB
            assert inputs["nodeLabels"]["tensorfleet.io/accelerator"] == offering.accelerator
            assert "nvidia.com/gpu=present:NoSchedule" in inputs["nodeTaints"]
            assert "gpuInstanceProfile" not in inputs
            fixed = fixed_at_creation(inputs["vmSize"], inputs.get("kubeletDiskType"), inputs.get("gpuInstanceProfile"))
            assert inputs["agentPoolName"] == agent_pool_name(_key(pool), fixed)
            if "takeover" in pool.name:
                assert (inputs["minCount"], inputs["count"]) == (0, 0) and inputs["scaleSetPriority"] == "Regular"
                continue
            stages = [p for (r, w, _), p in placements.items() if r == region and w == inputs["tags"]["workload"]]
            match = [p for p in stages if p["instanceType"] == inputs["vmSize"]]
            assert match, pool.name
            nodes = match[0]["nodes"]
            assert (inputs["minCount"], inputs["count"], inputs["maxCount"]) == (
                nodes["min"], nodes["desired"], nodes["max"],
            )  # fmt: skip
            # Images and model caches: on the OS disk where they fit, else on a temporary disk that holds them.
            disk = int(match[0]["diskGib"])
            if disk > AKS_OS_DISK_GIB:
                assert inputs["kubeletDiskType"] == "Temporary" and catalog.temp_disks[inputs["vmSize"]] >= disk
            else:
                assert "kubeletDiskType" not in inputs


def _key(pool) -> str:
    """The pool's ``workload/stage[/takeover]`` key, from its component name ``azure-<region>-<key>-pool``."""
    return (
        pool.inputs["tags"]["workload"]
        + "/"
        + pool.name.removesuffix("-pool").rsplit(pool.inputs["tags"]["workload"] + "-", 1)[1].replace("-", "/")
    )


def test_who_installs_the_gpu_driver_is_explicit_and_never_both(staging, prod):
    for run, driver, install in ((prod, "cloud", "Install"), (staging, "operator", "None")):
        for pool in _all(run, POOL):
            assert pool.inputs["nodeLabels"][GPU_DRIVER_LABEL] == driver
            assert pool.inputs["gpuProfile"] == {"driver": install}


def _pool(**changes) -> list:
    values = dict(
        resource_group="rg", cluster_name="aks", key="chat/main", vm_size="Standard_NC40ads_H100_v5",
        accelerator="H100-NVL", capacity="spot", nodes_min=1, nodes_desired=2, nodes_max=4, workload="chat",
        tenant="acme", subnet_id="subnet",
    )  # fmt: skip
    values.update(changes)
    return register(lambda: AksAgentPool("pool", AksAgentPoolArgs(**values)))


def _inputs(requests, type_=POOL):
    from pulumi.runtime import rpc

    (request,) = [r for r in requests if r.type == type_]
    return rpc.deserialize_properties(request.object)


def test_a_pool_whose_caches_outgrow_the_os_disk_keeps_kubelet_data_on_the_temporary_disk():
    inputs = _inputs(_pool(vm_size="Standard_ND96isr_H100_v5", accelerator="H100", disk_gib=AKS_OS_DISK_GIB + 1))
    assert inputs["kubeletDiskType"] == "Temporary"
    assert inputs["osDiskType"] == "Managed" and inputs["enableEncryptionAtHost"] is True
    assert problems(agent_pool_body(inputs), models.AgentPool) == []
    for disk in (None, AKS_OS_DISK_GIB):  # the OS disk holds them: AKS's default, left unset
        assert "kubeletDiskType" not in _inputs(_pool(disk_gib=disk))


def test_spot_pools_evict_by_deletion_capped_at_the_on_demand_price():
    inputs = _inputs(_pool())
    assert inputs["scaleSetPriority"] == "Spot" and inputs["scaleSetEvictionPolicy"] == "Delete"
    assert inputs["spotMaxPrice"] == -1 and SPOT_TAINT in inputs["nodeTaints"]
    assert "upgradeSettings" not in inputs  # AKS refuses surge settings on spot pools
    assert _inputs(_pool(capacity="on-demand"))["upgradeSettings"] == {"maxSurge": "1"}
    assert problems(agent_pool_body(inputs), models.AgentPool) == []


def test_mig_only_on_sizes_whose_gpus_have_it():
    mig = GpuSlices(replicas_per_gpu=2, mig_profile="3g.47gb")
    inputs = _inputs(_pool(gpu_slices=mig))
    assert inputs["gpuInstanceProfile"] == "MIG3g" and "H100-NVL" in MIG_ACCELERATORS
    assert inputs["nodeLabels"][DEVICE_PLUGIN_CONFIG_LABEL] == "mig-single"
    assert problems(agent_pool_body(inputs), models.AgentPool) == []
    # Where the GPU operator owns the driver, AKS cannot partition: the operator's MIG manager does.
    operated = _inputs(_pool(gpu_slices=mig, driver="operator"))
    assert "gpuInstanceProfile" not in operated and operated["nodeLabels"][MIG_CONFIG_LABEL] == "all-3g.47gb"
    with pytest.raises(pulumi.InputPropertiesError) as error:
        _pool(
            vm_size="Standard_NC4as_T4_v3",
            accelerator="T4",
            gpu_slices=GpuSlices(replicas_per_gpu=7, mig_profile="1g.2gb"),
        )
    assert error.value.errors[0]["property_path"] == "gpu_slices"
    with pytest.raises(pulumi.InputPropertiesError):
        _pool(gpu_slices=GpuSlices(replicas_per_gpu=2, mig_profile="5g.40gb"))


def test_time_sliced_pools_name_their_device_plugin_configuration():
    inputs = _inputs(_pool(vm_size="Standard_NC4as_T4_v3", accelerator="T4", gpu_slices=GpuSlices(replicas_per_gpu=4)))
    assert inputs["nodeLabels"][DEVICE_PLUGIN_CONFIG_LABEL] == "time-slicing-4"
    assert "gpuInstanceProfile" not in inputs and MIG_CONFIG_LABEL not in inputs["nodeLabels"]
    assert problems(agent_pool_body(inputs), models.AgentPool) == []


def test_amd_pools_take_the_operators_driver_and_their_own_taint():
    inputs = _inputs(_pool(vm_size="Standard_ND96isr_MI300X_v5", accelerator="MI300X", capacity="on-demand"))
    assert inputs["gpuProfile"] == {"driver": "None"} and inputs["nodeLabels"][GPU_DRIVER_LABEL] == "operator"
    assert inputs["nodeTaints"] == ["amd.com/gpu=present:NoSchedule"]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"nodes_min": 3}, "nodes_desired"),
        ({"capacity": "reserved"}, "capacity"),
        ({"vm_size": "Standard_D4s_v5"}, "vm_size"),
    ],
)
def test_invalid_pools_are_refused_before_anything_is_registered(changes, path):
    with pytest.raises(pulumi.InputPropertiesError) as error:
        _pool(**changes)
    assert error.value.errors[0]["property_path"] == path


def test_agent_pool_names_are_valid_and_unique_per_key():
    names = {agent_pool_name(k) for k in ("chat/main", "chat/main/takeover", "chat/fast", "9lives/main")}
    assert len(names) == 4
    assert all(len(n) <= 12 and n[0].isalpha() and n.isalnum() and n.islower() for n in names)


def test_a_plan_that_changes_what_aks_fixes_at_creation_gets_a_new_pool():
    # AKS refuses to change a pool's VM size, kubelet disk or MIG profile in place: the pool's name
    # follows them, so the engine creates the new pool before deleting the old.
    base = _inputs(_pool())["agentPoolName"]
    assert _inputs(_pool())["agentPoolName"] == base  # stable while nothing fixed changes
    assert _inputs(_pool(nodes_max=8, capacity="on-demand"))["agentPoolName"] == base
    changed = [
        _pool(vm_size="Standard_NC80adis_H100_v5"),
        _pool(vm_size="Standard_ND96isr_H100_v5", accelerator="H100"),
        _pool(vm_size="Standard_ND96isr_H100_v5", accelerator="H100", disk_gib=AKS_OS_DISK_GIB + 1),
        _pool(gpu_slices=GpuSlices(replicas_per_gpu=7, mig_profile="1g.12gb")),
    ]
    names = [_inputs(run)["agentPoolName"] for run in changed]
    assert len({base, *names}) == 5 and all(n.startswith("chat") for n in names)


def test_storage_is_cmek_tls12_private_and_entra_only(prod):
    accounts = _all(prod, "azure-native:storage:StorageAccount")
    assert accounts
    for account in accounts:
        inputs = account.inputs
        assert inputs["minimumTlsVersion"] == "TLS1_2" and inputs["enableHttpsTrafficOnly"] is True
        assert inputs["allowBlobPublicAccess"] is False and inputs["allowSharedKeyAccess"] is False
        assert inputs["encryption"]["keySource"] == "Microsoft.Keyvault"
        assert inputs["encryption"]["keyVaultProperties"]["keyVaultUri"].endswith(".vault.azure.net/")
        assert inputs["encryption"]["requireInfrastructureEncryption"] is True
        assert 3 <= len(inputs["accountName"]) <= 24 and inputs["accountName"].isalnum()
        assert account.protect
    containers = _all(prod, "azure-native:storage:BlobContainer")
    assert containers and all(c.inputs["publicAccess"] == "None" for c in containers)


def test_budgets_per_azure_workload_and_stack_at_the_alert_thresholds(prod):
    budgets = {b.inputs["budgetName"]: b.inputs for b in _all(prod, "azure-native:consumption:Budget")}
    workloads = {w for _, w, _ in _placements(prod)}
    assert set(budgets) == {f"tensorfleet-{w}" for w in workloads} | {"tensorfleet-stack"}
    for name, budget in budgets.items():
        assert budget["scope"] == f"/subscriptions/{AZURE_SUBSCRIPTION}" and budget["timeGrain"] == "Monthly"
        expression = budget["filter"]["tags"]
        key = "environment" if name.endswith("-stack") else "workload"
        assert expression["name"] == key and expression["operator"] == "In"
        rules = {(n["thresholdType"], n["threshold"]) for n in budget["notifications"].values()}
        assert rules == {("Actual", p) for p in ACTUAL_ALERT_PERCENTS} | {
            ("Forecasted", p) for p in FORECAST_ALERT_PERCENTS
        }
        assert all(n["contactEmails"] for n in budget["notifications"].values())


def test_cluster_outputs_name_the_resource_group_private_endpoint_and_issuer(prod):
    clusters = {k: v for k, v in prod.outputs["clusters"].items() if k.startswith("azure:")}
    assert clusters
    for cluster in clusters.values():
        assert cluster["resourceGroup"] == f"tensorfleet-prod-{cluster['region']}"
        assert cluster["endpoint"].startswith("https://") and ".privatelink." in cluster["endpoint"]
        assert cluster["oidcIssuerUrl"].startswith("https://") and cluster["nodeGroups"]


def test_a_pool_a_replica_spans_is_placed_in_its_proximity_group():
    inputs = _inputs(_pool(capacity="on-demand", proximity_placement_group_id="/subscriptions/s/ppg"))
    assert inputs["proximityPlacementGroupID"] == "/subscriptions/s/ppg"
    assert problems(agent_pool_body(inputs), models.AgentPool) == []
    assert "proximityPlacementGroupID" not in _inputs(_pool(capacity="on-demand"))


def test_a_multi_node_replica_on_aks_gets_a_proximity_group_its_cluster_may_manage():
    research = {
        "profile": "workloads/examples/research-assistant-405b.yaml",
        # Each node downloads the 405B's 812 GB, more than an ND H100 v5's 1 TiB temporary disk holds
        # beside the images; the ND A100 v4 sizes' holds it. Azure's nodes cost more than AWS's: the
        # budget follows.
        "overrides": {
            "placement": {"clouds": ["azure"], "accelerators": ["A100-80GB"]},
            "budget": {"monthly_usd": 200000},
        },
    }
    run = run_stack("staging", workloads=[research], budgetMonthlyUsd=200000)
    assert len(_all(run, "azure-native:compute:ProximityPlacementGroup")) == 1
    pools = [p for p in _all(run, POOL) if "proximityPlacementGroupID" in p.inputs]
    temp_disks = load_catalog().temp_disks
    assert pools and all(p.inputs["kubeletDiskType"] == "Temporary" for p in pools)
    assert all(temp_disks[p.inputs["vmSize"]] >= _node_disk(run, p) > AKS_OS_DISK_GIB for p in pools)
    grants = [
        r for r in _all(run, "azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(CONTRIBUTOR)
    ]  # fmt: skip
    assert len(grants) == 1
    for pool in pools:  # created once the grant exists: the group's ID reaches it through the grant
        assert any(d.endswith(f"::{grants[0].name}") for d in pool.dependencies), pool.dependencies
