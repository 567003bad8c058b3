"""Closed-form inverse kinematics of the UR5 in `assets/ur5/ur5.urdf` (tool tip link).

The arm is a standard UR5 (d1 = 0.089159, a2 = 0.425, a3 = 0.39225, d4 = 0.10915,
d5 = 0.09465, d6 = 0.0823) mounted with its base turned by pi about z; the tool tip is 0.12 m
beyond the flange. Shoulder, elbow and wrist 1 rotate about parallel axes, so the eight
solutions follow from the wrist centre (shoulder pan, two), the tool axis (wrist 2, two) and a
planar two-link arm (elbow, two). All angles are exact to rounding.
"""

from __future__ import annotations

import math

import numpy as np

D1 = 0.089159
A2, A3 = 0.425, 0.39225
D4 = 0.13585 - 0.1197 + 0.093
D5 = 0.09465
TIP = 0.0823 + 0.12  # wrist 3 axis to the tool tip, along the tool axis
#: VIMA-Bench's IK (pybullet's damped least squares from the current joints) ends with the tool
#: tip at `target * FLIP`: the tool points down, turned by the target's yaw. FLIP is a half
#: turn about (1, -1, 0) / sqrt(2), the tool tip's orientation at the home joints.
FLIP_ROWS = ((0.0, -1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, -1.0))
FLIP = np.array(FLIP_ROWS)
_FLIP_COLUMNS = tuple(zip(*FLIP_ROWS, strict=True))
_PI, _TAU = math.pi, 2 * math.pi


def quaternion_matrix(quaternion: tuple[float, ...]) -> np.ndarray:
    """Rotation matrix of an (x, y, z, w) quaternion (normalised first)."""
    return np.array(_matrix(quaternion))


def _matrix(quaternion: tuple[float, ...]) -> tuple[tuple[float, float, float], ...]:
    x, y, z, w = (float(v) for v in quaternion)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n == 0.0:
        raise ValueError("the zero quaternion is not a rotation")
    x, y, z, w = x / n, y / n, z / n, w / n
    return (
        (1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
        (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
        (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)),
    )


def _wrap(angle: float) -> float:
    """Angle in [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _near(angle: float, reference: float) -> float:
    """`angle` plus the multiple of 2 pi that brings it closest to `reference`."""
    return reference + _wrap(angle - reference)


def solutions(position: tuple[float, ...], rotation: np.ndarray) -> list[list[float]]:
    """Every joint vector that puts the tool tip at `position` with orientation `rotation`.

    World frame, joints in URDF order (pan, lift, elbow, wrist 1-3), angles in (-pi, pi].
    Empty when the pose is out of reach.
    """
    # the base link is the world frame turned by pi about z: negate the first two rows
    r = [[-float(v) for v in rotation[0]], [-float(v) for v in rotation[1]]]
    r.append([float(v) for v in rotation[2]])
    px, py, pz = -float(position[0]), -float(position[1]), float(position[2]) - D1
    cx, cy, cz = px - TIP * r[0][2], py - TIP * r[1][2], pz - TIP * r[2][2]
    radius = math.hypot(cx, cy)
    if radius < D4:
        return []
    phi, offset = math.atan2(cy, cx), math.asin(D4 / radius)
    out: list[list[float]] = []
    for q1 in (phi - offset, phi - math.pi + offset):
        c1, s1 = math.cos(q1), math.sin(q1)
        # orientation in the frame turned by q1 about z: rows c1 r0 + s1 r1, -s1 r0 + c1 r1, r2
        rs0 = [c1 * a + s1 * b for a, b in zip(r[0], r[1], strict=True)]
        rs1 = [c1 * b - s1 * a for a, b in zip(r[0], r[1], strict=True)]
        rs2 = r[2]
        ty = max(-1.0, min(1.0, rs1[2]))
        for q5 in (math.acos(ty), -math.acos(ty)):
            s5 = math.sin(q5)
            if abs(s5) < 1e-9:
                continue
            theta = math.atan2(rs2[2] / s5, -rs0[2] / s5)
            ct, st, c5 = math.cos(theta), math.sin(theta), math.cos(q5)
            # Ry(q6) = Rz(-q5) Ry(-theta) rs Rx(pi / 2): only its first row is needed
            u0, u1, u2 = c5 * ct, s5, -c5 * st
            m00 = u0 * rs0[0] + u1 * rs1[0] + u2 * rs2[0]
            m01 = u0 * rs0[1] + u1 * rs1[1] + u2 * rs2[1]
            q6 = math.atan2(-m01, m00)
            wx = c1 * cx + s1 * cy - D5 * st
            wz = cz - D5 * ct
            cos3 = (wx * wx + wz * wz - A2 * A2 - A3 * A3) / (2 * A2 * A3)
            if abs(cos3) > 1.0:
                continue
            for q3 in (math.acos(cos3), -math.acos(cos3)):
                a2 = math.atan2(wx, wz) - math.atan2(A3 * math.sin(q3), A2 + A3 * math.cos(q3))
                q4 = theta - a2 - q3 - math.pi / 2
                out.append([_wrap(q1), _wrap(a2 - math.pi / 2), _wrap(q3), _wrap(q4), q5, q6])
    return out


def solve(
    position: tuple[float, ...],
    orientation: tuple[float, ...],
    current: np.ndarray,
    limits: tuple[tuple[float, float], tuple[float, float]],
) -> np.ndarray | None:
    """Joints for the tool tip at `position` with orientation `orientation * FLIP`.

    Pan and lift are the 2 pi representatives nearest to the `current` joints, the other four
    are wrapped to [-pi, pi) (as the arm's IK returns them). Of the solutions whose pan and
    lift lie within `limits` (else of all), the one nearest to `current`: the branch that a
    local solver started there keeps. None when the pose is out of reach.

    Written out (no helper calls, sums left to right from 0.0 as `sum` adds) because it runs
    for every millimetre of a descent; the arithmetic is that of `_wrap` and `_near`.
    """
    m = _matrix(orientation)
    goal = [
        [0.0 + m[i][0] * f0 + m[i][1] * f1 + m[i][2] * f2 for f0, f1, f2 in _FLIP_COLUMNS]
        for i in range(3)
    ]
    now = [float(v) for v in current]
    n0, n1 = now[0], now[1]
    (low0, high0), (low1, high1) = limits
    best: list[float] | None = None
    best_outside, best_distance = True, 0.0
    for q in solutions(position, goal):  # type: ignore[arg-type]
        q = [
            n0 + ((q[0] - n0 + _PI) % _TAU - _PI),
            n1 + ((q[1] - n1 + _PI) % _TAU - _PI),
            (q[2] + _PI) % _TAU - _PI,
            (q[3] + _PI) % _TAU - _PI,
            (q[4] + _PI) % _TAU - _PI,
            (q[5] + _PI) % _TAU - _PI,
        ]
        outside = not (low0 <= q[0] <= high0 and low1 <= q[1] <= high1)
        distance = 0.0
        for v, c in zip(q, now, strict=True):
            distance += ((v - c + _PI) % _TAU - _PI) ** 2
        if (
            best is None
            or outside < best_outside
            or (outside == best_outside and distance < best_distance)
        ):
            best, best_outside, best_distance = q, outside, distance
    return None if best is None else np.asarray(best, dtype=np.float32)
