"""Closed-form UR5 inverse kinematics against pybullet's forward kinematics and IK."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest
from vima_sim import ur5_ik
from vima_sim.robot import EE_TIP_LINK, IK_LIMITS, IK_LOWER, IK_RANGES, IK_UPPER, Arm
from vima_sim.world import HOME_JOINTS, World


@pytest.fixture(scope="module")
def world():
    w = World()
    w.reset()
    yield w
    w.close()


def _set(world: World, joints: np.ndarray) -> None:
    for joint, value in zip(world.joints, joints, strict=True):
        pb.resetJointState(world.ur5, joint, float(value), physicsClientId=world.client)


def _tip(world: World, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _set(world, joints)
    state = pb.getLinkState(
        world.ur5, EE_TIP_LINK, computeForwardKinematics=1, physicsClientId=world.client
    )
    rotation = np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)
    return np.array(state[4]), rotation


def _targets(n: int, seed: int) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        position = (rng.uniform(0.3, 0.7), rng.uniform(-0.4, 0.4), rng.uniform(0.0, 0.32))
        out.append((position, pb.getQuaternionFromEuler((0, 0, rng.uniform(-np.pi, np.pi)))))
    return out


def test_every_solution_reaches_the_pose(world: World) -> None:
    for position, orientation in _targets(25, 0):
        rotation = ur5_ik.quaternion_matrix(orientation) @ ur5_ik.FLIP
        found = ur5_ik.solutions(position, rotation)
        assert len(found) >= 4  # the other shoulder branch can be out of reach
        for joints in found:
            tip, tip_rotation = _tip(world, np.asarray(joints))
            assert np.abs(tip - position).max() < 1e-6
            assert np.abs(tip_rotation - rotation).max() < 1e-6
    _set(world, HOME_JOINTS)


def test_matches_pybullets_iterative_ik_from_home(world: World) -> None:
    """Same branch and, within pybullet's own residual, the same angles as VIMA-Bench's IK."""
    arm = Arm(world)
    for position, orientation in _targets(25, 1):
        _set(world, HOME_JOINTS)
        iterative = pb.calculateInverseKinematics(
            world.ur5, EE_TIP_LINK, position, orientation, maxNumIterations=100,
            residualThreshold=1e-5, physicsClientId=world.client,
        )  # fmt: skip
        want = np.asarray(iterative)
        want[2:] = (want[2:] + np.pi) % (2 * np.pi) - np.pi
        got = arm.solve_ik((position, orientation))
        assert np.abs(got - want).max() < 0.03, (position, got, want)
    _set(world, HOME_JOINTS)


def test_out_of_reach_and_bad_rotation() -> None:
    assert ur5_ik.solve((3.0, 0.0, 0.1), (0, 0, 0, 1), HOME_JOINTS, IK_LIMITS) is None
    assert ur5_ik.solve((0.0, 0.0, 0.1), (0, 0, 0, 1), HOME_JOINTS, IK_LIMITS) is None
    with pytest.raises(ValueError, match="zero quaternion"):
        ur5_ik.quaternion_matrix((0, 0, 0, 0))


def test_out_of_reach_falls_back_to_pybullet(world: World) -> None:
    """Out of reach, the arm takes pybullet's iterative IK (VIMA-Bench's) with the same
    arguments, whose answer stretches the tool tip towards the target."""
    target = ((1.2, 0.0, 0.1), (0.0, 0.0, 0.0, 1.0))
    home_tip, _ = _tip(world, HOME_JOINTS)
    joints = Arm(world).solve_ik(target)
    _set(world, HOME_JOINTS)
    iterative = np.asarray(
        pb.calculateInverseKinematics(
            world.ur5,
            EE_TIP_LINK,
            target[0],
            target[1],
            lowerLimits=IK_LOWER,
            upperLimits=IK_UPPER,
            jointRanges=IK_RANGES,
            restPoses=HOME_JOINTS.tolist(),
            maxNumIterations=100,
            residualThreshold=1e-5,
            physicsClientId=world.client,
        ),
        dtype=np.float32,
    )
    iterative[2:] = (iterative[2:] + np.pi) % (2 * np.pi) - np.pi
    assert np.array_equal(joints, iterative)
    tip, _ = _tip(world, joints)
    goal = np.asarray(target[0])
    assert np.linalg.norm(tip - goal) < np.linalg.norm(home_tip - goal) - 0.2  # reached out
    assert abs(tip[1]) < 0.05 and tip[0] > home_tip[0] + 0.2  # along x, towards the target
    _set(world, HOME_JOINTS)
