"""follow_motion (T10): move an object along the waypoints the prompt's frames show."""

from __future__ import annotations

import math

from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import REGISTRY, Goal, ObjectAsset, OneGoalPerAction, SceneAsset
from vima_sim.world import yaw_quaternion

CENTRE = (0.5, 0.0)
RADIUS = 0.19
N_MOVES = 2


@REGISTRY.register
class FollowMotion(OneGoalPerAction):
    """T10: `Follow this motion for {dragged_obj}: {frame_0} {frame_1} {frame_2}.`"""

    task = Task.follow_motion

    def reset_scene(self) -> None:
        """Object on a circle point, distractors at the centre, a 2-move walk on the circle."""
        n_points = self.rules["n_points"]
        points = [
            (CENTRE[0] + RADIUS * math.cos(2 * math.pi * i / n_points),
             CENTRE[1] + RADIUS * math.sin(2 * math.pi * i / n_points))
            for i in range(n_points)
        ]  # fmt: skip
        walk = [int(self.rng.integers(n_points))]
        for _ in range(N_MOVES):
            walk.append((walk[-1] + int(self.choice([-1, 1]))) % n_points)
        obj = get_object(self.choice(self.settings.dragged_obj))
        texture = get_texture(self.choice(self.settings.dragged_texture))
        size = self.random_size(obj)
        flat = yaw_quaternion(0.0)

        def at(i: int) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
            return (points[i][0], points[i][1], size[2] / 2), flat

        item = self.spawn(obj, texture, size, at(walk[0]))
        assert item is not None
        others = [s for s in self.settings.dragged_obj if s != obj.name]
        scene_extra = []
        for _ in range(self.rules["n_distractors"]):
            d_obj = get_object(self.choice(others))
            d_tex = get_texture(self.choice(self.settings.dragged_texture))
            d_size = self.random_size(d_obj)
            pose = ((CENTRE[0], CENTRE[1], d_size[2] / 2), flat)
            d_item = self.spawn(d_obj, d_tex, d_size, pose)
            assert d_item is not None
            scene_extra.append((d_obj, d_tex, d_item.urdf, pose))
        for i in walk[1:]:
            self.goals.append(Goal.single(item.body, at(i)))
        self.all_goals = list(self.goals)
        self.assets = {"dragged_obj": ObjectAsset(obj, texture, item.urdf)}
        for f, i in enumerate(walk):
            self.assets[f"frame_{f}"] = SceneAsset([(obj, texture, item.urdf, at(i)), *scene_extra])
        frames = " ".join(f"{{frame_{f}}}" for f in range(len(walk)))
        self.prompt = f"Follow this motion for {{dragged_obj}}: {frames}."
