"""rearrange (T4) and rearrange_then_restore (T5): match a scene image, then (T5) restore."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
from vima_schema.enums import Task

from vima_sim.encyclopedia import ObjectEntry, TextureEntry, get_object, get_texture, light_textures
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    SceneAsset,
    SceneSamplingError,
    Spawned,
    TaskBase,
)
from vima_sim.world import Pose


def _near_targets(
    pose: Pose, size: tuple[float, ...], targets: list[tuple[Pose, tuple[float, ...]]]
) -> bool:
    """VIMA-Bench's `is_distractor_needed_to_move_away`: within (sizes / 2 + 1 cm) of a target."""
    for target, target_size in targets:
        reach = max((target_size[0] + size[0]) / 2, (target_size[1] + size[1]) / 2) + 0.01
        if math.dist(pose[0][:2], target[0][:2]) <= reach:
            return True
    return False


@REGISTRY.register
class Rearrange(TaskBase):
    """T4: `Rearrange to this {scene}.`"""

    task = Task.rearrange
    restore = False
    #: Goals only the oracle pursues: distractors spawned on a target, to move off it first.
    oracle_goals: list[Goal]

    def reset_scene(self) -> None:
        """Objects spawned at their targets (the scene), then moved to other random poses."""
        n = self.rules["n_dragged"]
        items: list[Spawned] = []
        for _ in range(n * REJECT_SAMPLING_MAX_TIMES):
            obj = get_object(self.choice(self.settings.dragged_obj))
            texture = get_texture(self.choice(self.settings.dragged_texture))
            item = self.spawn(obj, texture, self.random_size(obj))
            if item is not None:
                items.append(item)
            if len(items) == n:
                break
        else:
            raise SceneSamplingError("Error in sampling dragged objects")
        targets = [item.pose for item in items]
        scene = SceneAsset([(i.obj, i.texture, i.urdf, i.pose) for i in items])
        starts: list[Pose] = []
        for item in items:
            for _ in range(REJECT_SAMPLING_MAX_TIMES):
                pose = self.random_pose(item.size)
                if pose is not None and all(
                    math.dist(pose[0][:2], t[0][:2])
                    > (max(item.size[:2]) + max(o.size[:2])) / 2 + 0.01
                    for t, o in zip(targets, items, strict=True)
                ):
                    break
            else:
                raise SceneSamplingError("Error in sampling start poses")
            assert self.world is not None
            pb.resetBasePositionAndOrientation(
                item.body, pose[0], pose[1], physicsClientId=self.world.client
            )
            starts.append(pose)
        bodies = [(item.body, 0.0) for item in items]
        self.goals.append(Goal(bodies, np.eye(n), targets))
        if self.restore:
            self.goals.append(Goal(bodies, np.eye(n), starts))
        self.all_goals = list(self.goals)
        self.oracle_goals = []
        self.spawn_workspace_distractors(items)
        self.assets = {"scene": scene}
        self.prompt = self.template()

    def spawn_workspace_distractors(self, items: list[Spawned]) -> None:
        """VIMA-Bench's rearrange distractors: shapes other than the dragged ones (without
        replacement), any light texture; each one, with the difficulty's conflict rate, sits
        exactly on a target still free of one and gets an oracle-only goal at a random pose
        clear of the targets; the others are placed clear of the targets."""
        count = self.rules["n_distractors"]
        if not count:
            return
        dragged = {item.obj.name for item in items}
        shapes = [s for s in self.settings.dragged_obj if s not in dragged]
        if len(shapes) < count:
            raise SceneSamplingError("Error in sampling distractor")
        picked = self.rng.choice(len(shapes), size=count, replace=False)
        textures = light_textures()
        names = [textures[int(i)] for i in self.rng.choice(len(textures), size=count)]
        targets = [(item.pose, item.size) for item in items]
        free = list(targets)
        for index, texture_name in zip(picked, names, strict=True):
            obj, texture = get_object(shapes[int(index)]), get_texture(texture_name)
            if self.rng.random() < self.rules["conflict_rate"] and free:
                placed = self._conflict_distractor(obj, texture, targets, free)
            else:
                placed = self._clear_distractor(obj, texture, targets)
            if not placed:
                raise SceneSamplingError("Error in sampling distractor")

    def _conflict_distractor(
        self,
        obj: ObjectEntry,
        texture: TextureEntry,
        targets: list[tuple[Pose, tuple[float, ...]]],
        free: list[tuple[Pose, tuple[float, ...]]],
    ) -> bool:
        for _ in range(REJECT_SAMPLING_MAX_TIMES * 2):
            size = self.random_size(obj)
            conflict = int(self.rng.integers(len(free)))
            away = self.random_pose(size)
            if away is None or _near_targets(away, size, targets):
                continue
            item = self.spawn(obj, texture, size, free[conflict][0])
            if item is None:
                continue
            free.pop(conflict)
            self.add_distractor(item)
            self.oracle_goals.append(Goal.single(item.body, away))
            return True
        return False

    def _clear_distractor(
        self, obj: ObjectEntry, texture: TextureEntry, targets: list[tuple[Pose, tuple[float, ...]]]
    ) -> bool:
        for _ in range(REJECT_SAMPLING_MAX_TIMES * 2):
            size = self.random_size(obj)
            pose = self.random_pose(size)
            if pose is None or _near_targets(pose, size, targets):
                continue
            if self.add_distractor(self.spawn(obj, texture, size, pose)):
                return True
        return False

    def after_action(self) -> None:
        """Drop met goals; the oracle-only goals (distractors moved off targets) too."""
        self.oracle_goals = [g for g in self.oracle_goals if not self.goal_achieved(g)]
        super().after_action()

    def oracle_goal(self) -> Goal | None:
        """First clear the targets of distractors sitting on them, as VIMA-Bench's oracle does."""
        return self.oracle_goals[0] if self.oracle_goals else super().oracle_goal()

    def template(self) -> str:
        """The instruction."""
        return "Rearrange to this {scene}."

    def check(self) -> tuple[bool, bool]:
        """Success when every goal is met; distractors are checked only then."""
        if self.goals:
            return False, any(self.out_of_workspace(b) for b, _ in self.goals[0].objects)
        if not self.distractors_ok():
            return False, True
        return True, False


@REGISTRY.register
class RearrangeThenRestore(Rearrange):
    """T5: `Rearrange objects to this setup {scene} and then restore.`"""

    task = Task.rearrange_then_restore
    restore = True

    def template(self) -> str:
        """The instruction."""
        return "Rearrange objects to this setup {scene} and then restore."
