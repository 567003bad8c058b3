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
FLIP = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def quaternion_matrix(quaternion: tuple[float, ...]) -> np.ndarray:
    """Rotation matrix of an (x, y, z, w) quaternion (normalised first)."""
    x, y, z, w = (float(v) for v in quaternion)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n == 0.0:
        raise ValueError("the zero quaternion is not a rotation")
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
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
    # the base link is the world frame turned by pi about z
    px, py, pz = -float(position[0]), -float(position[1]), float(position[2]) - D1
    r = rotation * np.array([[-1.0], [-1.0], [1.0]])
    tool = r[:, 2]
    cx, cy, cz = px - TIP * tool[0], py - TIP * tool[1], pz - TIP * tool[2]
    radius = math.hypot(cx, cy)
    if radius < D4:
        return []
    phi, offset = math.atan2(cy, cx), math.asin(D4 / radius)
    out: list[list[float]] = []
    for q1 in (phi - offset, phi - math.pi + offset):
        c1, s1 = math.cos(q1), math.sin(q1)
        # tool axis and orientation in the frame turned by q1 about z
        rs = np.array([[c1, s1, 0.0], [-s1, c1, 0.0], [0.0, 0.0, 1.0]]) @ r
        ty = max(-1.0, min(1.0, float(rs[1, 2])))
        for q5 in (math.acos(ty), -math.acos(ty)):
            s5 = math.sin(q5)
            if abs(s5) < 1e-9:
                continue
            theta = math.atan2(rs[2, 2] / s5, -rs[0, 2] / s5)
            ct, st, c5 = math.cos(theta), math.sin(theta), math.cos(q5)
            # Ry(q6) = Rz(-q5) Ry(-theta) rs Rx(pi / 2): only its first row is needed
            m0 = np.array([c5 * ct, s5, -c5 * st]) @ rs
            q6 = math.atan2(-m0[1], m0[0])
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
    """
    found = solutions(position, quaternion_matrix(orientation) @ FLIP)
    ranked = []
    for q in found:
        q = [_near(q[0], current[0]), _near(q[1], current[1]), *(_wrap(v) for v in q[2:])]
        inside = all(low <= v <= high for v, (low, high) in zip(q, limits, strict=False))
        distance = sum(_wrap(v - c) ** 2 for v, c in zip(q, current, strict=True))
        ranked.append((not inside, distance, q))
    if not ranked:
        return None
    return np.asarray(min(ranked)[2], dtype=np.float32)
