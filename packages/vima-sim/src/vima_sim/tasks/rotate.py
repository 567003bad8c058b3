"""rotate (T3): rotate an object clockwise by a given angle in place."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    ObjectAsset,
    SceneSamplingError,
    TaskBase,
)
from vima_sim.world import yaw_quaternion


@REGISTRY.register
class Rotate(TaskBase):
    """T3: `Rotate the {dragged_obj} <angle> degrees.` (clockwise seen from above)."""

    task = Task.rotate
    position_only = False

    def reset_scene(self) -> None:
        """One asymmetric object, its rotated target, distractors with other textures."""
        angle = int(self.choice(self.rules["angles"]))
        texture = self.choice(self.settings.dragged_texture)
        dragged = self.spawn_any(self.settings.dragged_obj, get_texture(texture), "dragged object")
        yaw = pb.getEulerFromQuaternion(dragged.pose[1])[2]
        target = (dragged.pose[0], yaw_quaternion(yaw - np.deg2rad(angle)))
        symmetry = dragged.obj.symmetry or 0
        self.goals.append(Goal.single(dragged.body, target, symmetry))
        self.all_goals = list(self.goals)
        others = [t for t in self.settings.dragged_texture if t != texture]
        count = self.rules["n_distractors"]
        for _ in range(count + REJECT_SAMPLING_MAX_TIMES):
            obj = get_object(self.choice(self.settings.dragged_obj))
            item = self.spawn(obj, get_texture(self.choice(others)), self.random_size(obj))
            if self.add_distractor(item, obj.symmetry or 0) and len(self.distractors) == count:
                break
        else:
            raise SceneSamplingError("Error in sampling distractors")
        self.assets = {"dragged_obj": ObjectAsset(dragged.obj, dragged.texture, dragged.urdf)}
        self.prompt = f"Rotate the {{dragged_obj}} {angle} degrees."
