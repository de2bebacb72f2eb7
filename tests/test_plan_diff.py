"""The change set against a base plan, from real runs of the prod program with config and catalog edits."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import regions.catalog
from tensorfleet.engine import read_stack_config, run_program
from tensorfleet.plan_diff import changed_paths, diff_plans
from tensorfleet.replace_rules import REPLACE_ON_CHANGE
from tensorfleet.report import build_plan, render_markdown, render_table

SCHEMA = json.loads((Path(__file__).parents[1] / "tensorfleet" / "schema" / "plan.v1.json").read_text())
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
PROTECTED_TYPES = {
    "aws:eks/cluster:Cluster",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "gcp:container/cluster:Cluster",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:storage/bucket:Bucket",
    "azure-native:resources:ResourceGroup",
    "azure-native:keyvault:Vault",
    "azure-native:keyvault:Key",
    "azure-native:containerservice:ManagedCluster",
    "azure-native:storage:StorageAccount",
}
UNKNOWN, SECRET = "[unknown until deployed]", "[secret]"


@pytest.fixture(scope="module")
def base(prod_run):
    return build_plan("prod", prod_run)


def _plan(**changes):
    config, secret_keys = read_stack_config("prod")
    config.update({f"tensorfleet:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()})
    return build_plan("prod", run_program("prod", config, secret_keys))


def _reprice(monkeypatch, region, instance_types, factor):
    """A catalog refresh in which ``instance_types`` cost ``factor`` times as much in ``region``."""
    catalog = regions.catalog.load_catalog()

    def repriced(o):
        if o.region != region or o.instance_type not in instance_types:
            return o
        spot = None if o.spot_usd_per_hour is None else o.spot_usd_per_hour * factor
        fields = {f: getattr(o, f) for f in o.__slots__}
        return regions.catalog.Offering(
            **{**fields, "usd_per_hour": o.usd_per_hour * factor, "spot_usd_per_hour": spot}
        )

    refreshed = regions.catalog.Catalog(
        offerings=tuple(repriced(o) for o in catalog.offerings),
        regions=catalog.regions,
        specs=catalog.specs,
        excluded=catalog.excluded,
        zones=catalog.zones,
    )
    monkeypatch.setattr(regions.catalog, "load_catalog", lambda: refreshed)


def _in_region(plan, region, types):
    return {r["urn"]: r for r in plan["resources"] if r["region"] == region and r["type"] in types}


def test_identical_runs_have_no_changes(base):
    changes = diff_plans(base, _plan())
    assert changes.changes == ()
    assert changes.unchanged == len(base["resources"])
    assert changes.to_json()["counts"] == {
        "created": 0,
        "deleted": 0,
        "replaced": 0,
        "updated": 0,
        "unchanged": len(base["resources"]),
    }
    markdown = render_markdown(base, base)
    assert f"0 to create, 0 to delete, 0 to replace, 0 to update, {len(base['resources'])} unchanged." in markdown
    assert "Protected resources" not in markdown


def test_plan_records_protection_and_provider(base):
    protected = {r["type"] for r in base["resources"] if r["protect"]}
    assert protected == PROTECTED_TYPES  # Pulumi.prod.yaml: production: true
    node_group = next(r for r in base["resources"] if r["type"] == NODE_GROUP)
    stack = "urn:pulumi:prod::tensorfleet::pulumi:pulumi:Stack"
    assert node_group["provider"] == f"{stack}$pulumi:providers:aws::aws-{node_group['region']}"
    assert all(r["provider"] is None for r in base["resources"] if r["type"].startswith("tensorfleet:"))
    jsonschema.validate(base, SCHEMA)


def test_a_price_change_that_moves_a_node_group_to_another_instance_type_replaces_it(base, monkeypatch):
    region = sorted(p["region"] for p in base["placements"] if p["cloud"] == "aws")[0]
    placed = [p for p in base["placements"] if p["cloud"] == "aws" and p["region"] == region]
    _reprice(monkeypatch, region, {p["instance_type"] for p in placed}, factor=100)
    head = _plan()
    changes = diff_plans(base, head)
    groups = {urn: r for urn, r in _in_region(base, region, {NODE_GROUP}).items() if "SystemNodeGroup" not in urn}
    assert len(groups) == len(placed) + sum(1 for p in placed if p.get("takeover_nodes"))
    by_urn = {c.urn: c for c in changes.changes}
    for urn in groups:
        change = by_urn[urn]
        if change.kind == "replace":  # same region, another instance type
            assert "instanceTypes" in change.properties and not change.protect
        else:  # the placement left the region: the group goes, and a group elsewhere is created or grows
            assert change.kind == "delete"
            assert any(c.kind in ("create", "update") and c.type == NODE_GROUP for c in changes.changes)
    assert [c.urn for c in changes.of("replace")] == sorted(c.urn for c in changes.of("replace"))
    markdown = render_markdown(head, base)
    document = {**head, "changes": changes.to_json()}
    jsonschema.validate(document, SCHEMA)
    for change in changes.of("replace"):
        assert f"| replace | {change.name} | `{NODE_GROUP}` | changes " in markdown
        assert "instanceTypes" in document["changes"]["replace_reasons"][change.urn]


def _moderation_only_region(base) -> str:
    """An AWS region of the prod example that only content moderation uses (its six regions)."""
    users: dict[str, set[str]] = {}
    for p in base["placements"]:
        if p["cloud"] == "aws":
            users.setdefault(p["region"], set()).add(p["workload"].split("/")[0])
    return sorted(region for region, names in users.items() if names == {"content-moderation"})[0]


def test_a_price_change_that_empties_a_region_flags_its_protected_cluster_key_and_bucket(base, monkeypatch):
    region = _moderation_only_region(base)
    placed = [p for p in base["placements"] if p["cloud"] == "aws" and p["region"] == region]
    assert placed, f"the prod example no longer places anything in aws:{region}; pick another region"
    offered = {o.instance_type for o in regions.catalog.load_catalog().offerings if o.region == region}
    _reprice(monkeypatch, region, offered, factor=100)  # every type there: the whole region is dearer
    head = _plan()
    assert not [p for p in head["placements"] if p["region"] == region]
    changes = diff_plans(base, head)
    doomed = _in_region(base, region, PROTECTED_TYPES)
    assert {r["type"] for r in doomed.values()} == {t for t in PROTECTED_TYPES if t.startswith("aws:")}
    assert set(doomed) <= {c.urn for c in changes.protected if c.kind == "delete"}
    assert set(doomed) <= set(changes.to_json()["protected"])


def test_moving_a_workload_out_of_a_region_lists_protected_deletes_before_everything(base):
    region = _moderation_only_region(base)
    assert {p["workload"].split("/")[0] for p in base["placements"] if p["region"] == region} == {"content-moderation"}
    config, _ = read_stack_config("prod")
    workloads = json.loads(config["tensorfleet:workloads"])
    for entry in workloads:
        if entry["profile"].endswith("content-moderation.yaml"):
            entry["overrides"] = {"placement": {"denied_regions": [f"aws:{region}"]}}
    head = _plan(workloads=workloads)
    changes = diff_plans(base, head)
    doomed = _in_region(base, region, PROTECTED_TYPES)
    assert len(doomed) == 3
    blocked = {c.urn: c for c in changes.protected}
    assert set(doomed) <= set(blocked)
    assert all(blocked[u].kind == "delete" and blocked[u].protect for u in doomed)
    assert list(blocked) == sorted(blocked)
    markdown = render_markdown(head, base)
    warning = markdown.index("### Protected resources deleted or replaced")
    assert warning < markdown.index("No policy violations.") < markdown.index("### Placements")
    top = markdown[warning : markdown.index("### Totals")]
    assert "`pulumi up` will fail" in top and "pulumi state unprotect" in top and "allowed_regions" in top
    for urn in doomed:
        assert f"| delete | `{urn}` |" in top
    table = markdown[markdown.index("### Changes against the base plan") :]
    assert f"| delete (protected) | aws-{region}-cluster-eks | `aws:eks/cluster:Cluster` |" in table
    counts = changes.counts()
    assert f"{counts['created']} to create, {counts['deleted']} to delete" in table
    terminal = render_table({**head, "changes": changes.to_json()})
    assert f"{len(blocked)} protected resource(s) deleted or replaced: pulumi up will fail" in terminal
    assert len(changes.changes) > 50 and f"and {len(changes.changes) - 50} more" in table  # bounded at 50 rows


def test_unknown_and_secret_placeholders_are_never_changes(base):
    head = copy.deepcopy(base)
    old = copy.deepcopy(base)
    group = next(r for r in head["resources"] if r["type"] == NODE_GROUP)
    group["inputs"]["instanceTypes"] = UNKNOWN  # a whole value unknown
    group["inputs"]["labels"] = {k: SECRET for k in group["inputs"]["labels"]}  # leaves secret
    budget = next(r for r in old["resources"] if r["type"] == "aws:budgets/budget:Budget")
    budget["inputs"]["notifications"][0]["subscriberSnsTopicArns"] = ["arn:aws:sns:us-east-1:1:alerts"]
    key = next(r for r in old["resources"] if r["type"] == "aws:kms/key:Key")
    key["inputs"]["policy"] = SECRET
    assert diff_plans(old, head).changes == ()
    # The same resource with a real change is a replacement: the placeholders above were judged, not skipped.
    group["inputs"]["instanceTypes"] = ["g5.xlarge"]
    (change,) = diff_plans(old, head).changes
    assert (change.urn, change.kind, change.properties) == (group["urn"], "replace", ("instanceTypes",))


def test_changed_paths_name_each_difference():
    old = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": True, "f": 2}
    new = {"a": 1.0, "b": {"c": [1, 3], "d": UNKNOWN}, "e": 1, "g": 0, "f": 2.0}
    assert list(changed_paths(old, new)) == ["b.c[1]", "e", "g"]
    assert list(changed_paths({"l": [1]}, {"l": [1, 2]})) == ["l"]


def test_update_versus_replace_and_provider_moves(base):
    head = copy.deepcopy(base)
    resources = {r["type"]: r for r in head["resources"]}
    resources[NODE_GROUP]["inputs"]["labels"] = {"team": "x"}  # updatable in place
    resources["aws:kms/key:Key"]["inputs"]["keyUsage"] = "SIGN_VERIFY"  # forces a new key
    resources["aws:s3/bucket:Bucket"]["provider"] = "urn:pulumi:prod::tensorfleet::pulumi:providers:aws::elsewhere"
    changes = {c.urn: c for c in diff_plans(base, head).changes}
    group, key, bucket = (changes[resources[t]["urn"]] for t in (NODE_GROUP, "aws:kms/key:Key", "aws:s3/bucket:Bucket"))
    assert (group.kind, group.protect) == ("update", False) and group.properties[0].startswith("labels.")
    assert (key.kind, key.properties, key.blocked) == ("replace", ("keyUsage",), True)
    assert (bucket.kind, bucket.properties, bucket.blocked) == ("replace", ("provider",), True)


def test_a_base_plan_from_before_protect_flags_still_compares_and_says_what_it_cannot_see(base):
    old = copy.deepcopy(base)
    for resource in old["resources"]:
        del resource["protect"], resource["provider"]
    jsonschema.validate(old, SCHEMA)  # new keys are optional: older base plans stay valid
    changes = diff_plans(old, base)
    assert changes.changes == () and not changes.protect_known
    assert "the base plan records no `protect` flags" in render_markdown(base, old)


def test_the_replacement_table_covers_registered_types_and_cites_sources(prod_run):
    registered = {r.type for r in prod_run.registrations}
    for type_token, rule in REPLACE_ON_CHANGE.items():
        assert type_token in registered, f"{type_token} is not registered by the program: drop or fix the entry"
        assert rule.properties and all(s.startswith("https://") for s in rule.sources)
