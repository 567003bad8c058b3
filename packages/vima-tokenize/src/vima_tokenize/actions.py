"""Action bounds, discretisation into per-axis bins and the inverse (numpy only).

Axis order everywhere is the sorted key order ``pose0_position{x,y,z}, pose0_rotation{x,y,z,w},
pose1_position{x,y,z}, pose1_rotation{x,y,z,w}`` (14 axes).

Differences from the reference (CoGeLoT ``PoseActionTokenizer``), both deliberate fixes:

* Binning is *nearest bin*: values are first clipped into ``[min, max]``, then
  ``bin = floor(v' * (n - 1) + 1/2)`` with ``v' = (v - min) / (max - min)`` (ties round up).
  The reference uses ``bucketize`` (= ``ceil(v' * (n - 1))``), which maps values above ``max`` to
  the non-existent class ``n``. Here every bin is in ``[0, n - 1]`` and the round trip error is
  at most half a bin width, ``(max - min) / (n - 1) / 2``. The reference's checked examples give
  position (0.5, 0.1, 0.0) -> (25, 60, 0); nearest binning gives (25, 59, 0). Rotation
  (0, 0, 0, 1) -> (25, 25, 25, 49) in both.
* The inverse is ``v = min + bin / (n - 1) * (max - min)`` (bins clipped into ``[0, n - 1]``),
  the exact inverse of the bin centres, instead of the reference's ``bin / n``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from vima_schema.layout import ACTION_KEYS

__all__ = [
    "ACTION_KEYS",
    "AXIS_BINS",
    "AXIS_HIGH",
    "AXIS_LOW",
    "AXIS_NAMES",
    "KEY_AXES",
    "NUM_AXES",
    "POSITION_BINS",
    "POSITION_HIGH",
    "POSITION_LOW",
    "ROTATION_BINS",
    "ROTATION_HIGH",
    "ROTATION_LOW",
    "Z_FILL",
    "bin_width",
    "discretize",
    "pad_positions",
    "undiscretize",
]


POSITION_LOW: tuple[float, ...] = (0.25, -0.5, 0.0)
POSITION_HIGH: tuple[float, ...] = (0.75, 0.5, 0.32)
POSITION_BINS: tuple[int, ...] = (50, 100, 50)
ROTATION_LOW: tuple[float, ...] = (-1.0, -1.0, -1.0, -1.0)
ROTATION_HIGH: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
ROTATION_BINS: tuple[int, ...] = (50, 50, 50, 50)

#: z written by `pad_positions` for 2-D positions. 0.0 is the lower bound of the z axis and the
#: contact height of the flat tasks (spatula data has z = 0.0); the environment ignores z.
Z_FILL = 0.0


def _key_spec(
    key: str,
) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...], tuple[int, ...]]:
    if key.endswith("position"):
        return ("x", "y", "z"), POSITION_LOW, POSITION_HIGH, POSITION_BINS
    return ("x", "y", "z", "w"), ROTATION_LOW, ROTATION_HIGH, ROTATION_BINS


#: key -> (low, high, bins) as float64 / int64 arrays of the key's component count.
KEY_AXES: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_names: list[str] = []
for _key in ACTION_KEYS:
    _components, _low, _high, _bins = _key_spec(_key)
    KEY_AXES[_key] = (
        np.array(_low, dtype=np.float64),
        np.array(_high, dtype=np.float64),
        np.array(_bins, dtype=np.int64),
    )
    _names.extend(f"{_key}_{c}" for c in _components)

#: The 14 axis labels, e.g. ``pose0_position_x`` ... ``pose1_rotation_w``.
AXIS_NAMES: tuple[str, ...] = tuple(_names)
NUM_AXES = len(AXIS_NAMES)
#: Per-axis bin counts: [50, 100, 50, 50, 50, 50, 50, 50, 100, 50, 50, 50, 50, 50].
AXIS_BINS: tuple[int, ...] = tuple(int(b) for k in ACTION_KEYS for b in KEY_AXES[k][2])
AXIS_LOW: tuple[float, ...] = tuple(float(v) for k in ACTION_KEYS for v in KEY_AXES[k][0])
AXIS_HIGH: tuple[float, ...] = tuple(float(v) for k in ACTION_KEYS for v in KEY_AXES[k][1])
del _key, _components, _low, _high, _bins, _names


def bin_width(key: str) -> np.ndarray:
    """Per-component bin width ``(max - min) / (n - 1)`` of an action key (float64)."""
    low, high, bins = _axes(key)
    return (high - low) / (bins - 1)


def _axes(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return KEY_AXES[key]
    except KeyError:
        raise ValueError(f"unknown action key {key!r}; expected one of {ACTION_KEYS}") from None


def _check_shape(key: str, array: np.ndarray, components: int) -> None:
    if array.ndim < 1 or array.shape[-1] != components:
        raise ValueError(f"{key} must have last dimension {components}, got shape {array.shape}")


def pad_positions(positions: np.ndarray) -> tuple[np.ndarray, bool]:
    """Make positions 3-D: (T, 2) -> (T, 3) with z = `Z_FILL` (0.0), flag True ("z was missing").

    (T, 3) is returned unchanged with flag False; any other shape raises ValueError. The dtype
    is kept (float input stays float; z is written in that dtype).
    """
    positions = np.asarray(positions)
    if positions.ndim != 2 or positions.shape[1] not in (2, 3):
        raise ValueError(f"positions must be (T, 2) or (T, 3), got shape {positions.shape}")
    if positions.shape[1] == 3:
        return positions, False
    z = np.full((positions.shape[0], 1), Z_FILL, dtype=positions.dtype)
    return np.concatenate([positions, z], axis=1), True


def discretize(actions: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Continuous poses -> int64 nearest-bin indices of the same shapes, always in [0, n - 1].

    Args:
        actions: any of the keys in `ACTION_KEYS`; positions have last dimension 3 (use
            `pad_positions` for 2-D data), rotations 4 (quaternion x, y, z, w).

    Values are clipped into the axis bounds, normalised ``v' = (v - min) / (max - min)`` and
    binned with ``floor(v' * (n - 1) + 1/2)`` (computed in float64). NaN raises ValueError.
    Padding values (e.g. -100) are not special-cased: mask padded steps out before calling.
    """
    out: dict[str, np.ndarray] = {}
    for key, values in actions.items():
        low, high, bins = _axes(key)
        array = np.asarray(values, dtype=np.float64)
        _check_shape(key, array, low.size)
        if np.isnan(array).any():
            raise ValueError(f"{key} contains NaN")
        scaled = (np.clip(array, low, high) - low) / (high - low) * (bins - 1)
        out[key] = np.clip(np.floor(scaled + 0.5), 0, bins - 1).astype(np.int64)
    return out


def undiscretize(bins: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bin indices -> float32 ``min + bin / (n - 1) * (max - min)``, the inverse of `discretize`.

    Bins outside ``[0, n - 1]`` are clipped first, so the result always lies within the bounds.
    """
    out: dict[str, np.ndarray] = {}
    for key, indices in bins.items():
        low, high, counts = _axes(key)
        array = np.asarray(indices)
        _check_shape(key, array, low.size)
        clipped = np.clip(array, 0, counts - 1).astype(np.float64)
        out[key] = (low + clipped / (counts - 1) * (high - low)).astype(np.float32)
    return out
