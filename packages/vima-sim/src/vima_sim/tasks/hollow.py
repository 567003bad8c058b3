"""VIMA-Bench's rough 2-D rule for hollow bases (frame, square): nothing may start inside one."""

from __future__ import annotations

import numpy as np

from vima_sim.tasks.base import Spawned, f32
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
