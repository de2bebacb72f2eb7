"""GCP preflight through the real google-api-python-client and its bundled compute v1 discovery
document: requests are built (and their parameters checked) from the API model, and answered by
an HttpMock that serves canned JSON per request path. Every canned body is checked against the
document's schemas (Region, Quota, MachineType), quota metrics against the ``Quota.metric`` enum.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import googleapiclient
import httplib2
import pytest
from googleapiclient.discovery import build
from googleapiclient.http import HttpMock

from regions.bill import PLACEMENT_TYPE
from regions.catalog import load_catalog
from tensorfleet import preflight_gcp
from tensorfleet.cli import _preflight, main
from tensorfleet.preflight import CloudUnreachable, Requirement, stack_settings
from tensorfleet.preflight_gcp import QUOTA_METRICS, gke_machine_type, quota_metric

PROJECT = "acme-ml-dev"
"""The project of stacks/Pulumi.dev.yaml."""
DOCUMENT = json.loads((Path(googleapiclient.__file__).parent / "discovery_cache/documents/compute.v1.json").read_text())
METRICS = frozenset(DOCUMENT["schemas"]["Quota"]["properties"]["metric"]["enum"])

# Catalog keys (GPU machine series, TPU generations) whose quota no Quota.metric value names; a test
# below fails when the catalog gains a series or generation that is in neither this set nor the table.
NO_METRIC = {"a3-megagpu", "a3-ultragpu", "a4-highgpu", "g4-standard", "TPU v5p", "TPU v6e"}


def shaped(value: Any, schema: dict[str, Any]) -> list[str]:
    """Paths in ``value`` that the discovery schema does not define, and enum values it does not list."""
    if "$ref" in schema:
        schema = DOCUMENT["schemas"][schema["$ref"]]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{value!r} is not in the enum"]
    if schema.get("type") == "array":
        return [p for item in value for p in shaped(item, schema["items"])]
    if schema.get("type") == "object" and "properties" in schema:
        properties = schema["properties"]
        return [
            p
            for key, item in value.items()
            for p in ([f"{key}: not in the schema"] if key not in properties else shaped(item, properties[key]))
        ]
    return []


class ComputeApi(HttpMock):
    """Compute Engine for one project: ``regions.get`` answers the region's quotas, ``machineTypes.get``
    answers 200 for the machine types a zone offers and 404 otherwise. Anything else fails the test."""

    def __init__(
        self,
        quotas: dict[str, dict[str, tuple[float, float]]],
        offered: dict[str, set[str]] | None = None,
        region_status: int = 200,
        project: str = PROJECT,
    ) -> None:
        super().__init__()
        self.project = project
        self.quotas = quotas
        """region -> metric -> (limit, usage)."""
        self.offered = offered
        """zone -> machine types it offers; None: every zone offers every type."""
        self.region_status = region_status
        self.paths: list[str] = []

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, *args: Any, **kw: Any):
        path = urlparse(uri).path
        self.paths.append(path)
        assert method == "GET", (method, uri)
        if match := re.fullmatch(rf"/compute/v1/projects/{self.project}/regions/([a-z0-9-]+)", path):
            return self._region(match[1])
        zonal = rf"/compute/v1/projects/{self.project}/zones/([a-z0-9-]+)/machineTypes/([a-z0-9-]+)"
        if match := re.fullmatch(zonal, path):
            return self._machine_type(match[1], match[2])
        raise AssertionError(f"unexpected request {method} {uri}")

    def _region(self, region: str) -> tuple[httplib2.Response, bytes]:
        if self.region_status != 200:
            return _error(self.region_status, "Required 'compute.regions.get' permission")
        quotas = [{"metric": m, "limit": limit, "usage": usage} for m, (limit, usage) in self.quotas[region].items()]
        return _ok({"kind": "compute#region", "name": region, "status": "UP", "quotas": quotas}, "Region")

    def _machine_type(self, zone: str, machine_type: str) -> tuple[httplib2.Response, bytes]:
        if self.offered is not None and machine_type not in self.offered.get(zone, set()):
            resource = f"projects/{self.project}/zones/{zone}/machineTypes/{machine_type}"
            return _error(404, f"The resource '{resource}' was not found")
        answer = {"kind": "compute#machineType", "name": machine_type, "zone": zone, "guestCpus": 12}
        return _ok(answer, "MachineType")


def _ok(body: dict[str, Any], schema: str) -> tuple[httplib2.Response, bytes]:
    assert shaped(body, {"$ref": schema}) == []
    return httplib2.Response({"status": "200", "content-type": "application/json"}), json.dumps(body).encode()


def _error(status: int, message: str) -> tuple[httplib2.Response, bytes]:
    body = {"error": {"code": status, "message": message, "errors": [{"message": message, "domain": "global"}]}}
    return httplib2.Response({"status": str(status), "content-type": "application/json"}), json.dumps(body).encode()


def roomy_project(project: str = PROJECT) -> ComputeApi:
    """A project whose every zone offers every machine type, with room on every accelerator quota."""
    room: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(
        lambda: {m: (1024.0, 0.0) for m in METRICS if "GPUS" in m or "TPU" in m}
    )
    return ComputeApi(room, project=project)


def compute(api: ComputeApi) -> Any:
    """The real Compute Engine v1 client (bundled discovery document) over the fake."""
    return build("compute", "v1", http=api, static_discovery=True)


def _need(instance_type: str, accelerator: str, count: int, region: str, nodes: int, capacity: str = "on-demand"):
    return Requirement(
        workload="w/main",
        region=region,
        instance_type=instance_type,
        capacity=capacity,  # type: ignore[arg-type]
        nodes_max=nodes,
        accelerator=accelerator,
        accelerators_per_node=count,
    )


def test_within_quota_passes():
    # a2-ultragpu-1g: one A100 80GB; the catalog lists us-central1-a and -c for it.
    api = ComputeApi({"us-central1": {"NVIDIA_A100_80GB_GPUS": (8, 2)}}, {"us-central1-a": {"a2-ultragpu-1g"}})
    findings = preflight_gcp.run([_need("a2-ultragpu-1g", "A100-80GB", 1, "us-central1", 2)], compute(api), PROJECT)
    assert [(f.check, f.subject, f.ok) for f in findings] == [
        ("offering", "a2-ultragpu-1g", True),
        ("quota", "NVIDIA_A100_80GB_GPUS", True),
    ]
    assert findings[0].detail == "offered in us-central1-a"
    assert findings[1].detail == "needs 2 GPUs at peak; quota 8, in use 2, headroom 6"
    assert f"/compute/v1/projects/{PROJECT}/regions/us-central1" in api.paths


def test_quota_short_is_a_blocker_naming_the_metric():
    # Two placements in one region add up: 4 x 1 L4 + 2 x 2 L4 = 8 GPUs against headroom 7.
    api = ComputeApi({"us-central1": {"NVIDIA_L4_GPUS": (8, 1)}})
    needs = [
        _need("g2-standard-4", "L4", 1, "us-central1", 4),
        _need("g2-standard-24", "L4", 2, "us-central1", 2),
    ]
    quota = next(f for f in preflight_gcp.run(needs, compute(api), PROJECT) if f.check == "quota")
    assert (quota.subject, quota.ok) == ("NVIDIA_L4_GPUS", False)
    assert quota.detail == "needs 8 GPUs at peak; quota 8, in use 1, headroom 7"


def test_spot_uses_the_preemptible_metric():
    # Room on the on-demand metric does not help a spot pool.
    quotas = {"NVIDIA_A100_80GB_GPUS": (64, 0), "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS": (1, 0)}
    api = ComputeApi({"us-central1": quotas})
    need = _need("a2-ultragpu-1g", "A100-80GB", 1, "us-central1", 2, capacity="spot")
    (quota,) = [f for f in preflight_gcp.run([need], compute(api), PROJECT) if f.check == "quota"]
    assert (quota.subject, quota.ok) == ("PREEMPTIBLE_NVIDIA_A100_80GB_GPUS", False)


def test_a_tpu_placement_counts_chips_of_its_gke_machine_type():
    # tpu-v5litepod-4: 4 v5e chips, one ct5lp-hightpu-4t host per slice; 3 slices need 12 chips.
    api = ComputeApi({"us-east5": {"PREEMPTIBLE_TPU_LITE_PODSLICE_V5": (16, 8)}}, {"us-east5-b": {"ct5lp-hightpu-4t"}})
    need = _need("tpu-v5litepod-4", "TPU v5e", 4, "us-east5", 3, capacity="spot")
    offering, quota = preflight_gcp.run([need], compute(api), PROJECT)
    assert (offering.subject, offering.ok, offering.detail) == (
        "tpu-v5litepod-4 (ct5lp-hightpu-4t)",
        True,
        "offered in us-east5-b",
    )
    assert f"/compute/v1/projects/{PROJECT}/zones/us-east5-a/machineTypes/ct5lp-hightpu-4t" in api.paths
    assert (quota.subject, quota.ok) == ("PREEMPTIBLE_TPU_LITE_PODSLICE_V5", False)
    assert quota.detail == "needs 12 TPU chips at peak; quota 16, in use 8, headroom 8"


def test_a_quota_no_metric_names_is_unverified_not_guessed():
    # TPU v6e has no value in Quota.metric: shown as unverified, never a blocker, and not asked about.
    api = ComputeApi({})
    need = _need("tpu-v6e-4", "TPU v6e", 4, "us-east4", 4, capacity="spot")
    offering, quota = preflight_gcp.run([need], compute(api), PROJECT)
    assert offering.ok and offering.subject == "tpu-v6e-4 (ct6e-standard-4t)"
    assert (quota.subject, quota.ok, quota.verified) == ("TPU v6e spot", True, False)
    assert quota.detail.startswith("needs 16 TPU chips at peak; the Compute Engine API names no regional quota metric")
    assert not any("/regions/" in path for path in api.paths)


def test_an_accelerator_no_catalog_zone_offers_is_a_blocker():
    api = ComputeApi({"us-central1": {"PREEMPTIBLE_NVIDIA_H100_GPUS": (8, 0)}}, offered={})
    need = _need("a3-highgpu-1g", "H100", 1, "us-central1", 1, capacity="spot")
    offering = preflight_gcp.run([need], compute(api), PROJECT)[0]
    assert (offering.check, offering.ok) == ("offering", False)
    assert offering.detail == "not offered in us-central1-a, us-central1-b, us-central1-c (the catalog's zones for it)"


def test_a_region_that_cannot_read_its_quotas_leaves_them_unverified():
    class Warned(ComputeApi):
        def _region(self, region):
            warning = {"code": "UNREACHABLE", "message": "quota service unavailable"}
            return _ok({"kind": "compute#region", "name": region, "quotaStatusWarning": warning}, "Region")

    quota = preflight_gcp.run([_need("g2-standard-4", "L4", 1, "us-central1", 1)], compute(Warned({})), PROJECT)[1]
    assert (quota.ok, quota.verified) == (True, False)
    assert "could not read its quotas (quota service unavailable)" in quota.detail


def test_a_refusal_is_reported_on_one_line_naming_the_project():
    api = ComputeApi({}, region_status=403)
    need = _need("g2-standard-4", "L4", 1, "us-central1", 1)
    with pytest.raises(CloudUnreachable) as raised:
        preflight_gcp.check([need], stack_settings("dev"), lambda: compute(api))
    message = str(raised.value)
    assert message.startswith(f"GCP could not be asked (project {PROJECT}): <HttpError 403")
    assert "compute.regions.get" in message and "\n" not in message


@pytest.mark.parametrize(
    ("instance_type", "accelerator", "capacity", "metric"),
    [
        ("a3-highgpu-8g", "H100", "spot", "PREEMPTIBLE_NVIDIA_H100_GPUS"),
        ("a3-highgpu-8g", "H100", "on-demand", None),  # the enum names no on-demand H100 metric
        ("a3-megagpu-8g", "H100", "spot", None),  # the catalog's "H100" here is GKE's nvidia-h100-mega-80gb
        ("a2-highgpu-1g", "A100", "on-demand", "NVIDIA_A100_GPUS"),
        ("g2-standard-4", "L4", "spot", "PREEMPTIBLE_NVIDIA_L4_GPUS"),
        ("tpu-v4-8", "TPU v4", "on-demand", "TPU_PODSLICE_V4"),
        ("tpu-v5p-8", "TPU v5p", "on-demand", None),
    ],
)
def test_quota_metric(instance_type, accelerator, capacity, metric):
    assert quota_metric(_need(instance_type, accelerator, 1, "us-central1", 1, capacity)) == metric


def test_every_metric_the_mapping_uses_is_in_the_discovery_enum():
    used = {metric for pair in QUOTA_METRICS.values() for metric in pair if metric is not None}
    assert used and used <= METRICS, sorted(used - METRICS)


def test_every_catalog_offering_has_a_metric_or_is_a_known_gap():
    keys = set()
    for offering in load_catalog().offerings:
        if offering.cloud == "gcp":
            need = _need(offering.instance_type, offering.accelerator, offering.accelerator_count, offering.region, 1)
            gke_machine_type(need)  # every TPU slice the catalog places has a GKE machine type
            keys.add(offering.accelerator if offering.kind == "tpu_slice" else offering.instance_type.rsplit("-", 1)[0])
    assert not set(QUOTA_METRICS) & NO_METRIC
    assert keys - set(QUOTA_METRICS) == NO_METRIC


def placement_plan(*placements: dict[str, Any]) -> dict[str, Any]:
    """A plan document holding only WorkloadPlacement resources (what preflight reads of a plan)."""
    return {"resources": [{"type": PLACEMENT_TYPE, "inputs": inputs} for inputs in placements]}


def placement(cloud: str, region: str, instance_type: str, accelerator: str, count: int, **extra: Any) -> dict:
    """WorkloadPlacement inputs as the plan writes them (one node at most unless ``nodes`` says)."""
    return {
        "workload": "chat-assistant",
        "stage": "main",
        "cloud": cloud,
        "region": region,
        "instanceType": instance_type,
        "accelerator": accelerator,
        "acceleratorCount": float(count),
        "capacityType": extra.get("capacity", "on-demand"),
        "nodes": {"min": 0.0, "desired": 1.0, "max": float(extra.get("nodes", 1))},
    }


def never(*args: Any) -> Any:
    """A client factory for a cloud that must not be contacted."""
    raise AssertionError("a cloud without placements was contacted")


def test_cli_checks_the_gcp_placements_of_a_stack(moto, capsys):
    from tests.test_preflight import _clients

    api = roomy_project()
    code = _preflight(argparse.Namespace(stack="dev"), client=_clients(moto), gcp=lambda: compute(api), azure=never)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"GCP project {PROJECT}: 0 blocker(s)" in out
    # dev places a3-highgpu-1g (spot) in europe-north1 and tpu-v6e-4 (spot) in us-east4.
    assert "PREEMPTIBLE_NVIDIA_H100_GPUS" in out and "unverified" in out
    assert f"/compute/v1/projects/{PROJECT}/zones/us-east4-a/machineTypes/ct6e-standard-4t" in api.paths


def test_cli_reports_missing_gcp_credentials_cleanly(monkeypatch, capsys, tmp_path):
    plan = placement_plan(placement("gcp", "us-central1", "g2-standard-4", "L4", 1))
    monkeypatch.setattr("tensorfleet.cli._offline_plan", lambda stack, objective: plan)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    assert main(["preflight", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: GCP could not be asked (project {PROJECT}): File ")
    assert err.count("\n") == 1


def test_cli_reports_unreachable_gcp_cleanly(monkeypatch, capsys):
    plan = placement_plan(placement("gcp", "us-central1", "g2-standard-4", "L4", 1))
    monkeypatch.setattr("tensorfleet.cli._offline_plan", lambda stack, objective: plan)
    options = {"api_endpoint": "http://127.0.0.1:9/compute/v1/"}  # nothing listens on the discard port

    def unreachable() -> Any:
        return build("compute", "v1", http=httplib2.Http(timeout=5), static_discovery=True, client_options=options)

    monkeypatch.setattr(preflight_gcp, "compute_service", unreachable)
    assert main(["preflight", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: GCP could not be asked (project {PROJECT}): ")
    assert err.count("\n") == 1


def test_cli_reports_a_stack_without_gcp_config(monkeypatch, capsys):
    plan = placement_plan(placement("gcp", "us-central1", "g2-standard-4", "L4", 1))
    monkeypatch.setattr("tensorfleet.cli._offline_plan", lambda stack, objective: plan)
    settings = stack_settings("dev").model_copy(update={"gcp": None})
    monkeypatch.setattr("tensorfleet.preflight.stack_settings", lambda stack: settings)
    assert main(["preflight", "--stack", "dev"]) == 2
    assert capsys.readouterr().err == (
        "error: the plan places workloads on GCP but the stack sets no tensorfleet:gcp (its project)\n"
    )
