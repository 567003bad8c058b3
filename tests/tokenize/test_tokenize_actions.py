"""Tests for vima_tokenize.actions: bounds, nearest-bin discretisation, inverse, z padding."""

from __future__ import annotations

import numpy as np
import pytest
from vima_tokenize.actions import (
    ACTION_KEYS,
    AXIS_BINS,
    AXIS_HIGH,
    AXIS_LOW,
    AXIS_NAMES,
    KEY_AXES,
    bin_width,
    discretize,
    pad_positions,
    undiscretize,
)


def _pose(position: list[list[float]], rotation: list[list[float]]) -> dict[str, np.ndarray]:
    pos = np.asarray(position, dtype=np.float32)
    rot = np.asarray(rotation, dtype=np.float32)
    return {
        "pose0_position": pos,
        "pose0_rotation": rot,
        "pose1_position": pos.copy(),
        "pose1_rotation": rot.copy(),
    }


def test_axis_constants() -> None:
    assert ACTION_KEYS == ("pose0_position", "pose0_rotation", "pose1_position", "pose1_rotation")
    assert AXIS_BINS == (50, 100, 50, 50, 50, 50, 50, 50, 100, 50, 50, 50, 50, 50)
    assert AXIS_NAMES[:3] == ("pose0_position_x", "pose0_position_y", "pose0_position_z")
    assert AXIS_NAMES[3:7] == tuple(f"pose0_rotation_{c}" for c in "xyzw")
    assert AXIS_NAMES[13] == "pose1_rotation_w"
    assert len(AXIS_NAMES) == len(AXIS_LOW) == len(AXIS_HIGH) == 14
    assert AXIS_LOW[:3] == (0.25, -0.5, 0.0) and AXIS_HIGH[:3] == (0.75, 0.5, 0.32)
    assert AXIS_LOW[3:7] == (-1.0,) * 4 and AXIS_HIGH[3:7] == (1.0,) * 4
    np.testing.assert_allclose(bin_width("pose0_position"), [0.5 / 49, 1 / 99, 0.32 / 49])


def test_checked_examples_nearest_bin() -> None:
    # x: (0.5 - 0.25) / 0.5 * 49 = 24.5 -> 25 (ties up); y: 0.6 * 99 = 59.4 -> 59 (the
    # reference's ceil gives 60); z: 0 -> 0. Identity rotation: 0.5 * 49 = 24.5 -> 25, w: 49.
    bins = discretize(_pose([[0.5, 0.1, 0.0]], [[0.0, 0.0, 0.0, 1.0]]))
    for prefix in ("pose0", "pose1"):
        assert bins[f"{prefix}_position"].tolist() == [[25, 59, 0]]
        assert bins[f"{prefix}_rotation"].tolist() == [[25, 25, 25, 49]]
        assert bins[f"{prefix}_position"].dtype == np.int64
        assert bins[f"{prefix}_position"].shape == (1, 3)


def test_more_hand_computed_bins() -> None:
    # x 0.26 -> 0.02*49 = 0.98 -> 1; y -0.5 -> 0; y 0.5 -> 99; z 0.32 -> 49; z 0.1 -> 15.3 -> 15.
    bins = discretize({"pose0_position": np.array([[0.26, -0.5, 0.32], [0.75, 0.5, 0.1]])})
    assert bins["pose0_position"].tolist() == [[1, 0, 49], [49, 99, 15]]
    # rotation -1 -> 0, 1 -> 49, -0.5 -> 0.25*49 = 12.25 -> 12, 0.99 -> 0.995*49 = 48.755 -> 49.
    bins = discretize({"pose1_rotation": np.array([[-1.0, 1.0, -0.5, 0.99]])})
    assert bins["pose1_rotation"].tolist() == [[0, 49, 12, 49]]


def test_out_of_range_values_are_clipped() -> None:
    actions = _pose(
        [[5.0, 0.75, 1.0], [-1.0, -2.0, -0.1], [0.7501, 0.5001, 0.33]],
        [[1.5, -1.5, 2.0, -7.0]] * 3,
    )
    bins = discretize(actions)
    assert bins["pose0_position"].tolist() == [[49, 99, 49], [0, 0, 0], [49, 99, 49]]
    assert bins["pose0_rotation"].tolist() == [[49, 0, 49, 0]] * 3
    for key in ACTION_KEYS:
        counts = KEY_AXES[key][2]
        assert (bins[key] >= 0).all() and (bins[key] <= counts - 1).all()


def test_round_trip_within_half_bin() -> None:
    rng = np.random.default_rng(0)
    steps = 5000
    actions = {}
    for key in ACTION_KEYS:
        low, high, _ = KEY_AXES[key]
        actions[key] = rng.uniform(low, high, size=(steps, low.size)).astype(np.float32)
        # Include the bounds themselves.
        actions[key][0] = low
        actions[key][1] = high
    restored = undiscretize(discretize(actions))
    for key in ACTION_KEYS:
        assert restored[key].dtype == np.float32 and restored[key].shape == actions[key].shape
        error = np.abs(restored[key].astype(np.float64) - actions[key].astype(np.float64))
        assert (error <= bin_width(key) / 2 + 1e-6).all(), key


def test_undiscretize_is_inverse_of_bin_centres_and_clips() -> None:
    bins = {"pose0_position": np.array([[0, 0, 0], [49, 99, 49], [60, -3, 200]])}
    values = undiscretize(bins)["pose0_position"]
    np.testing.assert_allclose(values, [[0.25, -0.5, 0.0], [0.75, 0.5, 0.32], [0.75, -0.5, 0.32]])
    # Every bin maps back to itself.
    for key in ACTION_KEYS:
        counts = KEY_AXES[key][2]
        grid = np.stack([np.arange(100) % c for c in counts], axis=1)
        assert (discretize(undiscretize({key: grid}))[key] == grid).all()


def test_pad_positions() -> None:
    flat = np.array([[0.5, 0.1], [0.3, -0.2]], dtype=np.float32)
    padded, was_2d = pad_positions(flat)
    assert was_2d is True
    assert padded.shape == (2, 3) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[:, :2], flat)
    assert padded[:, 2].tolist() == [0.0, 0.0]
    full = np.array([[0.5, 0.1, 0.02]], dtype=np.float32)
    same, was_2d = pad_positions(full)
    assert was_2d is False and same is full
    empty, was_2d = pad_positions(np.zeros((0, 2), dtype=np.float32))
    assert empty.shape == (0, 3) and was_2d is True
    for bad in (np.zeros((3, 4)), np.zeros(3), np.zeros((2, 3, 1))):
        with pytest.raises(ValueError):
            pad_positions(bad)
    # Padded 2-D positions discretise to z bin 0.
    assert discretize({"pose0_position": padded})["pose0_position"][:, 2].tolist() == [0, 0]


def test_discretize_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        discretize({"pose0_position": np.zeros((2, 2))})  # 2-D positions must be padded first
    with pytest.raises(ValueError):
        discretize({"pose0_rotation": np.zeros((2, 3))})
    with pytest.raises(ValueError):
        discretize({"pose2_position": np.zeros((2, 3))})
    with pytest.raises(ValueError):
        discretize({"pose0_position": np.array([[np.nan, 0.0, 0.0]])})


def test_empty_episode() -> None:
    bins = discretize({key: np.zeros((0, KEY_AXES[key][0].size)) for key in ACTION_KEYS})
    assert all(bins[key].shape == (0, KEY_AXES[key][0].size) for key in ACTION_KEYS)
