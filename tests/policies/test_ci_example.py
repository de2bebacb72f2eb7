"""The example CI workflow and the policy config it uses stay consistent with the pack."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from tensorfleet.engine import PROJECT_ROOT
from tensorfleet.policy_run import _pack


def test_workflow_runs_the_pack_with_an_existing_config():
    workflow = yaml.safe_load((PROJECT_ROOT / "examples" / "ci" / "pull-request.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    (preview,) = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    assert preview["with"]["command"] == "preview"
    assert (PROJECT_ROOT / preview["with"]["policyPacks"] / "PulumiPolicy.yaml").is_file()
    assert (PROJECT_ROOT / preview["with"]["policyPackConfigs"]).is_file()
    assert any("tensorfleet plan --stack prod" in s.get("run", "") for s in steps)


def test_policy_config_names_real_policies_and_fits_their_schemas():
    config = json.loads((PROJECT_ROOT / "policies" / "config.prod.json").read_text())
    policies = {p.name: p for p in _pack()[0]}
    assert set(config) <= set(policies)
    for name, settings in config.items():
        settings = dict(settings)
        assert settings.pop("enforcementLevel", "advisory") in {"advisory", "mandatory", "disabled"}
        schema = policies[name].config_schema
        if settings:
            jsonschema.validate(
                settings, {"type": "object", "properties": schema.properties, "additionalProperties": False}
            )


def test_the_example_prod_config_passes_the_prod_example(tmp_path):
    from tensorfleet.cli import main

    code = main(["plan", "--stack", "prod", "--policy-config", str(PROJECT_ROOT / "policies" / "config.prod.json"),
                 "--json", str(tmp_path / "plan.json"), "--md", str(tmp_path / "plan.md")])  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "plan.json").read_text())["policy_results"] == []


def test_workflow_masks_no_failure():
    """A step that swallows its exit status would turn a broken plan into a green check."""
    workflow = yaml.safe_load((PROJECT_ROOT / "examples" / "ci" / "pull-request.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    for script in runs:
        assert "|| true" not in script and "set +e" not in script, script


def test_runtime_dependencies_cover_the_policy_pack():
    """`tensorfleet plan` runs the pack, so pulumi-policy is a runtime dependency, not a dev tool."""
    from importlib import metadata

    requirements = metadata.requires("tensorfleet") or []
    runtime = {re.split(r"[<>=;\s]", r, maxsplit=1)[0] for r in requirements if "extra" not in r}
    assert "pulumi-policy" in runtime
