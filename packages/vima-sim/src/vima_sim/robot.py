"""Arm control (IK and joint moves on a physics-tick budget), the suction cup and pick-and-place."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pybullet as pb

from vima_sim import ur5_ik
from vima_sim.world import HOME_JOINTS, Pose, World

EE_TIP_LINK = 10
IK_LOWER = [-3 * np.pi / 2, -2.3562, -17, -17, -17, -17]
IK_UPPER = [-np.pi / 2, 0, 17, 17, 17, 17]
IK_RANGES = [np.pi, 2.3562, 34, 34, 34, 34]
IK_LIMITS = ((IK_LOWER[0], IK_UPPER[0]), (IK_LOWER[1], IK_UPPER[1]))  # pan and lift
JOINT_SPEED = 0.01  # rad per tick
JOINT_TOLERANCE = 0.01  # rad
#: Ticks one joint-space move may take before it counts as timed out (VIMA-Bench: 5 s of
#: wall-clock time; here 5 s of simulated time at 240 Hz, so the outcome never depends on load).
MOVE_TICK_BUDGET = 1200
APPROACH_HEIGHT = 0.32
DESCENT_STEP = 0.001
MAX_DESCENT_STEPS = 2 * int(APPROACH_HEIGHT / DESCENT_STEP)
#: A descent step is skipped when its extrapolated IK solution is within this fraction of the
#: joint tolerance (the move would not tick).
SKIP_MARGIN = 0.9
SETTLE_SPEED = 5e-3
SETTLE_MAX_TICKS = 1000
CHECK_INTERVAL = 50  # ticks between constraint checks (sweep tasks)
PUSH_HEIGHT = 0.005
PUSH_REST_HEIGHT = 0.31
PUSH_SPEED = 0.002
PUSH_BACKOFF, PUSH_SHORTEN = 0.02, 0.05


def multiply(a: Pose, b: Pose) -> Pose:
    """Compose two poses."""
    pos, orn = pb.multiplyTransforms(a[0], a[1], b[0], b[1])
    return tuple(pos), tuple(orn)  # type: ignore[return-value]


def invert(a: Pose) -> Pose:
    """Inverse of a pose."""
    pos, orn = pb.invertTransform(a[0], a[1])
    return tuple(pos), tuple(orn)  # type: ignore[return-value]


class Arm:
    """UR5 with the suction cup of a World; counts physics ticks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.c = world.client
        self.grasp: int | None = None  # constraint id while holding an object
        self.activated = False
        self.on_check: Callable[[], None] | None = None

    # -- physics ------------------------------------------------------------------------------
    def tick(self) -> None:
        """One physics step; every CHECK_INTERVAL ticks the task's constraint hook runs."""
        pb.stepSimulation(physicsClientId=self.c)
        self.world.ticks += 1
        if self.on_check is not None and self.world.ticks % CHECK_INTERVAL == 0:
            self.on_check()

    def joints(self) -> np.ndarray:
        """Current joint angles."""
        w = self.world
        states = pb.getJointStates(w.ur5, w.joints, physicsClientId=self.c)
        return np.array([state[0] for state in states])

    def movej(self, target: np.ndarray, speed: float = JOINT_SPEED) -> bool:
        """Move the joints towards `target` at constant speed; return True on timeout.

        Runs once per physics tick, so without numpy's wrappers: the norm is
        `np.linalg.norm`'s own `sqrt(diff.dot(diff))`, every value as before.
        """
        w, c = self.world, self.c
        gains = [1.0] * len(w.joints)
        for _ in range(MOVE_TICK_BUDGET):
            current = self.joints()
            diff = target - current
            if (np.abs(diff) < JOINT_TOLERANCE).all():
                return False
            norm = math.sqrt(diff.dot(diff))
            step = current + (diff / norm if norm > 0 else 0) * speed
            pb.setJointMotorControlArray(
                w.ur5, w.joints, pb.POSITION_CONTROL, targetPositions=step,
                positionGains=gains, physicsClientId=c,
            )  # fmt: skip
            self.tick()
        return True

    def solve_ik(self, pose: Pose) -> np.ndarray:
        """Joint angles that put the tool tip at `pose`.

        Closed form (`ur5_ik`), on the branch of the current joints; pybullet's iterative IK
        (VIMA-Bench's) only for a pose out of the arm's reach, where it finds the nearest.
        """
        exact = ur5_ik.solve(pose[0], pose[1], self.joints(), IK_LIMITS)
        if exact is not None:
            return exact
        joints = pb.calculateInverseKinematics(
            bodyUniqueId=self.world.ur5, endEffectorLinkIndex=EE_TIP_LINK,
            targetPosition=pose[0], targetOrientation=pose[1], lowerLimits=IK_LOWER,
            upperLimits=IK_UPPER, jointRanges=IK_RANGES, restPoses=HOME_JOINTS.tolist(),
            maxNumIterations=100, residualThreshold=1e-5, physicsClientId=self.c,
        )  # fmt: skip
        out = np.asarray(joints, dtype=np.float32)
        out[2:] = (out[2:] + np.pi) % (2 * np.pi) - np.pi
        return out

    def movep(self, pose: Pose, speed: float = JOINT_SPEED) -> bool:
        """Move the tool tip to `pose`; return True on timeout."""
        return self.movej(self.solve_ik(pose), speed)

    # -- suction ------------------------------------------------------------------------------
    def detect_contact(self) -> bool:
        """Whether the suction tip (or the held object) touches anything."""
        body, link = self.world.suction_head, 0
        if self.activated and self.grasp is not None:
            info = pb.getConstraintInfo(self.grasp, physicsClientId=self.c)
            body, link = info[2], info[3]
        points = pb.getContactPoints(bodyA=body, linkIndexA=link, physicsClientId=self.c)
        if self.activated:
            points = [p for p in points if p[2] != self.world.suction_head]
        return bool(points)

    def activate(self) -> None:
        """Grasp the touched rigid object with a fixed constraint (fixed bodies are not picked)."""
        if self.activated:
            return
        head = self.world.suction_head
        points = pb.getContactPoints(bodyA=head, linkIndexA=0, physicsClientId=self.c)
        if points:
            obj, link = points[-1][2], points[-1][4]
            if obj in self.world.rigid:
                state = pb.getLinkState(head, 0, physicsClientId=self.c)
                obj_pose = self.world.pose(obj)
                obj_to_body = multiply(invert((state[0], state[1])), obj_pose)
                self.grasp = pb.createConstraint(
                    parentBodyUniqueId=head, parentLinkIndex=0, childBodyUniqueId=obj,
                    childLinkIndex=link, jointType=pb.JOINT_FIXED, jointAxis=(0, 0, 0),
                    parentFramePosition=obj_to_body[0], parentFrameOrientation=obj_to_body[1],
                    childFramePosition=(0, 0, 0), childFrameOrientation=(0, 0, 0),
                    physicsClientId=self.c,
                )  # fmt: skip
        self.activated = True

    def release(self) -> None:
        """Drop whatever is held."""
        if self.activated:
            self.activated = False
            if self.grasp is not None:
                pb.removeConstraint(self.grasp, physicsClientId=self.c)
                self.grasp = None

    def holding(self) -> bool:
        """Whether an object is held."""
        return self.grasp is not None

    # -- primitives ---------------------------------------------------------------------------
    def _descend(self, start: Pose) -> Pose | None:
        """Lower in 1 mm steps from `start` until contact; None on timeout.

        Each step is a full IK move as in VIMA-Bench; a step whose IK solution is certain to
        be within the joint tolerance of the current joints (so the move would not tick) is
        skipped without solving IK: the joint change per millimetre is extrapolated linearly
        from the last two solutions, and only predictions well inside the tolerance are trusted
        (`SKIP_MARGIN`), so the ticks taken are the same as with every IK solved.
        """
        delta = ((0.0, 0.0, -DESCENT_STEP), (0.0, 0.0, 0.0, 1.0))
        target = start
        last: tuple[int, np.ndarray] | None = None  # (step index, IK solution)
        rate: np.ndarray | None = None  # joint change per step
        current = self.joints()
        for step in range(1, MAX_DESCENT_STEPS + 1):
            if self.detect_contact():
                return target
            target = multiply(target, delta)
            if last is not None and rate is not None:
                predicted = last[1] + (step - last[0]) * rate
                if (np.abs(predicted - current) < SKIP_MARGIN * JOINT_TOLERANCE).all():
                    continue
            solution = self.solve_ik(target)
            if last is not None:
                rate = (solution - last[1]) / (step - last[0])
            last = (step, solution)
            ticks = self.world.ticks
            if self.movej(solution):
                return None
            if self.world.ticks != ticks:
                current = self.joints()
        return target

    def pick_place(self, pose0: Pose, pose1: Pose) -> tuple[bool, bool]:
        """Suction pick at pose0 and place at pose1 (z ignored); return (timeout, grasped)."""
        pick = ((pose0[0][0], pose0[0][1], 0.0), pose0[1])
        place = ((pose1[0][0], pose1[0][1], 0.0), pose1[1])
        above = ((0.0, 0.0, APPROACH_HEIGHT), (0.0, 0.0, 0.0, 1.0))
        prepick = multiply(pick, above)
        timeout = self.movep(prepick)
        if timeout or self._descend(prepick) is None:
            return True, False
        self.activate()
        timeout = self.movep(prepick)
        grasped = self.holding()
        if not grasped:
            self.release()
            return timeout or self.movep(prepick), False
        preplace = multiply(place, above)
        timeout |= self.movep(preplace)
        if timeout or self._descend(preplace) is None:
            return True, True
        self.release()
        return self.movep(preplace), True

    def push(self, pose0: Pose, pose1: Pose) -> bool:
        """Spatula push from pose0 to pose1 (rotations ignored); return True on timeout.

        As VIMA-Bench: start 2 cm behind the start point, stop 5 cm short of the end point,
        blade yawed along the push; the slow straight push runs at 0.002 rad per tick.
        """
        p0 = np.array([pose0[0][0], pose0[0][1], PUSH_HEIGHT])
        p1 = np.array([pose1[0][0], pose1[0][1], PUSH_HEIGHT])
        length = float(np.linalg.norm(p1 - p0))
        v = (p1 - p0) / length if length > 0 else np.array([1.0, 0.0, 0.0])
        p0 = p0 - PUSH_BACKOFF * v
        p1 = p1 - PUSH_SHORTEN * v
        rot = tuple(pb.getQuaternionFromEuler((0.0, 0.0, float(np.arctan2(v[1], v[0])))))
        over0 = (p0[0], p0[1], PUSH_REST_HEIGHT)
        over1 = (p1[0], p1[1], PUSH_REST_HEIGHT)
        timeout = self.movep((tuple(over0), rot))  # type: ignore[arg-type]
        timeout |= self.movep((tuple(p0), rot))  # type: ignore[arg-type]
        timeout |= self.movep((tuple(p1), rot), speed=PUSH_SPEED)  # type: ignore[arg-type]
        timeout |= self.movep((tuple(over1), rot))  # type: ignore[arg-type]
        return timeout

    def settle(self) -> bool:
        """Tick until every rigid object is (nearly) still; False if it took too long."""
        for _ in range(SETTLE_MAX_TICKS):
            if all(  # stops at the first moving object
                np.linalg.norm(pb.getBaseVelocity(b, physicsClientId=self.c)[0]) < SETTLE_SPEED
                for b in self.world.rigid
            ):
                return True
            self.tick()
        return False
