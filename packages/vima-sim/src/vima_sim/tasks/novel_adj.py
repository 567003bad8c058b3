"""novel_adj (T6) and novel_adj_and_noun (T8): a made-up adjective learnt from three examples."""

from __future__ import annotations

from vima_schema.enums import Task

from vima_sim.encyclopedia import (
    NEUTRAL_GRAY,
    ObjectEntry,
    TextureEntry,
    get_object,
    get_texture,
    opposite_shade,
    textures,
)
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    ObjectAsset,
    SceneSamplingError,
    Spawned,
    TaskBase,
)
from vima_sim.tasks.hollow import inside_hollow_base

Variant = tuple[float, str]  # (z scale, texture name)


@REGISTRY.register
class NovelAdj(TaskBase):
    """T6: `{demo_blicker_obj_1} is <adj> than {demo_less_blicker_obj_1}. ... Put the
    [less ]<adj> {dragged_obj} into the {base_obj}.`"""

    task = Task.novel_adj

    def shaded_textures(self) -> list[str]:
        """Dragged textures that have a light/dark counterpart."""
        known = textures()
        return [t for t in self.settings.dragged_texture if opposite_shade(t) in known]

    def variants(self, texture: str, attribute: str) -> tuple[Variant, Variant]:
        """(more, less) versions of an object for the adjective's hidden meaning."""
        low, high = self.common_rules["short_scale"]
        short = float(self.rng.uniform(low, high))
        tall = short + self.common_rules["tall_offset"]
        light = texture[5:] if texture.startswith("dark ") else texture
        dark = f"dark {light}"
        return {
            "taller": ((tall, texture), (short, texture)),
            "shorter": ((short, texture), (tall, texture)),
            "darker": ((1.0, dark), (1.0, light)),
            "lighter": ((1.0, light), (1.0, dark)),
        }[attribute]

    def urdf(self, obj: ObjectEntry, size: tuple[float, ...], z_scale: float) -> str:
        """URDF of `obj` with its height scaled."""
        assert self.world is not None
        scaling = (1.0, 1.0, z_scale)
        scaled = (size[0], size[1], size[2] * z_scale)
        return self.world.urdf_for(obj, scaled, scaling)

    def reset_scene(self) -> None:
        """Demonstrations, base, target and its opposite, distractors, prompt."""
        r = self.rules
        attribute = self.choice(["taller", "shorter", "darker", "lighter"])
        adjective = self.choice(r["adjectives"])
        less = bool(self.rng.random() < 0.5)
        shaded = self.shaded_textures()
        if not shaded:
            raise SceneSamplingError("no dragged texture with a light and a dark variant")
        self.assets = {}
        demo_parts = []
        for i in range(1, r["n_demos"] + 1):
            obj = get_object(self.choice(self.settings.dragged_obj))
            size = self.random_size(obj)
            more, fewer = self.variants(self.choice(shaded), attribute)
            for name, (z, tex) in (
                (f"demo_blicker_obj_{i}", more),
                (f"demo_less_blicker_obj_{i}", fewer),
            ):
                self.assets[name] = ObjectAsset(obj, get_texture(tex), self.urdf(obj, size, z))
            demo_parts.append(
                f"{{demo_blicker_obj_{i}}} is {adjective} than {{demo_less_blicker_obj_{i}}}."
            )
        base = self.spawn_base(get_texture(self.choice(self.settings.base_texture)))
        shape = get_object(self.choice(self.settings.dragged_obj))
        size = self.random_size(shape)
        more, fewer = self.variants(self.choice(shaded), attribute)
        target_variant, confusion_variant = (fewer, more) if less else (more, fewer)
        target = self._place(shape, size, target_variant, base)
        self.goals.append(Goal.single(target.body, base.pose))
        self.all_goals = list(self.goals)
        confusion = self._place(shape, size, confusion_variant, base)
        self.distractors.append((confusion.body, 0))
        for _ in range(r["n_attribute_distractors"]):
            other = get_object(
                self.choice([s for s in self.settings.dragged_obj if s != shape.name])
            )
            item = self._place(other, self.random_size(other), target_variant, base)
            self.distractors.append((item.body, 0))
        self._geometric_distractors(shape, base, r["n_distractors"])
        dragged_urdf = self.urdf(shape, size, 1.0)
        self.assets["dragged_obj"] = ObjectAsset(shape, NEUTRAL_GRAY, dragged_urdf)
        self.assets["base_obj"] = ObjectAsset(base.obj, NEUTRAL_GRAY, base.urdf)
        adverb = "less " if less else ""
        self.prompt = " ".join(
            [*self.definitions(), *demo_parts, self.instruction(adverb, adjective)]
        )

    def definitions(self) -> list[str]:
        """Sentences before the demonstrations (none for T6)."""
        return []

    def instruction(self, adverb: str, adjective: str) -> str:
        """The final sentence."""
        return f"Put the {adverb}{adjective} {{dragged_obj}} into the {{base_obj}}."

    def _place(
        self, obj: ObjectEntry, size: tuple[float, ...], variant: Variant, base: Spawned
    ) -> Spawned:
        z, texture = variant
        scaled = (size[0], size[1], size[2] * z)
        for _ in range(REJECT_SAMPLING_MAX_TIMES):
            pose = self.random_pose(scaled)
            if pose is None or inside_hollow_base((pose, scaled), base):
                continue
            item = self.spawn(obj, get_texture(texture), size, pose, scaling=(1.0, 1.0, z))
            if item is not None:
                return item
        raise SceneSamplingError("Error in sampling dragged objects")

    def _geometric_distractors(self, shape: ObjectEntry, base: Spawned, count: int) -> None:
        others = [s for s in self.settings.dragged_obj if s != shape.name]
        for _ in range(count + REJECT_SAMPLING_MAX_TIMES):
            if count == 0:
                return
            obj = get_object(self.choice(others))
            texture: TextureEntry = get_texture(self.choice(self.settings.dragged_texture))
            size = self.random_size(obj)
            pose = self.random_pose(size)
            if pose is None or inside_hollow_base((pose, size), base):
                continue
            if self.add_distractor(self.spawn(obj, texture, size, pose)):
                count -= 1
        if count:
            raise SceneSamplingError("Error in sampling distractors")


@REGISTRY.register
class NovelAdjAndNoun(NovelAdj):
    """T8: two noun definitions, three adjective demonstrations, `Put the [less ]<adj> <noun>
    into the <noun>.`"""

    task = Task.novel_adj_and_noun

    def definitions(self) -> list[str]:
        """The two noun definitions in random order (nouns drawn without replacement)."""
        nouns = list(self.rules["nouns"])
        picked = self.rng.choice(len(nouns), size=2, replace=False)
        self._dragged_noun, self._base_noun = nouns[int(picked[0])], nouns[int(picked[1])]
        parts = [
            f"This is a {self._dragged_noun} {{dragged_obj}}.",
            f"This is a {self._base_noun} {{base_obj}}.",
        ]
        if self.rng.random() < 0.5:
            parts.reverse()
        return parts

    def instruction(self, adverb: str, adjective: str) -> str:
        """The final sentence, with the nouns instead of images."""
        return f"Put the {adverb}{adjective} {self._dragged_noun} into the {self._base_noun}."
