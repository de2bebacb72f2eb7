"""Hostile input through the CLI entry point: generated profiles, stack configs, flags and files.

Every run ends in exit 0 (the input was valid) or in one ``error:`` message naming the file, with
status 2 — never a traceback, never the internal-error status, never a written or half-written
plan. Where a mutation is known to make the input invalid (a NaN, a boolean where a number belongs,
an unknown key, a duplicate key, an alias bomb...), exit 0 is a failure too.

Examples are derandomised so CI sees the same inputs every run; set TENSORFLEET_FUZZ_RANDOM=1 to
explore new ones locally.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorfleet import engine
from tensorfleet.cli import EXIT_INTERNAL, MAX_MESSAGE, main
from tensorfleet.engine import PROJECT_ROOT
from tensorfleet.stack_config import CONFIG_KEYS, StackConfig

PROFILE_EXAMPLES = 2000
STACK_EXAMPLES = 300
FUZZ = settings(
    deadline=None,
    derandomize=not os.environ.get("TENSORFLEET_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Fast-to-place bases (content moderation's six regions take ~1 s each; its shape is covered by
# the program tests).
PROFILE_BASES = {
    name: yaml.safe_load((PROJECT_ROOT / "workloads" / "examples" / f"{name}.yaml").read_text())
    for name in ("chat-assistant-70b", "recommendation-embeddings", "support-triage", "diagnostic-imaging")
}
READ_STACK_CONFIG = engine.read_stack_config
DEV_CONFIG = yaml.safe_load((PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def run_cli(argv: list[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_clean(outcome: Outcome, *, must_fail: bool, names: str | None = None) -> None:
    """The contract every hostile input is held to."""
    assert "Traceback" not in outcome.err and "Traceback" not in outcome.out, outcome.err[-2000:]
    assert outcome.code != EXIT_INTERNAL, outcome.err[-2000:]
    if must_fail:
        assert outcome.code != 0, "a known-bad input was accepted"
    if outcome.code != 0:
        assert outcome.code == 2, outcome
        assert outcome.err.startswith("error: "), outcome.err[:500]
        assert len(outcome.err) <= MAX_MESSAGE + 100
        if names is not None:
            assert names in outcome.err, (names, outcome.err[:500])


# --- values and mutations ------------------------------------------------------------------

NON_FINITE = [math.nan, math.inf, -math.inf]
HUGE_INT = 10**400
BAD_FOR_NUMBERS = [*NON_FINITE, HUGE_INT, True, False, "12", "", None, [1], {"a": 1}]
BAD_FOR_STRINGS = [12, 1.5, True, None, [], {"a": "b"}]
ANY_HOSTILE = [
    *BAD_FOR_NUMBERS,
    "x" * 100_000,
    "\u202e\u0000nul",
    "🙂" * 50,
    -1,
    0,
    1e-320,
    1e308,
    "1e400",
    [[[[[]]]]],
]


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [leaf for i, v in enumerate(value) for leaf in leaves(v, (*path, i))]
    return [(path, value)]


def containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path, *(p for k, v in value.items() for p in containers(v, (*path, k)))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in containers(v, (*path, i))]
    return []


def set_at(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def known_bad_replacement(old: Any, new: Any) -> bool:
    """Replacing ``old`` by ``new`` certainly breaks a strictly typed, finite document."""
    if isinstance(new, float) and not math.isfinite(new):
        return True
    if new is HUGE_INT:
        return True
    if is_number(old) and (isinstance(new, (bool, str, list, dict)) or new is None):
        return True
    return isinstance(old, str) and (is_number(new) or isinstance(new, (bool, list, dict)))


def _optional(key: str) -> bool:
    """True for a config key whose field defaults to None."""
    field = CONFIG_KEYS.get(key.removeprefix("tensorfleet:"))
    return field is not None and StackConfig.model_fields[field].default is None


def _json_number(text: str) -> bool:
    """True for text a JSON parser reads as a finite number."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return is_number(value) and math.isfinite(value)


def dump(document: Any) -> str:
    # allow_unicode keeps text as written; YAML spells non-finite floats .nan/.inf, as a user would.
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10**6)


@st.composite
def hostile_profile(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A profile file's bytes, and whether it is known to be invalid."""
    base = copy.deepcopy(PROFILE_BASES[draw(st.sampled_from(sorted(PROFILE_BASES)))])
    kind = draw(
        st.sampled_from(
            ["leaf", "leaf", "leaf", "unknown-key", "delete", "region", "duplicate", "bomb", "deep", "bytes", "cut"]
        )
    )
    if kind == "leaf":
        path, old = draw(st.sampled_from(leaves(base)))
        new = draw(st.sampled_from(ANY_HOSTILE) | st.floats() | st.integers() | st.text(max_size=30))
        set_at(base, path, new)
        return dump(base).encode(), known_bad_replacement(old, new)
    if kind == "unknown-key":
        where = draw(st.sampled_from([p for p in containers(base)]))
        target = functools.reduce(lambda d, k: d[k], where, base)
        target[draw(st.sampled_from(["extra", "max_replica", "Name", "p95", "slo_ms"]))] = 1
        return dump(base).encode(), True
    if kind == "delete":
        required = ["name", "owner", "tenant", "slo", "budget", "placement"]
        key = draw(st.sampled_from(required))
        del base[key]
        return dump(base).encode(), True
    if kind == "region":
        field = draw(st.sampled_from(["allowed_regions", "denied_regions", "residency"]))
        name = draw(st.sampled_from(["us-east-9", "aws:us-eest-1", "eu-west-9", "gcp:moon-1", "UK", "E U", "x" * 500]))
        if field == "residency":
            base.setdefault("compliance", {})["data_residency"] = [name]
        else:
            base["placement"][field] = [name]
        return dump(base).encode(), True
    if kind == "duplicate":
        text = dump(base)
        key = draw(st.sampled_from([k for k in base if isinstance(base[k], dict)]))
        return (text + f"{key}: {json.dumps(base[key])}\n").encode(), True
    if kind == "bomb":
        lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        lines += [f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
        return (dump(base) + "\n".join(lines) + "\n").encode(), True
    if kind == "deep":
        depth = draw(st.integers(40, 3000))
        return (dump(base) + "extra: " + "[" * depth + "]" * depth + "\n").encode(), True
    if kind == "bytes":
        junk = draw(st.binary(min_size=1, max_size=200))
        return dump(base).encode()[:100] + b"\xff\xfe" + junk, True
    cut = draw(st.integers(0, len(dump(base))))
    return dump(base).encode()[:cut], cut == 0


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="tensorfleet-hostile-") as name:
        yield Path(name)


@settings(FUZZ, max_examples=PROFILE_EXAMPLES)
@given(case=hostile_profile())
def test_generated_profiles_through_place(workdir, case):
    data, known_bad = case
    path = workdir / "profile.yaml"
    path.write_bytes(data)
    outcome = run_cli(["place", str(path)])
    assert_clean(outcome, must_fail=known_bad, names=str(path))


# --- stack configs -------------------------------------------------------------------------


@st.composite
def hostile_stack(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A stack config file's bytes, and whether it is known to be invalid."""
    document = copy.deepcopy(DEV_CONFIG)
    config = document["config"]
    kind = draw(
        st.sampled_from(
            ["leaf", "leaf", "leaf", "unknown-key", "secret", "profile-path", "override", "duplicate", "bomb", "bytes"]
        )
    )
    if kind == "leaf":
        path, old = draw(st.sampled_from(leaves(config)))
        new = draw(st.sampled_from(ANY_HOSTILE) | st.integers() | st.text(max_size=20))
        set_at(config, path, new)
        # The Pulumi CLI hands a top-level scalar to the program as text, whatever its YAML type,
        # so `costCentre: 4711` is the string "4711" in both paths.
        text_key = len(path) == 1 and path[0] == "tensorfleet:costCentre"
        scalar = is_number(new) or isinstance(new, bool)
        # Likewise `carbonPriceUsdPerTonne: "12"` reaches the program as the text 12, a number.
        numeric_text = len(path) == 1 and is_number(old) and isinstance(new, str) and _json_number(new)
        # An optional key set to null is the key unset (`budgetMonthlyUsd: null`: no stack budget).
        unset = len(path) == 1 and new is None and _optional(path[0])
        exempt = (text_key and scalar) or numeric_text or unset
        return dump(document).encode(), known_bad_replacement(old, new) and not exempt
    if kind == "unknown-key":
        key = draw(st.sampled_from(["tensorfleet:budget", "tensorfleet:Objective", "tensorfleet:aws_region"]))
        config[key] = draw(st.sampled_from(["x", 1, True]))
        return dump(document).encode(), True
    if kind == "secret":
        key = draw(st.sampled_from(["tensorfleet:objective", "tensorfleet:budgetMonthlyUsd", "tensorfleet:workloads"]))
        config[key] = {"secure": "v1:AAAA"}
        return dump(document).encode(), True
    if kind == "profile-path":
        bad = draw(st.sampled_from(["missing.yaml", "workloads", "/dev/zero", "x" * 2000, "stacks/Pulumi.dev.yaml"]))
        config["tensorfleet:workloads"][0]["profile"] = bad
        return dump(document).encode(), True
    if kind == "override":
        field, new = draw(
            st.sampled_from(
                [("slo", {"peak_rps": math.nan}), ("slo", {"peak_rps": True}), ("scaling", {"min_replicas": -1}),
                 ("placement", {"allowed_regions": ["us-east1"]}), ("budget", {"monthly_usd": 10**400}),
                 ("nonsense", 1)]
            )
        )  # fmt: skip
        config["tensorfleet:workloads"][0]["overrides"] = {field: new}
        return dump(document).encode(), True
    if kind == "duplicate":
        return (dump(document) + "  tensorfleet:objective: cost\n").encode(), True
    if kind == "bomb":
        text = dump(document).replace("config:\n", 'bomb: &b0 ["x","x","x","x","x","x","x","x","x","x"]\n', 1)
        text += "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n" for i in range(1, 8))
        return ("config:\n" + text).encode(), True
    junk = draw(st.binary(min_size=1, max_size=200))
    return b"config:\n  tensorfleet:objective: " + junk + b"\xff", True


@settings(FUZZ, max_examples=STACK_EXAMPLES)
@given(case=hostile_stack())
def test_generated_stack_configs_through_plan(workdir, case):
    data, known_bad = case
    (workdir / "stacks").mkdir(exist_ok=True)
    (workdir / "stacks" / "Pulumi.hostile.yaml").write_bytes(data)
    out_json, out_md = workdir / "plan.json", workdir / "plan.md"
    out_json.write_text("previous json")
    out_md.write_text("previous md")
    reader = functools.partial(READ_STACK_CONFIG, project_root=workdir)
    with mock.patch.object(engine, "read_stack_config", reader):
        outcome = run_cli(["plan", "--stack", "hostile", "--json", str(out_json), "--md", str(out_md)])
    assert_clean(outcome, must_fail=known_bad)
    written = (out_json.read_text(), out_md.read_text())
    if outcome.code == 2:
        assert written == ("previous json", "previous md"), "a failed plan touched the output files"
    else:
        assert json.loads(written[0])["schema"] == "tensorfleet.plan/v1" and written[1].startswith("## ")


# --- flags and files -----------------------------------------------------------------------

BAD_ARGV = [
    [],
    ["plan"],
    ["plan", "--stack"],
    ["plan", "--stack", "nope"],
    ["plan", "--stack", "x" * 5000],
    ["plan", "--stack", "../../etc/passwd"],
    ["plan", "--stack", "dev", "--objective", "cheapest"],
    ["plan", "--stack", "dev", "--json", "same.out", "--md", "same.out"],
    ["plan", "--stack", "dev", "--json", "a\x00b"],
    ["place"],
    ["place", "nul\x00.yaml"],
    ["place", "/nonexistent/profile.yaml"],
    ["place", "workloads/examples/chat-assistant-70b.yaml", "--budget", "nan"],
    ["place", "workloads/examples/chat-assistant-70b.yaml", "--budget", "inf"],
    ["place", "workloads/examples/chat-assistant-70b.yaml", "--budget", "1e400"],
    ["place", "workloads/examples/chat-assistant-70b.yaml", "--budget", "-5"],
    ["place", "workloads/examples/chat-assistant-70b.yaml", "--carbon-price", "NaN"],
    ["place", "workloads/examples/chat-assistant-70b.yaml", "workloads/examples/chat-assistant-70b.yaml"],
    ["catalog", "refresh", "--cloud", "azure"],
    ["frobnicate"],
]


@pytest.mark.parametrize("argv", BAD_ARGV, ids=[" ".join(a)[:40] or "(none)" for a in BAD_ARGV])
def test_bad_flags_get_one_line(argv):
    assert_clean(run_cli(argv), must_fail=True)


BAD_JSON = {
    "not-json.json": b"{not json",
    "nan.json": b'{"schema": "tensorfleet.plan/v1", "totals": {"monthly_usd": NaN}}',
    "huge-number.json": b'{"cost-ceiling": {"stackMonthlyUsd": 1e400}}',
    "array.json": b"[1, 2]",
    "latin1.json": '{"a": "caf\xe9"}'.encode("latin-1"),
    "deep.json": b"[" * 100_000 + b"]" * 100_000,
    "empty.json": b"",
}


@pytest.mark.parametrize("flag", ["--compare", "--policy-config"])
@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_bad_compare_and_policy_config_files(tmp_path, flag, name):
    path = tmp_path / name
    path.write_bytes(BAD_JSON[name])
    out_json, out_md = tmp_path / "plan.json", tmp_path / "plan.md"
    outcome = run_cli(["plan", "--stack", "dev", flag, str(path), "--json", str(out_json), "--md", str(out_md)])
    assert_clean(outcome, must_fail=True, names=str(path))
    assert not out_json.exists() and not out_md.exists()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"cost-celing": {"stackMonthlyUsd": 1}}, "unknown policy; did you mean 'cost-ceiling'?"),
        ({"cost-ceiling": "strict"}, "expected one of advisory"),
        ({"cost-ceiling": {"stackMonthlyUsd": "lots"}}, "cost-ceiling.stackMonthlyUsd"),
        ({"cost-ceiling": {"stackMonthlyUSD": 1}}, "unknown setting"),
    ],
)
def test_policy_config_is_checked_against_the_pack(tmp_path, config, expected):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(config))
    out_json, out_md = tmp_path / "plan.json", tmp_path / "plan.md"
    outcome = run_cli(
        ["plan", "--stack", "dev", "--policy-config", str(path), "--json", str(out_json), "--md", str(out_md)]
    )
    assert_clean(outcome, must_fail=True, names=str(path))
    assert expected in outcome.err


# --- the console script itself ---------------------------------------------------------------

CONSOLE = Path(sys.executable).with_name("tensorfleet")


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--stack", "x" * 300],
        ["place", "/dev/zero"],
        ["place", "README.md"],
        ["place", "workloads/examples/chat-assistant-70b.yaml", "--budget", "nan"],
    ],
)
def test_a_sample_through_the_console_script(argv):
    done = subprocess.run([str(CONSOLE), *argv], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert_clean(Outcome(done.returncode, done.stdout, done.stderr), must_fail=True)
    assert done.stderr.count("\n") <= 40


def test_ctrl_c_ends_with_130_and_one_line(tmp_path):
    import signal
    import time

    process = subprocess.Popen(
        [str(CONSOLE), "plan", "--stack", "prod", "--json", str(tmp_path / "p.json"), "--md", str(tmp_path / "p.md")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starts background jobs with SIGINT ignored, and children inherit that; the user
        # at a terminal has it delivered, which is what this test stands for.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.0)  # past interpreter start-up (~0.1 s), well inside the plan (~5 s)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    assert err.strip().splitlines() == ["error: interrupted; nothing was written"]
    assert not (tmp_path / "p.json").exists() and not (tmp_path / "p.md").exists()


# --- regressions found by review -------------------------------------------------------------


def _plan_with(workdir: Path, edits: dict[str, Any]) -> Outcome:
    document = copy.deepcopy(DEV_CONFIG)
    document["config"].update(edits)
    (workdir / "stacks").mkdir(exist_ok=True)
    # Python cannot even write an integer of 5,000 digits through str(): splice it into the text.
    text = dump(document).replace("HUGE-INTEGER", "9" * 5000)
    (workdir / "stacks" / "Pulumi.edited.yaml").write_text(text)
    reader = functools.partial(READ_STACK_CONFIG, project_root=workdir)
    with mock.patch.object(engine, "read_stack_config", reader):
        return run_cli(["plan", "--stack", "edited", "--json", str(workdir / "p.json"), "--md", str(workdir / "p.md")])


AWS = DEV_CONFIG["config"]["tensorfleet:aws"]


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ({"tensorfleet:budgetMonthlyUsd": None}, None),  # null is "no stack budget", not a crash
        ({"tensorfleet:budgetMonthlyUsd": "HUGE-INTEGER"}, "a number too long to read"),
        ({"tensorfleet:aws": {**AWS, "home_region": "cn-north-1"}}, "another AWS partition"),
        (
            {
                "tensorfleet:aws": {
                    **AWS,
                    "existing_networks": {
                        "us-esat-1": {
                            "vpc_id": "vpc-0123456789abcdef0",
                            "private_subnet_ids": {"use1-az1": "subnet-01234567", "use1-az2": "subnet-89abcdef"},
                        }
                    },
                }
            },
            "tensorfleet:aws.existing_networks.us-esat-1: unknown aws region 'us-esat-1'; did you mean",
        ),
        ({"tensorfleet:workloads": [{"profile": "../../etc/passwd"}]}, "is outside the project"),
        ({"tensorfleet:production": "yes"}, "tensorfleet:production: Input should be a valid boolean"),
    ],
    ids=["null-budget", "huge-int", "china-home", "region-typo", "outside-project", "yaml-1.1-yes"],
)
def test_review_regressions(tmp_path, edits, expected):
    outcome = _plan_with(tmp_path, edits)
    assert_clean(outcome, must_fail=expected is not None)
    if expected is not None:
        assert expected in outcome.err and "stacks/Pulumi.edited.yaml" in outcome.err


def test_a_base_plan_of_another_stack_is_refused(tmp_path):
    base = tmp_path / "base.json"
    assert run_cli(["plan", "--stack", "dev", "--json", str(base), "--md", str(tmp_path / "b.md")]).code == 0
    outcome = run_cli(["plan", "--stack", "staging", "--compare", str(base), "--json", str(tmp_path / "p.json"),
                       "--md", str(tmp_path / "p.md")])  # fmt: skip
    assert_clean(outcome, must_fail=True, names=str(base))
    assert "the base plan is of stack 'dev', not 'staging'" in outcome.err
