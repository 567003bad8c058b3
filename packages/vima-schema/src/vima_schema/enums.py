"""Enumerations of the VIMA domain, numbered as in the reference code."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Task(IntEnum):
    """The 17 VIMA-Bench tasks; values match the reference numbering (0-16).

    The folder-name aliases `simple_manipulation`, `same_profile`, `sweep` and `same_color`
    are enum aliases: they resolve to the canonical member.
    """

    visual_manipulation = 0
    scene_understanding = 1
    rotate = 2
    rearrange = 3
    rearrange_then_restore = 4
    novel_adj = 5
    novel_noun = 6
    novel_adj_and_noun = 7
    twist = 8
    follow_motion = 9
    follow_order = 10
    sweep_without_exceeding = 11
    sweep_without_touching = 12
    same_texture = 13
    same_shape = 14
    manipulate_old_neighbor = 15
    pick_in_order_then_restore = 16
    # Aliases used by old folder names and generator configs.
    simple_manipulation = 0
    same_profile = 14
    sweep = 11
    same_color = 13

    @classmethod
    def from_name(cls, name: str) -> Task:
        """Canonical task for a task or alias name; ValueError names the valid choices."""
        try:
            return cls[name]
        except KeyError:
            valid = ", ".join(cls.__members__)
            raise ValueError(f"unknown task name {name!r} (valid: {valid})") from None

    @property
    def group(self) -> TaskGroup:
        """The task group this task belongs to."""
        return _TASK_GROUPS[self]


class TaskGroup(IntEnum):
    """Task groups of the VIMA paper, numbered as in the reference code."""

    instruction_following = 1
    constraint_satisfaction = 2
    novel_concept_grounding = 3
    one_shot_imitation = 4
    rearrangement = 5
    require_memory = 6
    require_reasoning = 7


_TASK_GROUPS: dict[Task, TaskGroup] = {
    Task.visual_manipulation: TaskGroup.instruction_following,
    Task.scene_understanding: TaskGroup.instruction_following,
    Task.rotate: TaskGroup.instruction_following,
    Task.sweep_without_exceeding: TaskGroup.constraint_satisfaction,
    Task.sweep_without_touching: TaskGroup.constraint_satisfaction,
    Task.novel_adj_and_noun: TaskGroup.novel_concept_grounding,
    Task.novel_adj: TaskGroup.novel_concept_grounding,
    Task.novel_noun: TaskGroup.novel_concept_grounding,
    Task.twist: TaskGroup.novel_concept_grounding,
    Task.follow_motion: TaskGroup.one_shot_imitation,
    Task.follow_order: TaskGroup.one_shot_imitation,
    Task.rearrange: TaskGroup.rearrangement,
    Task.manipulate_old_neighbor: TaskGroup.require_memory,
    Task.pick_in_order_then_restore: TaskGroup.require_memory,
    Task.rearrange_then_restore: TaskGroup.require_memory,
    Task.same_texture: TaskGroup.require_reasoning,
    Task.same_shape: TaskGroup.require_reasoning,
}

#: The 17 canonical task names in value order (aliases excluded).
TASK_NAMES: tuple[str, ...] = tuple(task.name for task in Task)

#: The 13 tasks that have training data in VIMA-Data.
TRAINING_TASKS: tuple[Task, ...] = (
    Task.follow_order,
    Task.manipulate_old_neighbor,
    Task.novel_adj,
    Task.novel_noun,
    Task.pick_in_order_then_restore,
    Task.rearrange,
    Task.rearrange_then_restore,
    Task.rotate,
    Task.same_shape,
    Task.scene_understanding,
    Task.sweep_without_exceeding,
    Task.twist,
    Task.visual_manipulation,
)


class Partition(IntEnum):
    """Training data and the four evaluation levels L1-L4."""

    training = 0
    placement_generalization = 1
    combinatorial_generalization = 2
    novel_object_generalization = 3
    novel_task_generalization = 4


class Difficulty(StrEnum):
    """Scene difficulty of an episode."""

    easy = "easy"
    distracting = "distracting"
    extreme = "extreme"
    extremely_distracting = "extremely_distracting"


class SameShapeBases(StrEnum):
    """How same_shape and same_texture size their base, where the two VIMA-Bench copies differ:
    `cogelot` scales every base but a bowl, pan or pallet by 2.5 (CoGeLoT's copy; scaled frames,
    containers and squares never fit, so the L1/L2 base is a bowl), `upstream` leaves them
    unscaled (vimalabs/VIMABench, where VIMA-200M was scored, and VIMA-Data)."""

    cogelot = "cogelot"
    upstream = "upstream"


class EndEffector(StrEnum):
    """End effector of the robot; `token` is the reference tokenisation (0, 1)."""

    suction = "suction"
    spatula = "spatula"

    @property
    def token(self) -> int:
        """Integer used for this end effector in observations (`obs.pkl` `ee`)."""
        return 0 if self is EndEffector.suction else 1


class View(StrEnum):
    """Camera views, in the sorted order consumers use."""

    front = "front"
    top = "top"


VIEWS: tuple[View, ...] = (View.front, View.top)


class PlaceholderType(StrEnum):
    """Kind of a prompt asset: a single object rendered alone, or a whole scene."""

    object = "object"
    scene = "scene"


class PickleNamespace(StrEnum):
    """Module root of the encyclopedia classes pickled in `trajectory.pkl`."""

    vimasim = "vimasim"  # released VIMA-Data
    vima_bench = "vima_bench"  # current VIMA-Bench generator
