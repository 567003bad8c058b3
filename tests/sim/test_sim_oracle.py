"""Scripted oracles solve every task with the step counts of VIMA-Bench's summary table."""

from __future__ import annotations

import pybullet as pb
import pytest
from vima_sim import VimaEnv
from vima_sim.rollout import oracle_rollout

#: Oracle steps of the reference's summary table (section 2.4), easy difficulty.
ORACLE_STEPS: dict[str, set[int]] = {
    "visual_manipulation": {1},
    "scene_understanding": {1},
    "rotate": {1},
    "rearrange": {3},
    "rearrange_then_restore": {6},
    "novel_noun": {1},
    "twist": {1, 2},  # k objects of the named texture
    "follow_motion": {2},
    "follow_order": {2},
    "same_texture": {2},
    "same_shape": {2},
    "manipulate_old_neighbor": {2},
    "pick_in_order_then_restore": {3},
    "novel_adj": {1},
    "novel_adj_and_noun": {1},
    "sweep_without_touching": set(range(1, 15)),  # routes around the line: 1 to 3 pushes a block
}
L4_TASKS = {"same_texture", "follow_motion", "novel_adj_and_noun", "sweep_without_touching"}
#: L2 differs from L1 only in textures; L3 changes the shapes, so the oracle is checked there.
OTHER_LEVELS = ("novel_object_generalization",)


def _run(task: str, seeds: range, partition: str = "placement_generalization") -> None:
    env = VimaEnv(task, partition)
    try:
        for seed in seeds:
            result = oracle_rollout(env, seed)
            assert result.success, (task, partition, seed)
            assert result.steps in ORACLE_STEPS[task], (task, seed, result.steps)
    finally:
        env.close()


@pytest.mark.parametrize("task", sorted(ORACLE_STEPS))
def test_oracle_solves_a_seed(task: str) -> None:
    partition = "novel_task_generalization" if task in L4_TASKS else "placement_generalization"
    _run(task, range(10000, 10001), partition)


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(set(ORACLE_STEPS) - L4_TASKS))
def test_oracle_in_l3(task: str) -> None:
    _run(task, range(20000, 20001), OTHER_LEVELS[0])


def test_doing_nothing_useful_is_not_success() -> None:
    """A wrong action (an object moved somewhere else) leaves the episode unsolved."""
    env = VimaEnv("rotate")
    try:
        _obs, _info = env.reset(seed=5)
        action = env.oracle_action()
        assert action is not None
        action["pose1_rotation"] = action["pose0_rotation"]  # place without rotating
        _, _, _terminated, _, step_info = env.step(action)
        assert not step_info["success"]
    finally:
        env.close()


def test_follow_order_fails_on_a_useless_step() -> None:
    env = VimaEnv("follow_order")
    try:
        env.reset(seed=3)
        action = env.oracle_action()
        assert action is not None
        action["pose1_position"] = action["pose0_position"]  # put the block back where it was
        _, _, terminated, _, info = env.step(action)
        assert info["failure"] and terminated and not info["success"]
    finally:
        env.close()


def test_sweep_push_into_zone_and_past_the_line() -> None:
    """The spatula pushes a block into the zone; a block on the line fails the episode."""
    env = VimaEnv("sweep_without_exceeding")
    try:
        obs, info = env.reset(seed=0)
        assert obs["ee"] == 1 and info["meta"]["robot_components"] == [2, 3]
        assert min(info["meta"]["obj_id_to_info"]) == 4
        action = env.oracle_action()
        assert action is not None
        _, _, _, _, step_info = env.step(action)
        assert step_info["success"]
        env.reset(seed=0)
        task = env.task
        block = next(iter(task.points))
        line_pose = task.line[0]
        pb.resetBasePositionAndOrientation(
            block, line_pose[0], line_pose[1], physicsClientId=env.world.client
        )
        task.check_constraint()  # what the arm's tick hook runs every 50 ticks
        assert task.check() == (False, True)
    finally:
        env.close()
