"""The CLI end to end: every example environment, the plan.json contract, plan.md, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tensorfleet.cli import main
from tests.conftest import ENVIRONMENTS

SCHEMA = json.loads((Path(__file__).parents[1] / "tensorfleet" / "schema" / "plan.v1.json").read_text())


def _plan(tmp_path, *args):
    out_json, out_md = tmp_path / "plan.json", tmp_path / "plan.md"
    code = main(["plan", *args, "--json", str(out_json), "--md", str(out_md)])
    return code, out_json, out_md


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_plan_writes_a_contract_valid_plan_for_every_environment(tmp_path, capsys, stack):
    code, out_json, out_md = _plan(tmp_path, "--stack", stack)
    assert code == 0
    plan = json.loads(out_json.read_text())
    jsonschema.validate(plan, SCHEMA)
    assert plan["stack"] == stack and plan["placements"]
    nodes = sum(p["monthly_usd"] for p in plan["placements"])
    assert plan["totals"]["accelerators_monthly_usd"] == pytest.approx(nodes, abs=0.01)
    # The whole bill: every line summed, the nodes among them, and every region's fixed costs on top.
    assert plan["totals"]["monthly_usd"] == pytest.approx(sum(b["monthly_usd"] for b in plan["bill"]), abs=0.05)
    node_lines = [b for b in plan["bill"] if b["unit"] == "node-hour"]
    assert sum(b["monthly_usd"] for b in node_lines) == pytest.approx(nodes, abs=0.05)
    aws_regions = {p["region"] for p in plan["placements"] if p["cloud"] == "aws"}
    for region in aws_regions:
        items = {b["item"] for b in plan["bill"] if (b["cloud"], b["region"]) == ("aws", region)}
        assert {"eks_control_plane", "nat_gateway", "nat_gateway_data", "public_ipv4", "kms_key"} <= items, region
    assert all(p["capacity_type"] in ("on-demand", "spot") for p in plan["placements"])
    assert "### Bill by region and resource type" in out_md.read_text()
    assert plan["totals"]["resources"] == len(plan["resources"])
    for p in plan["placements"]:
        assert p["monthly_usd"] == pytest.approx(p["nodes"]["desired"] * p["hourly_usd"] * 730, abs=0.01)
        assert "runner-up" in p["reason"]
    printed = capsys.readouterr().out
    assert f"stack {stack}: $" in printed and "instance type" in printed
    markdown = out_md.read_text()
    assert markdown.startswith(f"## tensorfleet plan: `{stack}`")
    assert "No policy violations." in markdown and "| workload | cloud | region |" in markdown
    assert plan["policy_results"] == []


def test_inputs_are_wire_form_camel_case(tmp_path):
    _, out_json, _ = _plan(tmp_path, "--stack", "dev")
    placement = next(
        r for r in json.loads(out_json.read_text())["resources"] if r["type"] == "tensorfleet:fleet:WorkloadPlacement"
    )
    assert {"instanceType", "acceleratorCount", "hourlyUsd", "gridGco2PerKwh"} <= set(placement["inputs"])
    assert placement["cloud"] == placement["inputs"]["cloud"] and placement["region"] == placement["inputs"]["region"]


def test_objective_flag_overrides_the_stack(tmp_path):
    _, out_json, _ = _plan(tmp_path, "--stack", "dev", "--objective", "cost")
    assert all("best by cost" in p["reason"] for p in json.loads(out_json.read_text())["placements"])


def test_compare_reports_the_difference_against_a_base(tmp_path):
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    _, base_json, _ = _plan(base_dir, "--stack", "dev", "--objective", "carbon")
    code, out_json, out_md = _plan(tmp_path, "--stack", "dev", "--objective", "cost", "--compare", str(base_json))
    assert code == 0
    markdown = out_md.read_text()
    assert "| this plan | base | change |" in markdown
    assert "### Placement changes against base" in markdown
    base, now = json.loads(base_json.read_text()), json.loads(out_json.read_text())
    assert now["totals"]["monthly_usd"] <= base["totals"]["monthly_usd"]  # cost-optimal is never dearer


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--stack", "qa"], "no such stack config; known stacks: dev, prod, staging"),
        (["--stack", "dev", "--compare", "/nonexistent/base.json"], "cannot read the base plan"),
    ],
)
def test_bad_invocations_fail_cleanly_and_write_nothing(tmp_path, capsys, args, fragment):
    code, out_json, out_md = _plan(tmp_path, *args)
    assert code == 2
    assert fragment in capsys.readouterr().err
    assert not out_json.exists() and not out_md.exists()


@pytest.fixture
def config_with(monkeypatch):
    """Adds one config value to whatever stack the CLI reads, as if it were in Pulumi.<stack>.yaml."""
    import tensorfleet.engine as engine

    original = engine.read_stack_config

    def apply(key, value):
        def read(stack, project_root=engine.PROJECT_ROOT):
            config, secret_keys = original(stack, project_root)
            return {**config, key: value}, secret_keys

        monkeypatch.setattr(engine, "read_stack_config", read)

    return apply


def test_unknown_config_key_is_reported(tmp_path, capsys, config_with):
    config_with("tensorfleet:budgetMonthlyUSD", "5")
    code, out_json, _ = _plan(tmp_path, "--stack", "dev")
    assert code == 2 and not out_json.exists()
    assert (
        "tensorfleet:budgetMonthlyUSD: unknown key; did you mean tensorfleet:budgetMonthlyUsd?"
        in capsys.readouterr().err
    )


def test_infeasible_stack_exits_non_zero_with_the_binding_constraint(tmp_path, capsys, config_with):
    config_with("tensorfleet:budgetMonthlyUsd", "10")
    code, out_json, _ = _plan(tmp_path, "--stack", "dev")
    err = capsys.readouterr().err
    assert code == 2 and not out_json.exists()
    assert err.startswith("error: stack budget $10/month is below the cheapest plan")
    assert "tensorfleet:budgetMonthlyUsd" in err and "--budget" not in err
    assert "Traceback" not in err


def test_place_names_its_own_flag_for_the_stack_budget(capsys, project_root):
    profile = project_root / "workloads" / "examples" / "recommendation-embeddings.yaml"
    assert main(["place", str(profile), "--budget", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: stack budget $10/month is below the cheapest plan")
    assert "--budget" in err and "tensorfleet:budgetMonthlyUsd" not in err


def test_a_workload_budget_is_named_in_its_profile_file(capsys, project_root, tmp_path):
    source = (project_root / "workloads" / "examples" / "recommendation-embeddings.yaml").read_text()
    profile = tmp_path / "tight.yaml"
    profile.write_text(source.replace("monthly_usd: 50000", "monthly_usd: 5"))
    assert "monthly_usd: 5\n" in profile.read_text()
    assert main(["place", str(profile)]) == 2
    err = capsys.readouterr().err
    assert "budget.monthly_usd" in err and str(profile) in err


def test_a_component_refusing_its_inputs_is_one_message(tmp_path, capsys, monkeypatch):
    """Rules the config model cannot know are still reported as a message, not a traceback."""
    import components.aws.network as network

    def refuse(cidr_block, zone_ids):
        raise ValueError("no room for the subnets in this range")

    monkeypatch.setattr(network, "subnet_plan", refuse)
    code, out_json, _ = _plan(tmp_path, "--stack", "dev")
    err = capsys.readouterr().err
    assert code == 2 and not out_json.exists()
    assert err.startswith(
        "error: stacks/Pulumi.dev.yaml: a component refused its inputs: RegionNetwork inputs are invalid"
    )
    assert "  - cidr_block: no room for the subnets in this range" in err and "Traceback" not in err


def test_plan_files_are_the_same_bytes_whatever_the_hash_seed(tmp_path, project_root):
    """Nothing in the output may depend on set or dict order that varies between processes."""
    import os

    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "tensorfleet.cli", "plan", "--stack", "staging",
             "--json", str(out / "plan.json"), "--md", str(out / "plan.md")],
            cwd=project_root, env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        outputs.append(((out / "plan.json").read_bytes(), (out / "plan.md").read_bytes()))
    assert outputs[0] == outputs[1]


def test_place_prints_each_workload_with_reasons(capsys, project_root):
    examples = project_root / "workloads" / "examples"
    code = main(
        [
            "place",
            str(examples / "recommendation-embeddings.yaml"),
            str(examples / "support-triage.yaml"),
            "--objective",
            "cost",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "recommendation-embeddings: $" in out and "runner-up" in out
    assert "support-triage: served through the gateway only" in out


def test_place_reports_a_bad_profile(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert main(["place", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: invalid workload profile" in err and "owner: Field required" in err


def test_console_script_runs_the_dev_plan(tmp_path):
    """The installed entry point, in a fresh process, from another working directory."""
    script = Path(sys.executable).parent / "tensorfleet"
    result = subprocess.run(
        [str(script), "plan", "--stack", "dev"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    jsonschema.validate(json.loads((tmp_path / "plan.json").read_text()), SCHEMA)
    assert (tmp_path / "plan.md").is_file()


def test_markdown_puts_policy_violations_first():
    from tensorfleet.report import render_markdown

    plan = {
        "schema": "tensorfleet.plan/v1",
        "stack": "x",
        "placements": [],
        "resources": [],
        "policy_results": [
            {"policy": "cost-ceiling", "enforcement": "mandatory", "urn": "urn:pulumi:x", "message": "a|b"}
        ],
        "totals": {"monthly_usd": 0, "monthly_kgco2": 0, "resources": 0},
    }
    markdown = render_markdown(plan)
    assert markdown.index("### Policy violations (1)") < markdown.index("### Totals")
    assert "| cost-ceiling | mandatory | `urn:pulumi:x` | a\\|b |" in markdown


def test_a_mandatory_violation_fails_the_plan_but_writes_the_report(tmp_path, capsys):
    ceiling = tmp_path / "policy.json"
    ceiling.write_text('{"cost-ceiling": {"stackMonthlyUsd": 1}}')
    code, out_json, out_md = _plan(tmp_path, "--stack", "dev", "--policy-config", str(ceiling))
    assert code == 1
    assert "mandatory policy violation(s): the plan does not pass" in capsys.readouterr().err
    plan = json.loads(out_json.read_text())
    jsonschema.validate(plan, SCHEMA)
    (violation,) = [r for r in plan["policy_results"] if r["policy"] == "cost-ceiling"]
    assert violation["enforcement"] == "mandatory"
    markdown = out_md.read_text()
    assert markdown.index("### Policy violations") < markdown.index("### Totals")
    assert "| cost-ceiling | mandatory | (stack) |" in markdown


def test_a_bad_policy_config_is_reported(tmp_path, capsys):
    bad = tmp_path / "policy.json"
    bad.write_text("[1, 2]")
    code, out_json, _ = _plan(tmp_path, "--stack", "dev", "--policy-config", str(bad))
    assert code == 2 and not out_json.exists()
    assert "policy.json: (top level): expected an object of policy name to settings" in capsys.readouterr().err
