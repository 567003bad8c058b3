"""same_shape (T15) and same_texture (T14): objects sharing a property with the base go in it."""

from __future__ import annotations

from vima_schema.enums import SameShapeBases, Task

from vima_sim.encyclopedia import ObjectEntry, TextureEntry, get_object, get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    Goal,
    ObjectAsset,
    SceneSamplingError,
    Spawned,
    TaskBase,
)
from vima_sim.tasks.hollow import in_hollow

#: CoGeLoT's VIMA-Bench scaling of same_texture / same_shape bases (`SameShapeBases.cogelot`),
#: and the bases it leaves unscaled; upstream VIMA-Bench and VIMA-Data scale none.
BASE_SCALING = 2.5
UNSCALED_BASES = frozenset({"bowl", "pan", "pallet"})


class SameAsBase(TaskBase):
    """A base, two objects sharing a property with it, distractors that do not."""

    n_dragged = 2
    template = ""
    goals_in_order = False

    def shapes(self, base: Spawned) -> tuple[list[str], list[str]]:
        """Shapes of the dragged objects and of the distractors."""
        raise NotImplementedError

    def dragged_textures(self, base: Spawned) -> list[str]:
        """Textures the dragged objects are drawn from."""
        raise NotImplementedError

    def base_scaling(self, obj: ObjectEntry) -> float:
        """The base's scaling: `BASE_SCALING` but for bowl, pan and pallet in CoGeLoT's copy
        (`same_shape_bases` cogelot), 1 in upstream VIMA-Bench (upstream)."""
        if self.same_shape_bases is SameShapeBases.upstream or obj.name in UNSCALED_BASES:
            return 1.0
        return BASE_SCALING

    def spawn_scaled_base(self, texture: TextureEntry) -> Spawned:
        """The base: a random base shape scaled by `base_scaling` at a free pose, shapes
        redrawn while none fits. In CoGeLoT's copy scaled frames, containers and squares never
        fit the workspace, so at L1/L2 the base is a bowl; upstream, all four occur."""
        for _ in range(REJECT_SAMPLING_MAX_TIMES):
            obj = get_object(self.choice(self.base_shapes()))
            scaling = self.base_scaling(obj)
            item = self.spawn(obj, texture, self.random_size(obj), fixed=True, scaling=scaling)
            if item is not None:
                return item
        raise SceneSamplingError("Error in sampling base object")

    def reset_scene(self) -> None:
        """A base, two objects sharing its profile, distractors of other profiles."""
        base = self.spawn_scaled_base(get_texture(self.choice(self.settings.base_texture)))
        # Set on every reset: a task object is reused across episodes (VIMA-Bench's bowl rule).
        rules = self.common_rules
        self.pos_eps = rules["pos_eps_bowl"] if base.obj.name == "bowl" else rules["pos_eps"]
        same, other = self.shapes(base)
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
                texture = self.choice(self.dragged_textures(base))
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
                self.goals.append(Goal.single(item.body, base.pose))
            else:
                self.distractors.append((item.body, 0))
            if added == self.n_dragged + n_distractors:
                break
        else:
            raise SceneSamplingError("Error in sampling objects")
        self.assets = {"base_obj": ObjectAsset(base.obj, base.texture, base.urdf)}
        self.prompt = self.template


@REGISTRY.register
class SameShape(SameAsBase):
    """T15: `Put all objects with the same profile as {base_obj} into it.`"""

    task = Task.same_shape
    template = "Put all objects with the same profile as {base_obj} into it."

    def shapes(self, base: Spawned) -> tuple[list[str], list[str]]:
        """Same profile as the base / other profiles; any texture."""
        names = self.settings.dragged_obj
        same = [s for s in names if get_object(s).profile == base.obj.profile]
        return same, [s for s in names if get_object(s).profile != base.obj.profile]

    def dragged_textures(self, base: Spawned) -> list[str]:
        """Any dragged texture."""
        return list(self.settings.dragged_texture)


@REGISTRY.register
class SameTexture(SameAsBase):
    """T14: `Put all objects with the same texture as {base_obj} into it.`"""

    task = Task.same_texture
    template = "Put all objects with the same texture as {base_obj} into it."

    def shapes(self, base: Spawned) -> tuple[list[str], list[str]]:
        """Any dragged shape for both."""
        return list(self.settings.dragged_obj), list(self.settings.dragged_obj)

    def dragged_textures(self, base: Spawned) -> list[str]:
        """The base's texture."""
        return [base.texture.name]
