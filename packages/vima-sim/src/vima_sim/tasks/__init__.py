"""The implemented VIMA-Bench tasks and where each exists."""

from __future__ import annotations

from vima_schema.enums import Difficulty, Partition, SameShapeBases, Task

from vima_sim.encyclopedia import partition_tasks

# Imported for their side effect: each module registers its task classes in REGISTRY.
from vima_sim.tasks import (  # noqa: F401
    follow_motion,
    follow_order,
    novel_adj,
    old_neighbor,
    pick_in_order,
    put_into,
    rearrange,
    rotate,
    same_shape,
    scene_understanding,
    sweep,
    twist,
)
from vima_sim.tasks.base import REGISTRY, SceneSamplingError, TaskBase

__all__ = ["SceneSamplingError", "TaskBase", "available", "make_task", "parse_same_shape_bases"]

EVALUATION_PARTITIONS = (
    Partition.placement_generalization,
    Partition.combinatorial_generalization,
    Partition.novel_object_generalization,
    Partition.novel_task_generalization,
)


def available() -> dict[str, dict[str, list[str]]]:
    """Implemented tasks -> {"partitions": [...], "difficulties": [...]} where each exists."""
    out: dict[str, dict[str, list[str]]] = {}
    for task in REGISTRY.classes:
        parts = [p.name for p in Partition if task in partition_tasks(p)]
        out[task.name] = {"partitions": parts, "difficulties": [d.value for d in Difficulty]}
    return out


def make_task(
    task: Task | str,
    partition: Partition | str,
    difficulty: Difficulty | str,
    same_shape_bases: SameShapeBases | str = SameShapeBases.cogelot,
) -> TaskBase:
    """A task object; ValueError for unknown names and for a task not defined in a partition.
    `same_shape_bases` picks the VIMA-Bench copy whose same_shape / same_texture bases it builds
    (`SameShapeBases`; the other tasks ignore it)."""
    task = task if isinstance(task, Task) else Task.from_name(task)
    if isinstance(partition, str):
        try:
            partition = Partition[partition]
        except KeyError:
            valid = ", ".join(Partition.__members__)
            raise ValueError(f"unknown partition {partition!r} (valid: {valid})") from None
    try:
        difficulty = Difficulty(difficulty)
    except ValueError:
        valid = ", ".join(d.value for d in Difficulty)
        raise ValueError(f"unknown difficulty {difficulty!r} (valid: {valid})") from None
    return REGISTRY.classes[task](partition, difficulty, parse_same_shape_bases(same_shape_bases))


def parse_same_shape_bases(value: SameShapeBases | str) -> SameShapeBases:
    """`value` as a `SameShapeBases`; ValueError naming the valid ones."""
    try:
        return SameShapeBases(value)
    except ValueError:
        valid = ", ".join(b.value for b in SameShapeBases)
        raise ValueError(f"unknown same_shape bases {value!r} (valid: {valid})") from None
