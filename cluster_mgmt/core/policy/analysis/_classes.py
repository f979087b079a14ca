"""Pod classes: the distinct pod shapes of an inventory, and which workloads have which."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cluster_mgmt.core.policy.inventory import Inventory, PodShape, WorkloadRef


@dataclass(frozen=True, slots=True)
class PodClasses:
    """Workloads (sorted) and pod classes, indexed both ways.

    Attributes:
        workloads: every workload of the inventory, sorted.
        shapes: one pod shape per class; class ``ci`` is ``shapes[ci]``.
        workload_classes: the classes of each workload (by workload index).
        class_workloads: the workloads of each class (by class index).
        workload_index: a workload's index in :attr:`workloads`.
    """

    workloads: tuple[WorkloadRef, ...]
    shapes: tuple[PodShape, ...]
    workload_classes: tuple[tuple[int, ...], ...]
    class_workloads: tuple[tuple[int, ...], ...]
    workload_index: Mapping[WorkloadRef, int]


def pod_classes(inventory: Inventory) -> PodClasses:
    """Number the distinct pod shapes of ``inventory`` in workload order."""
    workloads = sorted(inventory.workloads)
    shapes: list[PodShape] = []
    index: dict[PodShape, int] = {}
    workload_classes: list[tuple[int, ...]] = []
    class_workloads: list[list[int]] = []
    for wi, ref in enumerate(workloads):
        classes = []
        for shape in inventory.workloads[ref]:
            ci = index.get(shape)
            if ci is None:
                ci = index[shape] = len(shapes)
                shapes.append(shape)
                class_workloads.append([])
            class_workloads[ci].append(wi)
            classes.append(ci)
        workload_classes.append(tuple(classes))
    return PodClasses(
        workloads=tuple(workloads),
        shapes=tuple(shapes),
        workload_classes=tuple(workload_classes),
        class_workloads=tuple(tuple(c) for c in class_workloads),
        workload_index={ref: i for i, ref in enumerate(workloads)},
    )
