"""same_shape (T15): put every object with the base's profile into the base."""

from __future__ import annotations

import numpy as np
from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    ObjectAsset,
    SceneSamplingError,
    Spawned,
    TaskBase,
)
from vima_sim.tasks.put_into import in_hollow


@REGISTRY.register
class SameShape(TaskBase):
    """T15: `Put all objects with the same profile as {base_obj} into it.`"""

    task = Task.same_shape
    n_dragged = 2

    def update_goals(self) -> None:
        """Every goal is checked at every step (any order)."""
        self.goals = [g for g in self.goals if not self.goal_achieved(g)]

    def check(self) -> tuple[bool, bool]:
        """Distractor check; success once all goals are done; failure off the workspace."""
        if not self.distractors_ok():
            return False, True
        if not self.goals:
            return True, False
        return False, any(self.out_of_workspace(g.objects[0][0]) for g in self.goals)

    def reset_scene(self) -> None:
        """A base, two objects sharing its profile, distractors of other profiles."""
        base_texture = get_texture(self.choice(self.settings.base_texture))
        shapes = (
            self.settings.dragged_obj if self.rules["base_from_dragged"] else self.settings.base_obj
        )
        base: Spawned | None = None
        for _ in range(REJECT_SAMPLING_MAX_TIMES):
            obj = get_object(self.choice(shapes))
            base = self.spawn(obj, base_texture, self.random_size(obj), fixed=True)
            if base is not None:
                break
        if base is None:
            raise SceneSamplingError("Error in sampling base object")
        if base.obj.name == "bowl":
            self.pos_eps = self._rules["pos_eps_bowl"]
        profile = base.obj.profile
        same = [s for s in self.settings.dragged_obj if get_object(s).profile == profile]
        other = [s for s in self.settings.dragged_obj if get_object(s).profile != profile]
        if not same:
            raise SceneSamplingError(f"no dragged shape shares the profile of {base.obj.name}")
        n_distractors = self.rules["n_distractors"]
        used_textures: list[str] = []
        added = 0
        for _ in range(REJECT_SAMPLING_MAX_TIMES * 2):
            dragged = added < self.n_dragged
            obj = get_object(self.choice(same if dragged else other))
            size = self.random_size(obj)
            pose = self.random_pose(size)
            if pose is None or in_hollow((pose, size), base):
                continue
            if dragged:
                texture = self.choice(self.settings.dragged_texture)
            else:
                texture = self.choice(
                    [t for t in self.settings.dragged_texture if t not in used_textures]
                )
            item = self.spawn(obj, get_texture(texture), size, pose)
            if item is None:
                continue
            added += 1
            if dragged:
                used_textures.append(texture)
                self.goals.append(Goal([(item.body, 0)], np.ones((1, 1)), [base.pose]))
            else:
                self.distractors.append((item.body, 0))
            if added == self.n_dragged + n_distractors:
                break
        else:
            raise SceneSamplingError("Error in sampling objects")
        self.assets = {"base_obj": ObjectAsset(base.obj, base.texture, base.urdf)}
        self.prompt = "Put all objects with the same profile as {base_obj} into it."
