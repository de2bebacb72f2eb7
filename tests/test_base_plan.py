"""Bad ``--compare`` files: one short message naming the file and the field, never the input echoed back."""

from __future__ import annotations

import json

import pytest

import tensorfleet.json_input as json_input
from tensorfleet.base_plan import BasePlanError, load_base_plan

SCHEMA_ID = "tensorfleet.plan/v1"


def _plan() -> dict:
    """A small plan of the real contract: one resource, one placement."""
    return {
        "schema": SCHEMA_ID,
        "stack": "prod",
        "placements": [
            {
                "workload": "chat",
                "cloud": "aws",
                "region": "us-west-2",
                "instance_type": "g5.12xlarge",
                "accelerator": "A10G",
                "accelerator_count": 4,
                "nodes": {"min": 1, "desired": 1, "max": 4},
                "hourly_usd": 5.672,
                "monthly_usd": 4140.56,
                "grid_gco2_per_kwh": 322.17,
                "monthly_kgco2": 160.0,
                "reason": "cheapest",
            }
        ],
        "resources": [
            {
                "urn": "urn:pulumi:prod::tensorfleet::aws:kms/key:Key::k",
                "type": "aws:kms/key:Key",
                "name": "k",
                "parent": None,
                "cloud": "aws",
                "region": "us-west-2",
                "inputs": {"policy": "[secret]"},
                "protect": True,
                "provider": "urn:pulumi:prod::tensorfleet::pulumi:providers:aws::aws-us-west-2",
            }
        ],
        "policy_results": [],
        "totals": {"monthly_usd": 4140.56, "monthly_kgco2": 160.0, "resources": 1},
    }


def _write(tmp_path, content) -> object:
    path = tmp_path / "base.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _error(path) -> str:
    with pytest.raises(BasePlanError) as caught:
        load_base_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 400
    return message.removeprefix(f"{path}: ")


def test_a_valid_plan_loads_unchanged(tmp_path):
    assert load_base_plan(_write(tmp_path, _plan())) == _plan()


def test_older_plans_without_the_added_fields_still_load(tmp_path):
    plan = _plan()
    del plan["resources"][0]["protect"], plan["resources"][0]["provider"]
    assert load_base_plan(_write(tmp_path, plan)) == plan


def _edit(change):
    plan = _plan()
    change(plan)
    return plan


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param('{"schema": ', "line 1 column 12: not JSON: Expecting value", id="truncated"),
        pytest.param("<html>", "line 1 column 1: not JSON", id="not-json"),
        pytest.param("[]", "(top level): expected a JSON object, got array", id="not-an-object"),
        pytest.param({"schema": "tensorfleet.plan/v2"}, "schema: expected 'tensorfleet.plan/v1'", id="other-schema"),
        pytest.param(
            {"stack": "prod"},
            "schema: expected 'tensorfleet.plan/v1' (a tensorfleet plan.json), missing",
            id="no-schema",
        ),
        pytest.param(_edit(lambda p: p.pop("totals")), "totals: missing; this field is required", id="missing-field"),
        pytest.param(
            _edit(lambda p: p["resources"][0].pop("urn")), "resources[0].urn: missing", id="missing-nested-field"
        ),
        pytest.param(
            _edit(lambda p: p["totals"].update(resources="many")),
            "totals.resources: expected integer, got string",
            id="wrong-type",
        ),
        pytest.param(
            _edit(lambda p: p["resources"][0].update(protect="yes")),
            "resources[0].protect: expected boolean, got string",
            id="wrong-type-of-an-added-field",
        ),
        pytest.param(
            _edit(lambda p: p["placements"][0]["nodes"].update(max=0)),
            "placements[0].nodes.max: expected minimum 1, got 0",
            id="out-of-range",
        ),
        pytest.param(
            _edit(lambda p: p["placements"][0].update(cloud="oci")),
            "placements[0].cloud: expected one of 'aws', 'gcp', 'azure'; got 'oci'",
            id="not-in-enum",
        ),
        pytest.param(
            _edit(lambda p: p["resources"].append(dict(p["resources"][0]))),
            "resources[1].urn: expected a unique URN; resources[0] has it too",
            id="duplicate-urn",
        ),
    ],
)
def test_a_bad_plan_gives_one_message_naming_the_field(tmp_path, content, expected):
    assert _error(_write(tmp_path, content)).startswith(expected)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("NaN", "totals.monthly_usd: NaN is not JSON; expected a finite number or null"),
        ("Infinity", "totals.monthly_usd: Infinity is not JSON"),
        ("-Infinity", "totals.monthly_usd: -Infinity is not JSON"),
        ("1e999", "totals.monthly_usd: '1e999' overflows; expected a finite number"),
    ],
)
def test_non_finite_numbers_are_refused_where_they_are(tmp_path, literal, expected):
    text = json.dumps(_plan()).replace(
        '"monthly_usd": 4140.56, "monthly_kgco2": 160.0, "resources"',
        f'"monthly_usd": {literal}, "monthly_kgco2": 160.0, "resources"',
    )
    assert literal in text
    assert _error(_write(tmp_path, text)).startswith(expected)


def test_a_duplicate_key_is_refused_where_it_is(tmp_path):
    text = json.dumps(_plan()).replace('"stack": "prod"', '"stack": "prod", "stack": "dev"')
    assert _error(_write(tmp_path, text)) == "stack: duplicate key; expected each key once"


def test_text_that_is_not_utf8_is_refused(tmp_path):
    assert _error(_write(tmp_path, b'{"schema": "\xff"}')) == "not UTF-8 text (byte 12); expected a base plan"


def test_a_missing_file_is_reported(tmp_path):
    assert _error(tmp_path / "nope.json").startswith("cannot read the base plan: No such file")


def test_a_huge_file_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(json_input, "MAX_BYTES", 1000)
    path = _write(tmp_path, json.dumps(_plan()) + " " * 1000)
    assert _error(path) == "larger than 1,000 bytes; expected a base plan"


def test_deep_nesting_is_refused_with_or_without_a_field(tmp_path):
    assert _error(_write(tmp_path, "[" * 100_000 + "]" * 100_000)).startswith("nested more than 64 levels deep")
    plan = _plan()
    inner: dict = {}
    plan["resources"][0]["inputs"] = inner
    for _ in range(100):
        inner["x"] = {}
        inner = inner["x"]
    message = _error(_write(tmp_path, plan))
    assert message.startswith("resources[0].inputs.x.x") and message.endswith("...: nested more than 64 levels deep")


def test_keys_added_to_v1_by_a_newer_tensorfleet_are_accepted(tmp_path):
    """v1 only gains keys: main's newer plan must serve as a branch's base."""
    plan = _edit(lambda p: (p.update(forecast={"months": []}), p["placements"][0].update(zones=["use1-az1"])))
    assert load_base_plan(_write(tmp_path, plan))["forecast"] == {"months": []}


def test_the_bill_is_checked_when_present_and_optional_in_older_plans(tmp_path):
    line = {"urn": "urn:pulumi:prod::tensorfleet::aws:kms/key:Key::k", "type": "aws:kms/key:Key", "item": "kms_key",
            "cloud": "aws", "region": "us-west-2", "quantity": 1, "unit": "key-month", "unit_usd": 1.0,
            "monthly_usd": 1.0, "source": "price list", "assumption": None, "workload": None}  # fmt: skip
    assert "bill" not in load_base_plan(_write(tmp_path, _plan()))  # a plan from before the bill
    assert load_base_plan(_write(tmp_path, _edit(lambda p: p.update(bill=[line]))))["bill"] == [line]
    unsourced = _edit(lambda p: p.update(bill=[{k: v for k, v in line.items() if k != "source"}]))
    assert "bill[0]" in _error(_write(tmp_path, unsourced))


def test_messages_never_echo_a_large_value(tmp_path):
    for plan in (
        _edit(lambda p: p.update(schema="y" * 100_000)),
        _edit(lambda p: p["placements"][0].update(cloud="y" * 100_000)),
        _edit(lambda p: p.update(totals="y" * 100_000)),
        _edit(lambda p: p.update({"y" * 100_000: 1, "totals": "z"})),
    ):
        assert "y" * 100 not in _error(_write(tmp_path, plan))
