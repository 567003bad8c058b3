"""Shared task machinery: spawning objects, goals, pose matching, distractor check, oracle."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pybullet as pb
from vima_schema.enums import Difficulty, EndEffector, Partition, SameShapeBases, Task
from vima_schema.models import ObjectInfo

from vima_sim.encyclopedia import (
    ObjectEntry,
    TaskSettings,
    TextureEntry,
    get_object,
    get_texture,
    object_info,
    task_rules,
    task_settings,
)
from vima_sim.heightmap import PIXEL, capture, erode, pixel_to_xy, sample_pixel
from vima_sim.robot import invert, multiply
from vima_sim.world import Pose, World, yaw_quaternion

REJECT_SAMPLING_MAX_TIMES = 10
ROT_EPS = np.deg2rad(15)
WORKSPACE_LOW = np.array([0.25, -0.5], dtype=np.float32)
WORKSPACE_HIGH = np.array([0.75, 0.5], dtype=np.float32)


def f32(value: Any) -> np.ndarray:
    """A float32 array of `value`."""
    return np.asarray(value, dtype=np.float32)


class SceneSamplingError(RuntimeError):
    """A task could not place its objects for this seed (VIMA-Bench raises the same)."""


@dataclass
class ObjectAsset:
    """An object shown alone in a prompt image."""

    obj: ObjectEntry
    texture: TextureEntry
    urdf: str
    global_scaling: float = 1.0


@dataclass
class SceneAsset:
    """A workspace scene shown in a prompt image: (object, texture, urdf, pose) each."""

    objects: list[tuple[ObjectEntry, TextureEntry, str, Pose]]


@dataclass
class Goal:
    """Objects (body, symmetry) that must reach one of their matching target poses."""

    objects: list[tuple[int, float]]
    matches: np.ndarray
    targets: list[Pose]
    rotations: bool = True

    @classmethod
    def single(cls, body: int, target: Pose, symmetry: float = 0) -> Goal:
        """One object that must reach one target pose."""
        return cls([(body, symmetry)], np.ones((1, 1)), [target])


@dataclass
class Spawned:
    """An object the task placed in the workspace."""

    body: int
    obj: ObjectEntry
    texture: TextureEntry
    size: tuple[float, ...]
    urdf: str
    pose: Pose


class TaskBase:
    """One VIMA-Bench task at a partition and difficulty; subclasses build scenes and rules."""

    task: ClassVar[Task]
    #: Whether the pose check ignores rotation.
    position_only: ClassVar[bool] = True
    #: Whether goals are met one after another (else any pending goal may be met at any step).
    goals_in_order: ClassVar[bool] = True
    end_effector: ClassVar[EndEffector] = EndEffector.suction

    def __init__(
        self,
        partition: Partition,
        difficulty: Difficulty,
        same_shape_bases: SameShapeBases = SameShapeBases.cogelot,
    ) -> None:
        self.partition = partition
        self.difficulty = difficulty
        #: Which VIMA-Bench copy same_shape / same_texture size their base after.
        self.same_shape_bases = same_shape_bases
        self.settings: TaskSettings = task_settings(self.task, partition)
        rules = task_rules()[self.task.name]
        #: Rules of this difficulty; `common_rules`: the task's rules for every difficulty.
        self.rules: dict[str, Any] = rules["difficulties"][difficulty.value]
        self.common_rules: dict[str, Any] = rules
        self.oracle_max_steps: int = rules["oracle_max_steps"]
        self.minimum_steps: int = rules["minimum_steps"]
        self.pos_eps: float = rules["pos_eps"]
        self.world: World | None = None
        self.rng = np.random.default_rng(0)
        self.goals: list[Goal] = []
        self.all_goals: list[Goal] = []
        self.distractors: list[tuple[int, float]] = []
        self.spawned: list[Spawned] = []
        self.info: dict[int, ObjectInfo] = {}
        self.assets: dict[str, ObjectAsset | SceneAsset] = {}
        self.prompt = ""

    # -- building -----------------------------------------------------------------------------
    def build(self, world: World, rng: np.random.Generator) -> None:
        """Spawn this episode's objects and set goals, prompt and prompt assets."""
        self.world, self.rng = world, rng
        self.goals, self.all_goals, self.distractors = [], [], []
        self.spawned, self.info, self.assets, self.prompt = [], {}, {}, ""
        self.reset_scene()
        self.all_goals = list(self.goals)

    def reset_scene(self) -> None:
        """Subclasses: spawn objects, set goals, `prompt` and `assets`."""
        raise NotImplementedError

    def choice(self, options: Any) -> Any:
        """One element of a sequence, drawn with the task RNG."""
        return options[int(self.rng.integers(len(options)))]

    def random_size(self, obj: ObjectEntry) -> tuple[float, ...]:
        """A size drawn uniformly from the object's size range."""
        return tuple(float(v) for v in self.rng.uniform(obj.size_low, obj.size_high))

    def random_pose(self, size: tuple[float, ...]) -> Pose | None:
        """A collision-free pose in the workspace for an object of `size`, or None."""
        assert self.world is not None
        top = capture(self.world.client)
        free = np.ones(top.ids.shape, dtype=np.uint8)
        for body in self.world.rigid + self.world.fixed:
            free[top.ids == body] = 0
        free[0, :] = free[:, 0] = free[-1, :] = free[:, -1] = 0
        free = erode(free, round(math.hypot(size[0], size[1]) / PIXEL))
        if not free.any():
            return None
        x, y = pixel_to_xy(*sample_pixel(free, self.rng))
        theta = float(self.rng.random()) * 2 * np.pi
        return (x, y, size[2] / 2), yaw_quaternion(theta)

    def base_shapes(self) -> tuple[str, ...]:
        """Shapes a base is drawn from (the dragged shapes where the rules say so)."""
        if self.rules["base_from_dragged"]:
            return self.settings.dragged_obj
        return self.settings.base_obj

    def spawn_any(
        self, shapes: tuple[str, ...], texture: TextureEntry, what: str, *, fixed: bool = False
    ) -> Spawned:
        """An object of a random shape at a random free pose, retried a few times."""
        for _ in range(REJECT_SAMPLING_MAX_TIMES):
            obj = get_object(self.choice(shapes))
            item = self.spawn(obj, texture, self.random_size(obj), fixed=fixed)
            if item is not None:
                return item
        raise SceneSamplingError(f"Error in sampling {what}")

    def spawn_base(self, texture: TextureEntry) -> Spawned:
        """A fixed base of a random base shape at a random free pose."""
        return self.spawn_any(self.base_shapes(), texture, "base object", fixed=True)

    def scene_pose(
        self,
        size: tuple[float, ...],
        placed: list[tuple[float, float, float]],
        x_range: tuple[float, float] = (0.25, 0.75),
        y_range: tuple[float, float] = (-0.5, 0.5),
    ) -> Pose | None:
        """A random pose for a prompt-scene object, clear of `placed` (x, y, radius) footprints."""
        radius = math.hypot(size[0], size[1]) / 2
        for _ in range(REJECT_SAMPLING_MAX_TIMES * 2):
            x = float(self.rng.uniform(x_range[0] + radius, x_range[1] - radius))
            y = float(self.rng.uniform(y_range[0] + radius, y_range[1] - radius))
            if all(math.hypot(x - px, y - py) > radius + pr for px, py, pr in placed):
                placed.append((x, y, radius))
                return (x, y, size[2] / 2), yaw_quaternion(float(self.rng.random()) * 2 * np.pi)
        return None

    def spawn(
        self,
        obj: ObjectEntry,
        texture: TextureEntry,
        size: tuple[float, ...],
        pose: Pose | None = None,
        *,
        fixed: bool = False,
        scaling: float | tuple[float, ...] = 1.0,
    ) -> Spawned | None:
        """Add an object (at a random free pose unless given); None when there is no room."""
        assert self.world is not None
        scaled = (
            tuple(s * scaling for s in size)
            if isinstance(scaling, float | int)
            else tuple(a * b for a, b in zip(scaling, size, strict=True))
        )
        if pose is None:
            pose = self.random_pose(scaled)
            if pose is None:
                return None
        urdf = self.world.urdf_for(obj, scaled, scaling)
        body = self.world.add_object(obj, texture, scaled, pose, fixed=fixed, scaling=scaling)
        self.info[body] = object_info(obj, texture)
        item = Spawned(body, obj, texture, scaled, urdf, pose)
        self.spawned.append(item)
        return item

    def add_distractor(self, item: Spawned | None, symmetry: float = 0) -> bool:
        """Count a spawned object as a distractor; False when it was not spawned (no room)."""
        if item is None:
            return False
        self.distractors.append((item.body, symmetry))
        return True

    def spawn_distractors_of(self, shapes: tuple[str, ...] | list[str], count: int) -> None:
        """`count` distractors of `shapes` in dragged textures at random free poses, with a few
        extra attempts (the count is checked before each attempt, so when the last attempt
        completes it this still raises)."""
        for _ in range(count + REJECT_SAMPLING_MAX_TIMES):
            if len(self.distractors) == count:
                break
            obj = get_object(self.choice(shapes))
            texture = get_texture(self.choice(self.settings.dragged_texture))
            self.add_distractor(self.spawn(obj, texture, self.random_size(obj)))
        else:
            raise SceneSamplingError("Error in sampling distractors")

    # -- rules --------------------------------------------------------------------------------
    def pose_of(self, body: int) -> Pose:
        """Current pose of a body."""
        assert self.world is not None
        return self.world.pose(body)

    def is_match(self, pose: Pose, target: Pose, symmetry: float) -> bool:
        """xy within pos_eps and, unless position-only, yaw within 15 degrees (mod symmetry)."""
        dist = np.linalg.norm(f32(pose[0][:2]) - f32(target[0][:2]))
        if not dist < self.pos_eps:
            return False
        if self.position_only or not symmetry or symmetry <= 0:
            return True
        yaw0 = pb.getEulerFromQuaternion(pose[1])[2]
        yaw1 = pb.getEulerFromQuaternion(target[1])[2]
        diff = abs(yaw0 - yaw1) % symmetry
        if diff > symmetry / 2:
            diff = symmetry - diff
        return bool(diff < ROT_EPS)

    def goal_achieved(self, goal: Goal) -> bool:
        """Every object of the goal sits on one of its matching targets."""
        for i, (body, symmetry) in enumerate(goal.objects):
            pose = self.pose_of(body)
            if not any(
                self.is_match(pose, goal.targets[j], symmetry)
                for j in np.flatnonzero(goal.matches[i])
            ):
                return False
        return True

    def check_constraint(self) -> None:
        """Called every 50 physics ticks while the arm moves (constraint tasks override it)."""

    def after_action(self) -> None:
        """Bookkeeping after an action has settled (goal updates)."""
        self.update_goals()

    def update_goals(self) -> None:
        """Drop achieved goals: the first one if goals are in order, else any."""
        if not self.goals_in_order:
            self.goals = [g for g in self.goals if not self.goal_achieved(g)]
        elif self.goals and self.goal_achieved(self.goals[0]):
            self.goals.pop(0)

    def distractors_ok(self) -> bool:
        """VIMA-Bench's distractor check: no distractor on a target, no goal object on one."""
        for body, d_symmetry in self.distractors:
            d_pose = self.pose_of(body)
            for goal in self.all_goals:
                if any(self.is_match(d_pose, t, d_symmetry) for t in goal.targets):
                    return False
                for obj, symmetry in goal.objects:
                    if self.is_match(self.pose_of(obj), d_pose, symmetry):
                        return False
        return True

    def out_of_workspace(self, body: int) -> bool:
        """Whether a body's xy left the workspace."""
        xy = f32(self.pose_of(body)[0][:2])
        return bool(np.any(xy < WORKSPACE_LOW) or np.any(xy > WORKSPACE_HIGH))

    def check(self) -> tuple[bool, bool]:
        """(success, failure): all goals done and distractors clear; failure when a distractor
        check fails or the (first) object of a pending goal left the workspace."""
        if not self.distractors_ok():
            return False, True
        if not self.goals:
            return True, False
        return False, any(self.out_of_workspace(g.objects[0][0]) for g in self.goals)

    # -- oracle -------------------------------------------------------------------------------
    def oracle_goal(self) -> Goal | None:
        """The goal the oracle works on next."""
        return self.goals[0] if self.goals else None

    def oracle_action(self) -> dict[str, np.ndarray] | None:
        """A pick-and-place towards the next goal from privileged state (None if none left)."""
        assert self.world is not None
        goal = self.oracle_goal()
        if goal is None:
            return None
        matches = goal.matches.copy()
        for i, (body, symmetry) in enumerate(goal.objects):
            pose = self.pose_of(body)
            for j in np.flatnonzero(goal.matches[i]):
                if self.is_match(pose, goal.targets[j], symmetry):
                    matches[i, :] = 0
                    matches[:, j] = 0
        dists, nearest = [], []
        for i, (body, _) in enumerate(goal.objects):
            targets = np.flatnonzero(matches[i])
            if len(targets) == 0:
                dists.append(-1.0)
                nearest.append(-1)
                continue
            xyz = f32(self.pose_of(body)[0])
            d = np.linalg.norm(f32([goal.targets[j][0] for j in targets]) - xyz, axis=1)
            dists.append(float(d.min()))
            nearest.append(int(targets[int(np.argmin(d))]))
        order = [i for i in np.argsort(dists)[::-1] if dists[i] >= 0]
        if not order:
            return None
        top = capture(self.world.client)
        pick_i = None
        for i in order:
            if np.any(top.ids == goal.objects[i][0]):
                pick_i = i
                break
        if pick_i is None:
            return None
        body = goal.objects[pick_i][0]
        row, col = sample_pixel(top.ids == body, self.rng)
        x, y = pixel_to_xy(row, col)
        pick_pose: Pose = ((x, y, float(top.height[row, col])), (0.0, 0.0, 0.0, 1.0))
        obj_pose = self.pose_of(body)
        yaw = pb.getEulerFromQuaternion(obj_pose[1])[2]
        obj_pose = (obj_pose[0], yaw_quaternion(yaw))
        obj_to_pick = multiply(invert(pick_pose), obj_pose)
        place = multiply(self.place_target(goal, pick_i, nearest[pick_i]), invert(obj_to_pick))
        rotation = place[1] if goal.rotations else (0.0, 0.0, 0.0, 1.0)
        return {
            "pose0_position": f32(pick_pose[0][:2]),
            "pose0_rotation": f32(pick_pose[1]),
            "pose1_position": f32(place[0][:2]),
            "pose1_rotation": f32(rotation),
        }

    def place_target(self, goal: Goal, obj_index: int, target_index: int) -> Pose:
        """Target pose the oracle places an object at."""
        return goal.targets[target_index]


class OneGoalPerAction(TaskBase):
    """Goals in order where every action must achieve the next one: an action that achieves
    none fails the episode."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled = False

    def build(self, world: World, rng: np.random.Generator) -> None:
        """As TaskBase.build, with the stall flag cleared."""
        self.stalled = False
        super().build(world, rng)

    def after_action(self) -> None:
        """Update the goals; flag a stall when the action achieved none."""
        before = len(self.goals)
        self.update_goals()
        if self.goals and len(self.goals) == before:
            self.stalled = True

    def check(self) -> tuple[bool, bool]:
        """Success once every goal is achieved; failure after a stalled action."""
        if not self.goals:
            return True, False
        return False, self.stalled


@dataclass
class Registry:
    """Implemented task classes by task."""

    classes: dict[Task, type[TaskBase]] = field(default_factory=dict)

    def register(self, cls: type[TaskBase]) -> type[TaskBase]:
        """Class decorator adding a task class."""
        self.classes[cls.task] = cls
        return cls


REGISTRY = Registry()
