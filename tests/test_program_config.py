"""Config is read once, inside the program, by declared type, with the same messages in both paths."""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime import config as runtime_config

from tensorfleet.cli import main
from tensorfleet.engine import read_stack_config, run_program
from tensorfleet.program_config import decode_value, read_config_values
from tensorfleet.stack_config import CONFIG_KEYS


def _run_edited(stack: str, edits: dict[str, str], secret: set[str] = frozenset()):  # type: ignore[assignment]
    config, secret_keys = read_stack_config(stack)
    config.update({f"tensorfleet:{k}": v for k, v in edits.items()})
    return run_program(stack, config, secret_keys | {f"tensorfleet:{k}" for k in secret})


def _program_error(stack: str, edits: dict[str, str], secret: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    with pytest.raises(pulumi.RunError) as info:
        _run_edited(stack, edits, secret)
    return str(info.value)


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("costCentre", "4711", "4711"),
        ("objective", "cost", "cost"),
        ("budgetMonthlyUsd", "60000", 60000),
        ("budgetMonthlyUsd", "NaN", "NaN"),  # not JSON: handed on for the model to refuse
        ("production", "true", True),
        ("hipaaClouds", '["aws"]', ["aws"]),
    ],
)
def test_values_are_decoded_by_their_declared_type(key, text, expected):
    assert decode_value(key, text) == expected


def test_only_string_fields_read_as_text():
    """Every other field reads JSON: a number, list or object left as text would fail validation."""
    text_keys = {key for key in CONFIG_KEYS if decode_value(key, "[1]") == "[1]"}
    assert text_keys == {"objective", "costCentre"}


def test_a_numeric_looking_cost_centre_stays_a_string():
    run = _run_edited("dev", {"costCentre": "4711"})
    providers = [r for r in run.registrations if r.type == "pulumi:providers:aws"]
    assert providers
    for provider in providers:
        tags = provider.inputs["defaultTags"]
        tags = json.loads(tags) if isinstance(tags, str) else tags
        assert "4711" in json.dumps(tags)


@pytest.mark.parametrize(
    ("edits", "secret", "expected"),
    [
        (
            {"budgetMonthlyUSD": "1"},
            set(),
            "tensorfleet:budgetMonthlyUSD: unknown key; did you mean tensorfleet:budgetMonthlyUsd?",
        ),
        (
            {"budgetMonthlyUsd": "lots"},
            set(),
            "tensorfleet:budgetMonthlyUsd: Input should be a valid number (got 'lots')",
        ),
        ({"budgetMonthlyUsd": "NaN"}, set(), "tensorfleet:budgetMonthlyUsd: Input should be a valid number"),
        ({"budgetMonthlyUsd": "1e400"}, set(), "tensorfleet:budgetMonthlyUsd: Input should be"),
        ({"production": "1"}, set(), "tensorfleet:production: Input should be a valid boolean"),
        ({"objective": "cost"}, {"objective"}, "tensorfleet:objective: cannot be a secret"),
        (
            {"aws": json.dumps({"account_id": "111122223333", "vpc_cidr": "10.0.0.0/8"})},
            set(),
            "tensorfleet:aws.vpc_cidr: Value error, must be a private (RFC 1918) IPv4 /16",
        ),
        (
            {"aws": json.dumps({"account_id": "111122223333", "public_access_cidrs": ["0.0.0.0/0"]})},
            set(),
            "opens the cluster API to a large part of the internet",
        ),
    ],
)
def test_bad_config_is_refused_by_the_program(edits, secret, expected):
    message = _program_error("dev", edits, secret)
    assert message.startswith("stacks/Pulumi.dev.yaml: invalid stack config")
    assert expected in message


def test_the_language_host_runner_and_the_mock_engine_fill_the_same_map(monkeypatch):
    """Under `pulumi up` the program runner calls set_all_config with PULUMI_CONFIG and
    PULUMI_CONFIG_SECRET_KEYS; the reader sees that map, not the environment itself."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"tensorfleet:production": "true"}))
    token = runtime_config.CONFIG.set({})
    try:
        runtime_config.set_all_config({"tensorfleet:costCentre": "4711", "aws:region": "x"}, ["tensorfleet:costCentre"])
        values, secret = read_config_values()
    finally:
        runtime_config.CONFIG.reset(token)
        runtime_config.set_all_config({}, [])
    assert values == {"costCentre": "4711"} and secret == {"costCentre"}


def test_cli_reports_the_programs_message(capsys, monkeypatch):
    from tensorfleet import engine

    real = engine.read_stack_config

    def edited(stack, project_root=engine.PROJECT_ROOT):
        config, secret_keys = real(stack, project_root)
        config["tensorfleet:budgetMonthlyUSD"] = "1"
        return config, secret_keys

    monkeypatch.setattr(engine, "read_stack_config", edited)
    assert main(["plan", "--stack", "dev", "--json", "/dev/null/x.json", "--md", "/dev/null/x.md"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: stacks/Pulumi.dev.yaml: invalid stack config")
    assert "did you mean tensorfleet:budgetMonthlyUsd?" in err and "Traceback" not in err


def test_an_encrypted_stack_plans_offline_with_stand_ins_that_never_show(tmp_path, capsys):
    """`secure:` values cannot be decrypted offline: they become stand-ins of the right form, and
    every input built from them is a secret, shown as [secret]."""
    import functools
    from unittest import mock

    from tensorfleet import engine
    from tensorfleet.engine import PROJECT_ROOT

    text = (PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    for old, new in [
        ("tensorfleet:costCentre: ml-platform-dev", "tensorfleet:costCentre: {secure: v1:AAAA}"),
        ("[ml-platform@example.com]", "[{secure: v1:AA}, {secure: v1:BB}]"),
        ('account_id: "111122223333"', "account_id: {secure: v1:CC}"),
    ]:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.enc.yaml").write_text(text)
    reader = functools.partial(engine.read_stack_config, project_root=tmp_path)
    with mock.patch.object(engine, "read_stack_config", reader):
        code = main(["plan", "--stack", "enc", "--json", str(tmp_path / "p.json"), "--md", str(tmp_path / "p.md")])
    assert code == 0, capsys.readouterr().err
    plan = (tmp_path / "p.json").read_text()
    assert "000000000000" not in plan and "example.invalid" not in plan and '"secret"' not in plan
    providers = [r for r in json.loads(plan)["resources"] if r["type"] == "pulumi:providers:aws"]
    assert providers and all(p["inputs"]["allowedAccountIds"] == "[secret]" for p in providers)
