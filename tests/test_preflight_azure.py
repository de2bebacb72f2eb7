"""Azure preflight through the real azure-mgmt-compute client and azure-core pipeline (bearer-token
policy included), over a transport that answers canned JSON per request URL. Every canned body is
checked against the SDK's models (ResourceSku, Usage, ...): a field they do not define fails.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import HttpResponse, HttpTransport
from azure.mgmt.compute import ComputeManagementClient, models

from tensorfleet import preflight_azure
from tensorfleet.cli import _preflight, main
from tensorfleet.preflight import CloudUnreachable, Requirement, stack_settings
from tests.test_preflight_gcp import never, placement, placement_plan

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
"""The subscription of stacks/Pulumi.staging.yaml (and dev, prod)."""
H100 = "Standard_NC40ads_H100_v5"
FAMILY = "standardNCadsH100v5Family"


def unknown_fields(value: Any, model: str) -> list[str]:
    """Keys of ``value`` that the SDK model (or the models it nests) does not map."""
    kind = getattr(models, model, None)
    if kind is None or not isinstance(value, dict):
        return []
    fields = {spec["key"]: spec["type"] for spec in kind._attribute_map.values()}
    found = []
    for key, item in value.items():
        if key not in fields:
            found.append(f"{model}.{key}")
        elif fields[key].startswith("["):
            found += [p for element in item for p in unknown_fields(element, fields[key][1:-1])]
        else:
            found += unknown_fields(item, fields[key])
    return found


def sku(name: str, family: str, vcpus: int, region: str = "eastus", restrictions: list | None = None) -> dict:
    """A virtual machine entry of Resource SKUs, as the API returns it."""
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "tier": "Standard",
        "size": name.removeprefix("Standard_"),
        "family": family,
        "locations": [region],
        "locationInfo": [{"location": region, "zones": ["1", "2", "3"]}],
        "capabilities": [{"name": "vCPUs", "value": str(vcpus)}, {"name": "GPUs", "value": "1"}],
        "restrictions": restrictions or [],
    }


def usage(value: str, localized: str, current: int, limit: int) -> dict:
    """One entry of the compute usages of a location."""
    return {
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": value, "localizedValue": localized},
    }


def restriction(kind: str, region: str = "eastus", zones: tuple[str, ...] = ()) -> dict:
    """A restriction as Resource SKUs reports it: ``values`` names the location for both kinds; a
    ``Zone`` restriction lists its zones under ``restrictionInfo``."""
    info: dict[str, Any] = {"locations": [region], **({"zones": list(zones)} if zones else {})}
    return {"type": kind, "values": [region], "restrictionInfo": info, "reasonCode": "NotAvailableForSubscription"}


class _Response(HttpResponse):
    def __init__(self, request: Any, status: int, body: dict[str, Any]) -> None:
        super().__init__(request, None)
        self.status_code = status
        self.reason = "OK" if status == 200 else "Error"
        self.content_type = "application/json"
        self.headers = {"Content-Type": "application/json"}
        self._body = json.dumps(body).encode()

    def body(self) -> bytes:
        return self._body


class ArmApi(HttpTransport):
    """Azure Resource Manager for one subscription: Resource SKUs and compute usages per location.
    Anything else fails the test; ``status`` other than 200 answers every request with an ARM error."""

    def __init__(self, skus: dict[str, list[dict]], usages: dict[str, list[dict]], status: int = 200) -> None:
        for entries, model in ((skus, "ResourceSku"), (usages, "Usage")):
            for entry in (e for values in entries.values() for e in values):
                assert unknown_fields(entry, model) == []
        self.skus, self.usages, self.status = skus, usages, status
        self.requests: list[tuple[str, str]] = []
        self.tokens: set[str] = set()

    def send(self, request: Any, **kwargs: Any) -> _Response:
        url = urlparse(request.url)
        self.requests.append((url.path, url.query))
        self.tokens.add(request.headers.get("Authorization", ""))
        if self.status != 200:
            error = {"code": "AuthorizationFailed", "message": "The client does not have authorization\nto list."}
            return _Response(request, self.status, {"error": error})
        providers = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Compute"
        if match := re.fullmatch(rf"{providers}/locations/([a-z0-9]+)/usages", url.path):
            return _Response(request, 200, {"value": self.usages[match[1]]})
        if url.path == f"{providers}/skus":
            (location,) = parse_qs(url.query)["$filter"]
            assert re.fullmatch(r"location eq '[a-z0-9]+'", location), location
            return _Response(request, 200, {"value": self.skus.get(location.split("'")[1], [])})
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> ArmApi:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


class StaticToken:
    """A credential that hands out one token (the pipeline's bearer-token policy asks for it)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("test-token", int(time.time()) + 3600)


def roomy_subscription() -> ArmApi:
    """A subscription offered Standard_NC40ads_H100_v5 in eastus and northeurope, with room for it."""
    usages = _usages(family_limit=1000, cores=(0, 1000), spot=(0, 1000))
    return ArmApi(
        {r: [sku(H100, FAMILY, 40, r)] for r in ("eastus", "northeurope")},
        dict.fromkeys(("eastus", "northeurope"), usages),
    )


def compute(api: ArmApi, credential: Any = None) -> ComputeManagementClient:
    return ComputeManagementClient(credential or StaticToken(), SUBSCRIPTION, transport=api)


def _need(size: str = H100, nodes: int = 2, capacity: str = "on-demand", region: str = "eastus") -> Requirement:
    return Requirement(
        workload="w/main",
        region=region,
        instance_type=size,
        capacity=capacity,  # type: ignore[arg-type]
        nodes_max=nodes,
        accelerator="H100-NVL",
        accelerators_per_node=1,
    )


def _usages(family_limit: int = 100, cores: tuple[int, int] = (10, 100), spot: tuple[int, int] = (0, 100)) -> list:
    return [
        usage("cores", "Total Regional vCPUs", *cores),
        usage(FAMILY, "Standard NCadsH100v5 Family vCPUs", 0, family_limit),
        usage("lowPriorityCores", "Total Regional Low-priority vCPUs", *spot),
        usage("standardDSv5Family", "Standard DSv5 Family vCPUs", 8, 100),
    ]


def test_within_quota_passes():
    # Standard_NC40ads_H100_v5 has 40 vCPUs: 2 nodes need 80, of the family and of the regional total.
    api = ArmApi({"eastus": [sku(H100, FAMILY, 40)]}, {"eastus": _usages()})
    findings = preflight_azure.run([_need()], compute(api))
    assert [(f.check, f.subject, f.ok) for f in findings] == [
        ("offering", H100, True),
        ("quota", "Total Regional vCPUs (cores)", True),
        ("quota", f"Standard NCadsH100v5 Family vCPUs ({FAMILY})", True),
    ]
    assert findings[1].detail == "needs 80 vCPUs at peak; quota 100, in use 10, headroom 90"
    assert api.tokens == {"Bearer test-token"}
    assert parse_qs(api.requests[0][1])["$filter"] == ["location eq 'eastus'"]


def test_family_quota_short_is_a_blocker():
    api = ArmApi({"eastus": [sku(H100, FAMILY, 40)]}, {"eastus": _usages(family_limit=40)})
    family = next(f for f in preflight_azure.run([_need()], compute(api)) if FAMILY in f.subject)
    assert not family.ok
    assert family.detail == "needs 80 vCPUs at peak; quota 40, in use 0, headroom 40"


def test_spot_uses_low_priority_cores_only():
    # Plenty of family and regional quota; the spot pool needs 3 x 40 = 120 low-priority vCPUs.
    api = ArmApi({"eastus": [sku(H100, FAMILY, 40)]}, {"eastus": _usages(family_limit=1000, spot=(0, 100))})
    quotas = [f for f in preflight_azure.run([_need(nodes=3, capacity="spot")], compute(api)) if f.check == "quota"]
    assert [(f.subject, f.ok) for f in quotas] == [("Total Regional Low-priority vCPUs (lowPriorityCores)", False)]


def test_a_size_the_region_does_not_list_is_a_blocker():
    api = ArmApi({"eastus": [sku("Standard_NC24ads_A100_v4", "standardNCADSA100v4Family", 24)]}, {"eastus": []})
    findings = preflight_azure.run([_need()], compute(api))
    assert [(f.check, f.ok, f.detail) for f in findings] == [
        ("offering", False, f"Resource SKUs lists no {H100} in eastus")
    ]
    assert not any("/usages" in path for path, _ in api.requests)


def test_a_size_restricted_for_the_subscription_is_a_blocker():
    restricted = sku(H100, FAMILY, 40, restrictions=[restriction("Location")])
    api = ArmApi({"eastus": [restricted]}, {"eastus": _usages()})
    (offering,) = preflight_azure.run([_need()], compute(api))
    assert not offering.ok
    assert offering.detail == "restricted in eastus for this subscription (NotAvailableForSubscription)"


def test_a_zone_restriction_does_not_block_a_regional_pool():
    zonal = sku(H100, FAMILY, 40, restrictions=[restriction("Zone", zones=("1", "2"))])
    api = ArmApi({"eastus": [zonal]}, {"eastus": _usages()})
    assert all(f.ok for f in preflight_azure.run([_need()], compute(api)))


class _NoCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token.\nAttempted: az login")


@pytest.mark.parametrize(
    ("api", "credential", "says"),
    [
        (ArmApi({}, {}), _NoCredential(), "DefaultAzureCredential failed to retrieve a token. Attempted: az login"),
        (ArmApi({}, {}, status=403), None, "AuthorizationFailed"),
    ],
)
def test_no_credential_or_a_refusal_is_one_line_naming_the_subscription(api, credential, says):
    with pytest.raises(CloudUnreachable) as raised:
        preflight_azure.check([_need()], stack_settings("staging"), lambda subscription: compute(api, credential))
    message = str(raised.value)
    assert message.startswith(f"Azure could not be asked (subscription {SUBSCRIPTION}): ")
    assert says in message and "\n" not in message


def test_cli_checks_the_azure_placements_of_a_stack(monkeypatch, capsys):
    plan = placement_plan(
        placement("azure", "eastus", H100, "H100-NVL", 1, nodes=5),
        placement("azure", "northeurope", H100, "H100-NVL", 1, nodes=1, capacity="spot"),
    )
    monkeypatch.setattr("tensorfleet.cli._offline_plan", lambda stack, objective: plan)
    skus = {region: [sku(H100, FAMILY, 40, region)] for region in ("eastus", "northeurope")}
    api = ArmApi(skus, {"eastus": _usages(family_limit=160, cores=(0, 1000)), "northeurope": _usages()})
    asked = []

    def client(subscription: str) -> ComputeManagementClient:
        asked.append(subscription)
        return compute(api)

    code = _preflight(argparse.Namespace(stack="staging"), client=never, gcp=never, azure=client)
    out = capsys.readouterr().out
    assert code == 3, out
    assert asked == [SUBSCRIPTION]
    assert f"Azure subscription {SUBSCRIPTION}: 1 blocker(s) in 5 check(s)" in out
    assert "needs 200 vCPUs at peak; quota 160, in use 0, headroom 160" in out
    assert "AWS" not in out and "GCP" not in out


def test_cli_reports_an_azure_credential_failure_cleanly(monkeypatch, capsys):
    plan = placement_plan(placement("azure", "eastus", H100, "H100-NVL", 1))
    monkeypatch.setattr("tensorfleet.cli._offline_plan", lambda stack, objective: plan)
    monkeypatch.setattr(
        preflight_azure, "compute_client", lambda subscription: compute(ArmApi({}, {}), _NoCredential())
    )
    assert main(["preflight", "--stack", "staging"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: Azure could not be asked (subscription {SUBSCRIPTION}): DefaultAzureCredential")
    assert err.count("\n") == 1
