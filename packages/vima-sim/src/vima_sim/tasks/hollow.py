"""Hollow bases (frame, square): VIMA-Bench's rough 2-D rule that no loose object may start
inside one, and the dragged-object placement that follows it."""

from __future__ import annotations

import numpy as np

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import (
    REJECT_SAMPLING_MAX_TIMES,
    SceneSamplingError,
    Spawned,
    TaskBase,
    f32,
)
from vima_sim.world import Pose

HOLLOW_BASES = ("frame", "square")

#: Where an object is or would be: (pose, size).
Footprint = tuple[Pose, tuple[float, ...]]


def in_hollow(a: Spawned | Footprint, b: Spawned | Footprint) -> bool:
    """Whether the xy centres of `a` and `b` are within half their summed sizes (+1 cm)."""
    pose_a, size_a = (a.pose, a.size) if isinstance(a, Spawned) else a
    pose_b, size_b = (b.pose, b.size) if isinstance(b, Spawned) else b
    dist = float(np.linalg.norm(f32(pose_a[0][:2]) - f32(pose_b[0][:2])))
    return dist <= max((size_a[0] + size_b[0]) / 2 + 0.01, (size_a[1] + size_b[1]) / 2 + 0.01)


def inside_hollow_base(candidate: Footprint, base: Spawned) -> bool:
    """Whether an object at `candidate` would lie in `base`, when the base is hollow."""
    return base.obj.name in HOLLOW_BASES and in_hollow(candidate, base)


def hollow_conflict(
    candidate: Footprint, shape: str, as_base: bool, base: Spawned, dragged: list[Spawned]
) -> bool:
    """Whether a distractor at `candidate` breaks the hollow rule: as a base, a hollow one
    around a dragged object; as a loose object, inside the (hollow) base."""
    if as_base:
        return shape in HOLLOW_BASES and any(in_hollow(d, candidate) for d in dragged)
    return inside_hollow_base(candidate, base)


class IntoBaseTask(TaskBase):
    """A task whose dragged objects go into a fixed base and must not start inside it."""

    def spawn_dragged(self, base: Spawned, textures: list[str]) -> list[Spawned]:
        """Dragged objects at random poses outside hollow bases."""
        out: list[Spawned] = []
        for _ in range(REJECT_SAMPLING_MAX_TIMES):
            obj = get_object(self.choice(self.settings.dragged_obj))
            size = self.random_size(obj)
            pose = self.random_pose(size)
            if pose is None or inside_hollow_base((pose, size), base):
                continue
            item = self.spawn(obj, get_texture(textures[len(out)]), size, pose)
            if item is not None:
                out.append(item)
            if len(out) == len(textures):
                return out
        raise SceneSamplingError("Error in sampling dragged object")
