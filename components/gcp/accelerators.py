"""How GKE names the accelerators the catalog places: GPU types for node pools, TPU machine types.

Sources: GKE "Run GPUs in GKE Standard node pools" (accelerator type names such as
``nvidia-h100-80gb``) and GKE "Plan TPUs in GKE" (TPU machine types per version, chips per host,
topologies), https://cloud.google.com/kubernetes-engine/docs/concepts/plan-tpus, as of 2026-08.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["GPU_TYPES", "SERIES_GPU_TYPES", "TPU_GENERATIONS", "TpuGeneration", "TpuMachine", "gpu_type", "tpu_machine"]

GPU_TYPES = {
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "A100": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb",
    "L4": "nvidia-l4",
    "H100": "nvidia-h100-80gb",
    "H100-MEGA": "nvidia-h100-mega-80gb",
    "H200": "nvidia-h200-141gb",
    "B200": "nvidia-b200",
    "RTX PRO 6000": "nvidia-rtx-pro-6000",
}
"""Catalog accelerator -> GKE guest accelerator type."""


@dataclass(frozen=True, slots=True)
class TpuGeneration:
    """One TPU version as GKE provisions it."""

    machine_prefix: str
    """Machine type without the chip suffix, e.g. ``ct5lp-hightpu``."""
    gke_accelerator: str
    """Value of the ``cloud.google.com/gke-tpu-accelerator`` node label."""
    chips_per_host: int
    """Chips of the largest single-host machine type; multi-host slices use this many per host."""
    single_host_chips: tuple[int, ...]
    """Chip counts offered as one host."""
    dimensions: int
    """2 for the 2D torus of v5e / v6e, 3 for the 3D torus of v4 / v5p."""


TPU_GENERATIONS = {
    "TPU v4": TpuGeneration("ct4p-hightpu", "tpu-v4-podslice", 4, (4,), 3),
    "TPU v5e": TpuGeneration("ct5lp-hightpu", "tpu-v5-lite-podslice", 8, (1, 4, 8), 2),
    "TPU v5p": TpuGeneration("ct5p-hightpu", "tpu-v5p-slice", 4, (4,), 3),
    "TPU v6e": TpuGeneration("ct6e-standard", "tpu-v6e-slice", 8, (1, 4, 8), 2),
}


@dataclass(frozen=True, slots=True)
class TpuMachine:
    """A TPU slice as a GKE node pool: machine type, hosts, and the topology of a multi-host slice."""

    machine_type: str
    gke_accelerator: str
    hosts: int
    topology: str
    """Chips along each axis, e.g. ``2x4`` or ``2x2x1``; the product is the slice's chip count."""

    @property
    def single_host(self) -> bool:
        return self.hosts == 1


SERIES_GPU_TYPES = {"a3-megagpu": "nvidia-h100-mega-80gb"}
"""Machine series whose GPU the catalog names like another series' (A3 Mega's H100 is "H100")."""


def gpu_type(accelerator: str, machine_type: str) -> str:
    """The GKE guest accelerator type of a catalog GPU on a machine type (the series decides where
    the catalog's name is shared: A3 High and A3 Mega both carry "H100").

    Raises:
        KeyError: GKE does not offer the accelerator as a GPU.
    """
    series = machine_type.rsplit("-", 1)[0]
    return SERIES_GPU_TYPES.get(series) or GPU_TYPES[accelerator]


def tpu_machine(accelerator: str, chips: int) -> TpuMachine:
    """The GKE machine type and topology of a slice of ``chips`` chips of a TPU generation.

    Single-host slices use the machine type with as many chips; multi-host slices use hosts of
    ``chips_per_host`` each, in the most compact topology (each axis a power of two).

    Raises:
        ValueError: the generation is unknown or no slice of that size exists.
    """
    generation = TPU_GENERATIONS.get(accelerator)
    if generation is None:
        raise ValueError(f"{accelerator!r} is not a TPU generation GKE provisions ({', '.join(TPU_GENERATIONS)})")
    if chips in generation.single_host_chips:
        return TpuMachine(
            f"{generation.machine_prefix}-{chips}t",
            generation.gke_accelerator,
            1,
            _topology(chips, generation.dimensions),
        )
    per_host = generation.chips_per_host
    if chips < per_host or chips % per_host or chips & (chips - 1):
        raise ValueError(f"{accelerator} has no slice of {chips} chips (single-host: {generation.single_host_chips})")
    return TpuMachine(
        f"{generation.machine_prefix}-{per_host}t",
        generation.gke_accelerator,
        chips // per_host,
        _topology(chips, generation.dimensions),
    )


def _topology(chips: int, dimensions: int) -> str:
    """The most compact torus of ``chips`` (a power of two): axes as equal as may be, smallest first;
    a 3D slice of 4 chips is ``2x2x1``, as GKE writes it."""
    exponent = int(math.log2(chips))
    axes = [0] * dimensions
    for step in range(exponent):
        axes[step % dimensions] += 1
    sizes = sorted(2**a for a in axes)
    if dimensions == 3 and sizes[0] == 1:
        sizes = [*sizes[1:], 1]
    return "x".join(str(size) for size in sizes)
