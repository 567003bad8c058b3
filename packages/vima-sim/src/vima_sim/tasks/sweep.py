"""sweep_without_exceeding (T12): push blocks into a zone without crossing a line (spatula)."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from vima_schema.enums import EndEffector, Task

from vima_sim.encyclopedia import ObjectEntry, get_object, get_texture
from vima_sim.robot import invert, multiply
from vima_sim.tasks.base import (
    REGISTRY,
    REJECT_SAMPLING_MAX_TIMES,
    ObjectAsset,
    SceneSamplingError,
    Spawned,
    TaskBase,
)
from vima_sim.world import Pose, yaw_quaternion

#: Low-x / low-y corners of the two squares where swept blocks and distractors are born.
BIRTH_POINTS = ((0.57, -0.22), (0.58, 0.03))
SWEPT_SQUARE, DISTRACTOR_SQUARE = 0.18, 0.09
BASE_X = 0.41
DETERMINERS = {"any": 1, "one": 1, "two": 2, "three": 3}
POINT_SPACING = 0.02
ZONE_TOP = 0.3  # points above this height never count


def box_points(size: tuple[float, ...]) -> np.ndarray:
    """Sample points (3, N) on a 2 cm grid of an object's box, in its own frame."""
    axes = [np.arange(-s / 2, s / 2, POINT_SPACING) for s in size]
    grid = np.meshgrid(*axes, indexing="xy")
    return np.vstack([g.reshape(1, -1) for g in grid])


def fraction_in(
    points: np.ndarray, obj_pose: Pose, zone_pose: Pose, zone_size: tuple[float, ...]
) -> float:
    """Fraction of an object's points inside a zone box (x, y in the zone frame)."""
    pos, orn = multiply(invert(zone_pose), obj_pose)
    rot = np.asarray(pb.getMatrixFromQuaternion(orn)).reshape(3, 3)
    local = rot @ points + np.asarray(pos).reshape(3, 1)
    inside = (
        (local[0] > -zone_size[0] / 2)
        & (local[0] < zone_size[0] / 2)
        & (local[1] > -zone_size[1] / 2)
        & (local[1] < zone_size[1] / 2)
        & (local[2] < ZONE_TOP)
    )
    return float(np.mean(inside))


@REGISTRY.register
class SweepWithoutExceeding(TaskBase):
    """T12: `Sweep <det> {swept_obj} into {bounds} without exceeding {constraint}.`"""

    task = Task.sweep_without_exceeding
    end_effector = EndEffector.spatula

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.points: dict[int, np.ndarray] = {}
        self.distractor_points: dict[int, np.ndarray] = {}
        self.zone: tuple[Pose, tuple[float, ...]] = (((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)), ())
        self.line: tuple[Pose, tuple[float, ...]] = self.zone
        self.pending: list[int] = []
        self.achieved = 0
        self.target_count = 0
        self.satisfied = True
        self.zone_target: Pose = self.zone[0]

    # -- rules ----------------------------------------------------------------------------------
    def in_zone(self, body: int, points: np.ndarray) -> float:
        """Fraction of a block inside the goal zone."""
        return fraction_in(points, self.pose_of(body), *self.zone)

    def check_constraint(self) -> None:
        """Called every 50 ticks: a swept block touching the line breaks the constraint for good."""
        if not self.satisfied:
            return
        for body, points in self.points.items():
            if fraction_in(points, self.pose_of(body), *self.line) > 0:
                self.satisfied = False
                return

    def update_goals(self) -> None:
        """Blocks wholly inside the zone count as achieved (once)."""
        still = [b for b in self.pending if abs(1 - self.in_zone(b, self.points[b])) >= 0.001]
        self.achieved += len(self.pending) - len(still)
        self.pending = still

    def check(self) -> tuple[bool, bool]:
        """Failure on a broken constraint, a distractor in the zone or too many blocks in."""
        if not self.satisfied:
            return False, True
        if any(self.in_zone(b, p) > 0 for b, p in self.distractor_points.items()):
            return False, True
        if self.achieved == self.target_count:
            return True, False
        if self.achieved > self.target_count:
            return False, True
        return False, any(self.out_of_workspace(b) for b in self.pending)

    # -- scene ----------------------------------------------------------------------------------
    def swept_shape(self) -> tuple[ObjectEntry, tuple[float, ...], tuple[float, ...] | float]:
        """The swept object, its size and scaling (small block; kitting shapes at extreme)."""
        if self.rules["kitting_shapes"]:
            obj = get_object(self.choice(self.common_rules["kitting_shapes"]))
            low, high = self.common_rules["kitting_scale"]
            scaling = tuple(float(v) for v in self.rng.uniform(low, high, size=3))
            return obj, self.random_size(obj), scaling
        obj = get_object("small block")
        return obj, self.random_size(obj), 1.0

    def reset_scene(self) -> None:
        """Three-sided rectangle, line, swept blocks and distractor blocks."""
        assert self.world is not None
        self.satisfied, self.achieved = True, 0
        options, probs = self.rules["n_swept"], self.rules["n_swept_p"]
        n = int(options[int(self.rng.choice(len(options), p=probs))])
        swept_tex = self.choice(self.settings.dragged_texture)
        base_tex = self.choice(self.settings.base_texture)
        line_tex = self.choice([t for t in self.settings.base_texture if t != base_tex])
        order = self.rng.choice(2, size=2, replace=False)
        swept_birth, distractor_birth = BIRTH_POINTS[int(order[0])], BIRTH_POINTS[int(order[1])]
        distractor_tex = self.choice([t for t in self.settings.dragged_texture if t != swept_tex])
        base, line = self.layout(base_tex, line_tex)
        obj, size, scaling = self.swept_shape()
        scaled = (
            size
            if isinstance(scaling, float)
            else tuple(a * b for a, b in zip(size, scaling, strict=True))
        )
        swept = self._pile(obj, size, scaling, swept_tex, swept_birth, SWEPT_SQUARE, n)
        self.points = {s: box_points(scaled) for s in swept}
        self.pending = list(swept)
        first = next(s for s in self.spawned if s.body == swept[0])
        distractors = self._pile(
            obj, size, scaling, distractor_tex, distractor_birth, DISTRACTOR_SQUARE, n
        )
        self.distractor_points = {d: box_points(scaled) for d in distractors}
        dets = [k for k, v in DETERMINERS.items() if v <= n] + ["all"]
        det = self.choice(dets)
        self.target_count = n if det == "all" else DETERMINERS[det]
        self.assets = {
            "swept_obj": ObjectAsset(first.obj, first.texture, first.urdf, global_scaling=7.0),
            "bounds": ObjectAsset(base.obj, base.texture, base.urdf),
            "constraint": ObjectAsset(line.obj, line.texture, line.urdf),
        }
        self.prompt = (
            f"Sweep {det} {{swept_obj}} into {{bounds}} without {self.verb} {{constraint}}."
        )

    verb = "exceeding"

    def layout(self, base_tex: str, line_tex: str) -> tuple[Spawned, Spawned]:
        """Rectangle at x = 0.41 (x 1.35), a line inside it; the zone lies between them."""
        rect = get_object("three-sided rectangle")
        base_size = tuple(v * self.common_rules["base_scale"] for v in self.random_size(rect))
        turned = yaw_quaternion(-np.pi / 2)
        base_pose = ((BASE_X, 0.0, base_size[2] / 2), turned)
        base = self.spawn(rect, get_texture(base_tex), base_size, base_pose, fixed=True)
        line_obj = get_object("line")
        line_size = list(self.random_size(line_obj))
        line_size[0] *= self.common_rules["line_scale"]
        low, high = self.common_rules["line_range"]
        line_x = float(
            self.rng.uniform(
                BASE_X + (low - 0.5) * base_size[0], BASE_X + (high - 0.5) * base_size[0]
            )
        )
        line_pose = ((line_x, 0.0, line_size[2] / 2), turned)
        line = self.spawn(line_obj, get_texture(line_tex), tuple(line_size), line_pose, fixed=True)
        assert base is not None and line is not None
        self.line = (line_pose, tuple(line_size))
        top_x = line_x + line_size[1] / 2
        bottom_x = BASE_X + base_size[0] / 2
        zone_x = (bottom_x + top_x) / 2 + 0.015
        self.zone = (
            ((zone_x, 0.0, base_size[2] / 2), turned),
            (base_size[1], bottom_x - top_x, base_size[2]),
        )
        self.zone_target = self.zone[0]
        return base, line

    def _pile(
        self,
        obj: ObjectEntry,
        size: tuple[float, ...],
        scaling: tuple[float, ...] | float,
        texture: str,
        corner: tuple[float, float],
        side: float,
        count: int,
    ) -> list[int]:
        height = size[2] * (scaling if isinstance(scaling, float) else scaling[2])
        for _ in range(REJECT_SAMPLING_MAX_TIMES):
            poses = []
            for _ in range(count):
                x = corner[0] + float(self.rng.random()) * side
                y = corner[1] + float(self.rng.random()) * side
                poses.append(
                    ((x, y, height / 2), yaw_quaternion(float(self.rng.random()) * 2 * np.pi))
                )
            if all(0.25 <= p[0][0] <= 0.75 and -0.5 <= p[0][1] <= 0.5 for p in poses):
                out = []
                for pose in poses:
                    item = self.spawn(obj, get_texture(texture), size, pose, scaling=scaling)
                    assert item is not None
                    out.append(item.body)
                return out
        raise SceneSamplingError("Error in sampling swept objects")

    # -- oracle ---------------------------------------------------------------------------------
    def oracle_action(self) -> dict[str, np.ndarray] | None:
        """Push the first block (in spawn order) not yet in the zone onto the zone centre, as
        VIMA-Bench's oracle does (it works on its first pending goal, one block per goal)."""
        remaining = [b for b in self.pending if abs(1 - self.in_zone(b, self.points[b])) >= 0.001]
        if not remaining:
            return None
        body = remaining[0]
        pos = self.pose_of(body)[0]
        start: Pose = ((pos[0], pos[1], pos[2]), (0.0, 0.0, 0.0, 1.0))
        obj_pose = self.pose_of(body)
        yaw = pb.getEulerFromQuaternion(obj_pose[1])[2]
        obj_to_start = multiply(invert(start), (obj_pose[0], yaw_quaternion(yaw)))
        end = multiply(self.zone_target, invert(obj_to_start))
        identity = np.asarray([0, 0, 0, 1], dtype=np.float32)
        return {
            "pose0_position": np.asarray(pos[:2], dtype=np.float32),
            "pose0_rotation": identity,
            "pose1_position": np.clip(
                np.asarray(end[0][:2], dtype=np.float32), [0.25, -0.5], [0.75, 0.5]
            ).astype(np.float32),
            "pose1_rotation": identity.copy(),
        }


TOUCHING_BASE_X = 0.39


@REGISTRY.register
class SweepWithoutTouching(SweepWithoutExceeding):
    """T13: `Sweep <det> {swept_obj} into {bounds} without touching {constraint}.`"""

    task = Task.sweep_without_touching
    verb = "touching"

    def layout(self, base_tex: str, line_tex: str) -> tuple[Spawned, Spawned]:
        """A wide, shallow rectangle at x = 0.39 and a line across part of its open side."""
        rect = get_object("three-sided rectangle")
        size = list(self.random_size(rect))
        size[0] *= self.common_rules["base_depth_scale"]
        size[1] *= self.common_rules["base_width_scale"]
        turned = yaw_quaternion(-np.pi / 2)
        base_pose = ((TOUCHING_BASE_X, 0.0, size[2] / 2), turned)
        base = self.spawn(rect, get_texture(base_tex), tuple(size), base_pose, fixed=True)
        line_obj = get_object("line")
        line_size = list(self.random_size(line_obj))
        line_size[0] *= self.rules["line_length"]
        line_x = TOUCHING_BASE_X + 0.5 * size[0] + 0.5 * line_size[1]
        line_pose = ((line_x, 0.0, line_size[2] / 2), turned)
        line = self.spawn(line_obj, get_texture(line_tex), tuple(line_size), line_pose, fixed=True)
        assert base is not None and line is not None
        self.line = (line_pose, tuple(line_size))
        self.zone = (base_pose, (size[1], size[0], size[2]))
        self.zone_target = base_pose
        half = line_size[0] / 2
        self.dividers = (-half - 0.05, half + 0.05, line_x, line_x - line_size[1] / 2 - 0.02)
        return base, line

    def oracle_action(self) -> dict[str, np.ndarray] | None:
        """Route each block around the line: sideways, then past it, then into the zone."""
        remaining = [b for b in self.pending if abs(1 - self.in_zone(b, self.points[b])) >= 0.001]
        if not remaining:
            return None
        left_y, right_y, divider_14, divider_23 = self.dividers
        side_left, side_right = left_y - 0.05, right_y + 0.05
        phase1_x = (divider_14 + 0.75) / 2
        phase2_x = self.zone_target[0][0] - 0.02
        candidates: list[tuple[int, float, int, tuple[float, ...]]] = []
        for body in remaining:
            x, y, _ = self.pose_of(body)[0]
            is_left = y < 0.0
            if left_y < y < right_y:
                phase = 1 if x > divider_14 else 3
            else:
                phase = 2 if x > divider_23 else 3
            target: tuple[float, ...]
            if phase == 1:
                dist = y - left_y if is_left else right_y - y
                target = (phase1_x, side_left if is_left else side_right, 0.0)
            elif phase == 2:
                dist = x - divider_23
                target = (phase2_x, side_left if is_left else side_right, 0.0)
            else:
                target = tuple(self.zone_target[0])
                dist = float(np.linalg.norm(np.subtract(target, (x, y, 0.0))))
            candidates.append((phase, dist, body, target))
        _, _, body, target = max(candidates)
        obj_pose = self.pose_of(body)
        start: Pose = (obj_pose[0], (0.0, 0.0, 0.0, 1.0))
        yaw = pb.getEulerFromQuaternion(obj_pose[1])[2]
        obj_to_start = multiply(invert(start), (obj_pose[0], yaw_quaternion(yaw)))
        end = multiply(
            ((target[0], target[1], target[2]), (0.0, 0.0, 0.0, 1.0)), invert(obj_to_start)
        )
        identity = np.asarray([0, 0, 0, 1], dtype=np.float32)
        end_xy = np.clip(np.asarray(end[0][:2], dtype=np.float32), [0.25, -0.5], [0.75, 0.5])
        return {
            "pose0_position": np.asarray(obj_pose[0][:2], dtype=np.float32),
            "pose0_rotation": identity,
            "pose1_position": end_xy.astype(np.float32),
            "pose1_rotation": identity.copy(),
        }
