"""twist (T9): rotate every object of a named texture by an angle shown only by examples."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from vima_schema.enums import Task

from vima_sim.encyclopedia import get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    Goal,
    SceneAsset,
    Spawned,
    TaskBase,
)
from vima_sim.world import yaw_quaternion

N_EXAMPLES = 3
#: Centre region of the example scenes: x within 0.0625 m of 0.5, y within 0.375 m of 0.
EXAMPLE_X, EXAMPLE_Y = (0.4375, 0.5625), (-0.375, 0.375)


@REGISTRY.register
class Twist(TaskBase):
    """T9: `"Twist" is defined as rotating object a specific angle. For examples: From
    {before_twist_1} to {after_twist_1}. ... Now twist all <texture> objects.`"""

    task = Task.twist
    position_only = False

    goals_in_order = False

    def reset_scene(self) -> None:
        """Objects, k of them in the named texture; three before/after example pairs."""
        angle = np.deg2rad(int(self.choice(self.rules["angles"])))
        n = self.rules["n_objects"]
        k = int(self.rng.integers(1, n))  # 1 .. n - 1 objects to twist
        textures = list(self.settings.dragged_texture)
        named = self.choice(textures)
        others = [t for t in textures if t != named]
        targets: list[Spawned] = []
        for i in range(n):
            texture = named if i < k else self.choice(others)
            item = self.spawn_any(self.settings.dragged_obj, get_texture(texture), "objects")
            symmetry = item.obj.symmetry or 0
            if i < k:
                targets.append(item)
                yaw = pb.getEulerFromQuaternion(item.pose[1])[2]
                goal_pose = (item.pose[0], yaw_quaternion(yaw - angle))
                self.goals.append(Goal.single(item.body, goal_pose, symmetry))
            else:
                self.distractors.append((item.body, symmetry))
        self.all_goals = list(self.goals)
        self.assets = {}
        parts = []
        for e in range(1, N_EXAMPLES + 1):
            example = self.choice(targets)
            texture = get_texture(self.choice(others))
            x = float(self.rng.uniform(*EXAMPLE_X))
            y = float(self.rng.uniform(*EXAMPLE_Y))
            yaw = float(self.rng.random()) * 2 * np.pi
            z = 0.0  # VIMA-Bench puts the example's origin on the table
            before = ((x, y, z), yaw_quaternion(yaw))
            after = ((x, y, z), yaw_quaternion(yaw - angle))
            self.assets[f"before_twist_{e}"] = SceneAsset(
                [(example.obj, texture, example.urdf, before)]
            )
            self.assets[f"after_twist_{e}"] = SceneAsset(
                [(example.obj, texture, example.urdf, after)]
            )
            parts.append(f"From {{before_twist_{e}}} to {{after_twist_{e}}}.")
        self.prompt = (
            '"Twist" is defined as rotating object a specific angle. For examples: '
            + " ".join(parts)
            + f" Now twist all {named} objects."
        )
