"""What every cloud's region fleet is told about one accelerator pool: the placement row it runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

__all__ = ["DEVICE_PLUGIN_CONFIG_LABEL", "MIG_CONFIG_LABEL", "GpuSlices", "PoolSpec", "with_takeover"]


DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
"""Node label naming the NVIDIA device plugin's configuration for that node (its config manager
watches it); the GPU operator's device plugin reads the same label."""
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
"""Node label naming the GPU operator MIG manager's layout for that node (``all-1g.10gb``)."""


@dataclass(frozen=True, kw_only=True)
class GpuSlices:
    """How a pool's GPUs are shared between model replicas: MIG instances or time slices."""

    replicas_per_gpu: int
    mig_profile: str | None = None
    """NVIDIA's MIG profile every GPU is split into (``1g.10gb``); None: time slices."""

    def __post_init__(self) -> None:
        if self.replicas_per_gpu < 2:
            raise ValueError(f"a shared GPU holds at least 2 replicas, got {self.replicas_per_gpu}")
        if self.mig_profile is not None and not re.fullmatch(r"[1-7]g\.\d+gb", self.mig_profile):
            raise ValueError(f"MIG profile {self.mig_profile!r} is not NVIDIA's <n>g.<memory>gb")

    @property
    def mig_slices(self) -> int | None:
        """Compute slices (of 7) of one MIG instance; None for time slices."""
        return None if self.mig_profile is None else int(self.mig_profile.split("g.", 1)[0])

    @property
    def device_plugin_config(self) -> str:
        """The device plugin configuration the pool's nodes name (see ``device_plugin_configs``)."""
        return "mig-single" if self.mig_profile is not None else f"time-slicing-{self.replicas_per_gpu}"


@dataclass(frozen=True, kw_only=True)
class PoolSpec:
    """One placement row to run in a region; each cloud adds its machine fields."""

    workload: str
    stage: str
    tenant: str
    accelerator: str
    """Canonical accelerator name, e.g. ``H100``, ``TPU v5e``."""
    capacity: str
    """``on-demand`` or ``spot``."""
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    driver: Literal["cloud", "operator"] = "cloud"
    """Who installs the GPU driver: the cloud, or the serving layer's GPU operator."""
    takeover: bool = False
    """The on-demand pool beside spot nodes that takes over another region's users."""
    nodes_per_replica: int = 1
    """Nodes one model replica spans; above one, its nodes exchange activations every token, so the
    pool is placed compactly (one zone, a cluster placement group where the cloud has one)."""

    gpu_slices: GpuSlices | None = None
    """How replicas share the pool's GPUs; None: each replica owns whole accelerators."""
    disk_gib: int | None = None
    """Each node's disk: the OS, images and the model cache of every replica it runs. None: the
    component's default."""

    @property
    def compact(self) -> bool:
        return self.nodes_per_replica > 1

    @property
    def key(self) -> str:
        """``workload/stage``, with ``/takeover`` for a takeover pool: unique in a region."""
        return f"{self.workload}/{self.stage}" + ("/takeover" if self.takeover else "")


Spec = TypeVar("Spec", bound=PoolSpec)


def with_takeover(serving: Spec, takeover_nodes: int, **on_demand: Any) -> list[Spec]:
    """The row's pool and, when its spot nodes may take over another region's users, the on-demand
    pool that does (from no nodes up to ``takeover_nodes``); ``on_demand`` resets cloud fields that
    the takeover pool must not inherit (a reservation)."""
    if not takeover_nodes:
        return [serving]
    takeover = replace(
        serving, capacity="on-demand", nodes_min=0, nodes_desired=0, nodes_max=takeover_nodes, takeover=True,
        **on_demand,
    )  # fmt: skip
    return [serving, takeover]
