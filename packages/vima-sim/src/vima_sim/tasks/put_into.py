"""visual_manipulation (T1) and novel_noun (T7): put one object into a base."""

from __future__ import annotations

import itertools

from vima_schema.enums import Task

from vima_sim.encyclopedia import NEUTRAL_GRAY, get_object, get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    ObjectAsset,
    SceneSamplingError,
    Spawned,
)
from vima_sim.tasks.hollow import IntoBaseTask, hollow_conflict


class PutInto(IntoBaseTask):
    """A base, one dragged object and distractors; the dragged object goes into the base."""

    neutral_color = False
    exclude_distractor_by_geometry = False

    def spawn_distractors(self, base: Spawned, dragged: list[Spawned], count: int) -> None:
        """Distractors: shape x texture combinations other than the base's and dragged ones."""
        if count == 0:
            return
        shapes = list(self.settings.dragged_obj) + list(self.base_shapes())
        textures = list(self.settings.dragged_texture) + list(self.settings.base_texture)
        dragged_shapes = {d.obj.name for d in dragged}
        dragged_textures = {d.texture.name for d in dragged}
        combos = []
        for shape, texture in itertools.product(shapes, textures):
            if shape == base.obj.name and texture == base.texture.name:
                continue
            if shape in dragged_shapes and texture in dragged_textures:
                continue
            if self.exclude_distractor_by_geometry and (
                shape == base.obj.name or shape in dragged_shapes
            ):
                continue
            combos.append((shape, texture))
        base_shapes = set(self.base_shapes())
        for _ in range(count + REJECT_SAMPLING_MAX_TIMES):
            shape, texture = self.choice(combos)
            obj = get_object(shape)
            size = self.random_size(obj)
            pose = self.random_pose(size)
            if pose is None:
                continue
            is_base = shape in base_shapes
            if hollow_conflict((pose, size), shape, is_base, base, dragged):
                continue
            item = self.spawn(obj, get_texture(texture), size, pose, fixed=is_base)
            if self.add_distractor(item) and len(self.distractors) == count:
                return
        raise SceneSamplingError("Error in sampling distractors")

    def asset(self, item: Spawned) -> ObjectAsset:
        """The prompt image of a spawned object (neutral gray when the task wants it)."""
        return ObjectAsset(
            item.obj, NEUTRAL_GRAY if self.neutral_color else item.texture, item.urdf
        )

    def reset_scene(self) -> None:
        """Base, dragged object, goal, distractors and prompt."""
        base_texture = self.choice(self.settings.base_texture)
        dragged_texture = self.choice(self.settings.dragged_texture)
        base = self.spawn_base(get_texture(base_texture))
        (dragged,) = self.spawn_dragged(base, [dragged_texture])
        self.goals.append(Goal.single(dragged.body, base.pose))
        self.all_goals = list(self.goals)
        self.spawn_distractors(base, [dragged], self.rules["n_distractors"])
        self.assets = {"base_obj": self.asset(base), "dragged_obj_1": self.asset(dragged)}
        self.prompt = self.make_prompt(base, dragged)

    def make_prompt(self, base: Spawned, dragged: Spawned) -> str:
        """The instruction."""
        return "Put the {dragged_obj_1} into the {base_obj}."


@REGISTRY.register
class VisualManipulation(PutInto):
    """T1: `Put the {dragged_obj_1} into the {base_obj}.`"""

    task = Task.visual_manipulation


@REGISTRY.register
class NovelNoun(PutInto):
    """T7: two made-up nouns defined by grey images, then `Put a <noun> into a <noun>.`"""

    task = Task.novel_noun
    neutral_color = True
    exclude_distractor_by_geometry = True

    def make_prompt(self, base: Spawned, dragged: Spawned) -> str:
        """Definitions in random order, then the instruction."""
        names = list(self.rules["novel_names"])
        picked = self.rng.choice(len(names), size=2, replace=False)
        base_name, dragged_name = names[int(picked[0])], names[int(picked[1])]
        definitions = [
            f"This is a {base_name} {{base_obj}}.",
            f"This is a {dragged_name} {{dragged_obj_1}}.",
        ]
        if self.rng.random() < 0.5:
            definitions.reverse()
        return " ".join([*definitions, f"Put a {dragged_name} into a {base_name}."])
