"""Which catalog offering a GKE node pool's machine type is: GPU machine types are catalog names;
TPU machine types (``ct5lp-hightpu-8t``) name per-host chips, the catalog names Cloud TPU slices.

Source: GKE "Plan TPUs in GKE" (machine types per TPU version) and Cloud TPU's slice names
(v4 and v5p count TensorCores, two per chip; v5e and v6e count chips), as of 2026-08.
"""

from __future__ import annotations

import math
import re

__all__ = ["catalog_instance_type"]

_TPU_SLICE_NAMES = {
    "ct4p-hightpu": ("tpu-v4-{n}", 2),
    "ct5lp-hightpu": ("tpu-v5litepod-{n}", 1),
    "ct5p-hightpu": ("tpu-v5p-{n}", 2),
    "ct6e-standard": ("tpu-v6e-{n}", 1),
}
"""GKE TPU machine prefix -> (Cloud TPU slice name, units the name counts per chip)."""


def catalog_instance_type(machine_type: str, tpu_topology: str | None = None) -> tuple[str, int]:
    """The catalog instance type a pool's nodes price as, and how many nodes share one such item.

    A single-host TPU node is one slice; a multi-host slice of ``tpu_topology`` is priced whole
    and shared by its hosts. GPU machine types are themselves, one per node.
    """
    match = re.fullmatch(r"(?P<prefix>ct[0-9a-z]+-[a-z]+)-(?P<chips>[0-9]+)t", machine_type)
    if match is None or match["prefix"] not in _TPU_SLICE_NAMES:
        return machine_type, 1
    name, units = _TPU_SLICE_NAMES[match["prefix"]]
    per_host = int(match["chips"])
    chips = math.prod(int(axis) for axis in tpu_topology.split("x")) if tpu_topology else per_host
    return name.format(n=chips * units), max(1, chips // per_host)
