"""rearrange (T4) and rearrange_then_restore (T5): match a scene image, then (T5) restore."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
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


@REGISTRY.register
class Rearrange(TaskBase):
    """T4: `Rearrange to this {scene}.`"""

    task = Task.rearrange
    restore = False

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
        self.spawn_distractors_of(self.settings.dragged_obj, self.rules["n_distractors"])
        self.assets = {"scene": scene}
        self.prompt = self.template()

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
