"""tensorfleet size: what one node of each offering delivers for a profile, as a table and as JSON."""

from __future__ import annotations

import json
import math

import pytest

from tensorfleet.cli import main

EXAMPLES = ["chat-assistant-70b", "content-moderation", "diagnostic-imaging", "recommendation-embeddings",
            "support-triage"]  # fmt: skip
NODE_KEYS = {
    "instance_type", "cloud", "region", "accelerator", "accelerators_per_node", "hourly_usd",
    "accelerators_per_replica", "replicas_per_node", "concurrency", "utilisation", "requests_per_s", "tokens_per_s",
    "output_tokens_per_s", "ttft_p95_ms", "tpot_ms", "e2e_p95_ms", "nodes_at_peak", "usd_per_million_tokens",
    "usd_per_million_output_tokens",
}  # fmt: skip


def _size(capsys, *argv):
    code = main(["size", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_profile_is_answered(capsys, project_root, name):
    path = str(project_root / "workloads" / "examples" / f"{name}.yaml")
    code, out, err = _size(capsys, path, "--json")
    assert code == 0 and not err
    document = json.loads(out)
    assert document["schema"] == "tensorfleet.size/v1" and document["profile"]
    if name == "support-triage":  # gateway-only: nothing runs on accelerators
        assert document["stages"] == []
        return
    assert document["stages"] and all(stage["offerings"] for stage in document["stages"])
    slo = document["slo"]
    for stage in document["stages"]:
        costs = [o["usd_per_million_tokens"] for o in stage["offerings"]]
        assert costs == sorted(costs)
        for o in stage["offerings"]:
            assert set(o) == NODE_KEYS
            assert o["e2e_p95_ms"] <= slo["p95_latency_ms"] + 1e-6
            assert o["nodes_at_peak"] == max(
                1, math.ceil(slo["peak_rps"] * stage["share"] / o["requests_per_s"] - 1e-6)
            )
            tokens = o["requests_per_s"] * (slo["tokens_in"] + slo["tokens_out"]) * 3600
            assert o["usd_per_million_tokens"] == pytest.approx(o["hourly_usd"] / tokens * 1e6, rel=1e-3)
            assert o["replicas_per_node"] * o["accelerators_per_replica"] <= o["accelerators_per_node"]


def test_one_offering_and_the_table(capsys, project_root):
    path = str(project_root / "workloads" / "examples" / "chat-assistant-70b.yaml")
    code, out, _ = _size(capsys, path, "--offering", "p5.48xlarge")
    assert code == 0
    rows = [line for line in out.splitlines() if line.strip().startswith("p5.48xlarge")]
    assert len(rows) == 1 and "8x H100" in rows[0]
    assert "network excluded" in out


def test_an_unknown_offering_gets_close_matches(capsys, project_root):
    path = str(project_root / "workloads" / "examples" / "chat-assistant-70b.yaml")
    code, _, err = _size(capsys, path, "--offering", "p5.48xlarg")
    assert code == 2 and err.startswith("error: --offering: no placeable instance type 'p5.48xlarg'")
    assert "did you mean p5.48xlarge" in err
