"""What every cloud's region fleet is told about one accelerator pool: the placement row it runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

__all__ = ["PoolSpec", "with_takeover"]


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
