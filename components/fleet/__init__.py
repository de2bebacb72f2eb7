"""Fleet-level components: one per workload and one per placement row."""

from components.fleet.workload import Workload, WorkloadArgs, WorkloadPlacement, WorkloadPlacementArgs

__all__ = ["Workload", "WorkloadArgs", "WorkloadPlacement", "WorkloadPlacementArgs"]
