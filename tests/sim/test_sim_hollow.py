"""The hollow-base placement rule shared by the put-into tasks (no physics needed)."""

from __future__ import annotations

from vima_sim.encyclopedia import NEUTRAL_GRAY, get_object
from vima_sim.tasks.base import Spawned
from vima_sim.tasks.hollow import hollow_conflict, in_hollow, inside_hollow_base

FLAT = (0.0, 0.0, 0.0, 1.0)


def _spawned(shape: str, x: float, y: float, size: tuple[float, ...]) -> Spawned:
    return Spawned(-1, get_object(shape), NEUTRAL_GRAY, size, "", ((x, y, size[2] / 2), FLAT))


def test_in_hollow_uses_half_summed_sizes_plus_a_centimetre() -> None:
    frame = _spawned("frame", 0.5, 0.0, (0.2, 0.1, 0.02))
    # x reach: (0.2 + 0.04) / 2 + 0.01 = 0.13 m
    assert in_hollow((((0.62, 0.0, 0.0), FLAT), (0.04, 0.04, 0.04)), frame)
    assert not in_hollow((((0.64, 0.0, 0.0), FLAT), (0.04, 0.04, 0.04)), frame)


def test_only_hollow_bases_reject_objects_inside() -> None:
    near = (((0.52, 0.01, 0.0), FLAT), (0.04, 0.04, 0.04))
    assert inside_hollow_base(near, _spawned("frame", 0.5, 0.0, (0.2, 0.2, 0.02)))
    assert not inside_hollow_base(near, _spawned("pallet", 0.5, 0.0, (0.2, 0.2, 0.02)))


def test_hollow_conflict_checks_new_bases_against_dragged_objects() -> None:
    base = _spawned("pallet", 0.3, -0.3, (0.1, 0.1, 0.02))
    dragged = [_spawned("block", 0.6, 0.2, (0.04, 0.04, 0.04))]
    around_dragged = (((0.6, 0.21, 0.01), FLAT), (0.2, 0.2, 0.02))
    assert hollow_conflict(around_dragged, "square", True, base, dragged)
    assert not hollow_conflict(around_dragged, "pallet", True, base, dragged)
    # a loose object is only checked against the task's base, which is not hollow here
    assert not hollow_conflict(around_dragged, "square", False, base, dragged)


def test_same_shape_tolerance_is_set_on_every_reset() -> None:
    """A bowl base narrows the placement tolerance for its episode only: the task object is
    reused across resets, so a non-bowl episode after a bowl one gets the task's own back."""
    from vima_sim import VimaEnv

    env = VimaEnv("same_texture", "novel_task_generalization")
    try:
        bases: list[tuple[str, float]] = []
        for seed in range(20):
            env.reset(seed=seed)
            bases.append((env.task.spawned[0].obj.name, env.task.pos_eps))  # base spawned first
    finally:
        env.close()
    rules = env.task.common_rules
    names = [name for name, _ in bases]
    assert "bowl" in names[:-1] and set(names[names.index("bowl") :]) - {"bowl"}, names
    for name, eps in bases:
        assert eps == (rules["pos_eps_bowl"] if name == "bowl" else rules["pos_eps"]), bases
