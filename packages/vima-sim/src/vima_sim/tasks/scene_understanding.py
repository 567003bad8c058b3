"""scene_understanding (T2): put the object of a texture, shown in a scene, into a base."""

from __future__ import annotations

import itertools

from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    SceneAsset,
    SceneSamplingError,
    Spawned,
)
from vima_sim.tasks.hollow import IntoBaseTask, hollow_conflict


@REGISTRY.register
class SceneUnderstanding(IntoBaseTask):
    """T2: `Put the <texture> object in {scene} into the <texture> object.`"""

    task = Task.scene_understanding
    goals_in_order = False

    def reset_scene(self) -> None:
        """Base and dragged object of two textures, a scene image, workspace distractors."""
        base_tex, dragged_tex = "", ""
        while base_tex == dragged_tex:
            base_tex = self.choice(self.settings.base_texture)
            dragged_tex = self.choice(self.settings.dragged_texture)
        base = self.spawn_base(get_texture(base_tex))
        (dragged,) = self.spawn_dragged(base, [dragged_tex])
        self.goals.append(Goal.single(dragged.body, base.pose))
        self.all_goals = list(self.goals)
        self.assets = {"scene": self._scene(dragged, base_tex)}
        self._workspace_distractors(base, dragged, base_tex, dragged_tex)
        self.prompt = f"Put the {dragged_tex} object in {{scene}} into the {base_tex} object."

    def _scene(self, dragged: Spawned, base_tex: str) -> SceneAsset:
        """The dragged object and scene distractors at random poses of an otherwise empty scene."""
        placed: list[tuple[float, float, float]] = []
        pose = self.scene_pose(dragged.size, placed)
        if pose is None:
            raise SceneSamplingError("Error in sampling the scene")
        objects = [(dragged.obj, dragged.texture, dragged.urdf, pose)]
        shapes = list(self.settings.dragged_obj) + list(self.base_shapes())
        textures = [
            t
            for t in itertools.chain(self.settings.dragged_texture, self.settings.base_texture)
            if t != dragged.texture.name
        ]
        for _ in range(self.rules["n_scene_distractors"]):
            obj = get_object(self.choice(shapes))
            texture = get_texture(self.choice(textures))
            size = self.random_size(obj)
            pose = self.scene_pose(size, placed)
            if pose is None:
                continue
            assert self.world is not None
            objects.append((obj, texture, self.world.urdf_for(obj, size), pose))
        return SceneAsset(objects)

    def _workspace_distractors(
        self, base: Spawned, dragged: Spawned, base_tex: str, dragged_tex: str
    ) -> None:
        """Other shapes in the dragged texture, or the base shape in another texture."""
        count = self.rules["n_distractors"]
        other_dragged = [s for s in self.settings.dragged_obj if s != dragged.obj.name]
        all_textures = list(self.settings.dragged_texture) + list(self.settings.base_texture)
        for _ in range(count + 2 * REJECT_SAMPLING_MAX_TIMES):
            as_base = self.rng.random() >= 0.5
            obj = get_object(base.obj.name if as_base else self.choice(other_dragged))
            size = self.random_size(obj)
            pose = self.random_pose(size)
            if pose is None or hollow_conflict((pose, size), obj.name, as_base, base, [dragged]):
                continue
            if as_base:
                texture = self.choice([t for t in all_textures if t != base_tex])
            else:
                texture = dragged_tex
            item = self.spawn(obj, get_texture(texture), size, pose, fixed=as_base)
            if self.add_distractor(item) and len(self.distractors) == count:
                return
        raise SceneSamplingError("Error in sampling distractors")
