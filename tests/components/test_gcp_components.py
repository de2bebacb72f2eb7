"""GCP components and their pure builders, one at a time."""

from __future__ import annotations

import math

import pulumi
import pytest
from pulumi.runtime import rpc

from components.gcp.accelerators import TPU_GENERATIONS, tpu_machine
from components.gcp.nodepool import GkeNodePool, GkeNodePoolArgs, node_locations
from regions.catalog import load_catalog
from regions.gke import catalog_instance_type
from tests.components.aws_mocks import register
from tests.components.gcp_api import node_pool_body, problems


@pytest.mark.parametrize(
    ("accelerator", "chips", "machine_type", "hosts", "topology"),
    [
        ("TPU v5e", 1, "ct5lp-hightpu-1t", 1, "1x1"),
        ("TPU v5e", 8, "ct5lp-hightpu-8t", 1, "2x4"),
        ("TPU v5e", 32, "ct5lp-hightpu-8t", 4, "4x8"),
        ("TPU v6e", 256, "ct6e-standard-8t", 32, "16x16"),
        ("TPU v5p", 4, "ct5p-hightpu-4t", 1, "2x2x1"),
        ("TPU v5p", 16, "ct5p-hightpu-4t", 4, "2x2x4"),
        ("TPU v4", 64, "ct4p-hightpu-4t", 16, "4x4x4"),
    ],
)
def test_tpu_slices_map_to_gke_machine_types_and_topologies(accelerator, chips, machine_type, hosts, topology):
    machine = tpu_machine(accelerator, chips)
    assert (machine.machine_type, machine.hosts, machine.topology) == (machine_type, hosts, topology)
    assert math.prod(int(axis) for axis in machine.topology.split("x")) == chips


@pytest.mark.parametrize(("accelerator", "chips"), [("TPU v5e", 2), ("TPU v5e", 12), ("TPU v5p", 2), ("H100", 8)])
def test_slices_that_do_not_exist_are_refused(accelerator, chips):
    with pytest.raises(ValueError, match=r"no slice|not a TPU generation"):
        tpu_machine(accelerator, chips)


def test_every_catalog_tpu_offering_round_trips_through_its_gke_machine_type():
    """The pool's machine type, read back by the bill and the pack, names the offering placed."""
    tpus = {(o.instance_type, o.accelerator, o.accelerator_count) for o in load_catalog().offerings
            if o.kind == "tpu_slice" and o.accelerator in TPU_GENERATIONS}  # fmt: skip
    assert tpus
    for instance_type, accelerator, chips in tpus:
        machine = tpu_machine(accelerator, chips)
        topology = None if machine.single_host else machine.topology
        assert catalog_instance_type(machine.machine_type, topology) == (instance_type, machine.hosts)


@pytest.mark.parametrize(
    ("desired", "zones", "expected"),
    [(0, ("a", "b", "c"), ("a", "b", "c")), (1, ("a", "b", "c"), ("a",)), (2, ("a", "b", "c"), ("a", "b")),
     (6, ("a", "b", "c"), ("a", "b", "c")), (5, ("a", "b", "c"), ("a",)), (4, ("a", "b"), ("a", "b"))],
)  # fmt: skip
def test_pools_span_the_most_zones_that_launch_exactly_the_desired_nodes(desired, zones, expected):
    chosen = node_locations(desired, zones)
    assert chosen == expected and desired % len(chosen) == 0


def _pool_args(**changes):
    args = {
        "project": "acme", "cluster": "projects/acme/locations/us-east4/clusters/c", "region": "us-east4",
        "machine_type": "a3-highgpu-1g", "accelerator": "H100", "accelerator_count": 1, "zones": ("us-east4-a",),
        "capacity": "on-demand", "nodes_min": 1, "nodes_desired": 1, "nodes_max": 2, "workload": "w", "tenant": "t",
        "service_account": "sa@acme.iam.gserviceaccount.com", "key_id": "k",
    }  # fmt: skip
    return GkeNodePoolArgs(**{**args, **changes})


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"nodes_min": 3}, "nodes_desired"),
        ({"capacity": "reserved"}, "capacity"),
        ({"capacity": "spot", "reservation": "r1"}, "reservation"),
        ({"zones": ()}, "zones"),
        ({"zones": ("us-west1-a",)}, "zones"),
        ({"accelerator": "TPU v5e", "accelerator_count": 3}, "accelerator_count"),
        ({"accelerator": "Gaudi HL-205"}, "accelerator"),
    ],
)
def test_pool_inputs_that_cannot_be_built_are_refused_by_name(changes, path):
    with pytest.raises(pulumi.InputPropertiesError) as exc_info:
        GkeNodePool("bad", _pool_args(**changes))
    assert path in [error["property_path"] for error in exc_info.value.errors]


def test_a3_mega_nodes_get_their_own_gpu_type_though_the_catalog_calls_it_h100():
    from components.gcp.accelerators import gpu_type

    assert gpu_type("H100", "a3-megagpu-8g") == "nvidia-h100-mega-80gb"
    assert gpu_type("H100", "a3-highgpu-8g") == "nvidia-h100-80gb"
    gpus = {
        (o.accelerator, o.instance_type)
        for o in load_catalog().offerings
        if o.cloud == "gcp" and "TPU" not in o.accelerator
    }
    assert gpus and all(gpu_type(a, m).startswith("nvidia-") for a, m in gpus)


def test_gpu_nodes_a_replica_spans_are_compact_in_one_zone():
    zones = ("us-east4-a", "us-east4-b", "us-east4-c")
    requests = register(lambda: GkeNodePool("p", _pool_args(nodes_desired=2, nodes_max=4, zones=zones, compact=True)))
    (pool,) = [r for r in requests if r.type == "gcp:container/nodePool:NodePool"]
    inputs = rpc.deserialize_properties(pool.object)
    assert inputs["placementPolicy"] == {"type": "COMPACT"}
    assert inputs["nodeLocations"] == ["us-east4-a"]
    assert problems(node_pool_body(inputs), "NodePool") == []
