"""Lossless round trips: read -> write_episode -> read, byte for byte where the format allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vima_schema.enums import View
from vima_schema.models import Episode
from vima_schema.reader import read_episode
from vima_schema.safe_pickle import load_pickle
from vima_schema.writer import write_episode


def arrays_of(value: Any, where: str = "") -> dict[str, np.ndarray]:
    """Every numpy array inside a loaded pickle, keyed by its path."""
    found: dict[str, np.ndarray] = {}
    if isinstance(value, np.ndarray):
        found[where] = value
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= arrays_of(item, f"{where}/{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found |= arrays_of(item, f"{where}/{i}")
    return found


def test_write_is_lossless(sample_dir: Path, tmp_path: Path) -> None:
    episode = read_episode(sample_dir)
    written = write_episode(episode, tmp_path)
    assert written == tmp_path / sample_dir.parent.name / "000000"
    assert sorted(p.name for p in written.iterdir()) == sorted(p.name for p in sample_dir.iterdir())

    # obs.pkl and action.pkl come back byte for byte
    for name in ("obs.pkl", "action.pkl"):
        assert (written / name).read_bytes() == (sample_dir / name).read_bytes(), name

    # every JPEG is copied as stored
    for view in ("front", "top"):
        names = sorted(p.name for p in (sample_dir / f"rgb_{view}").iterdir())
        assert sorted(p.name for p in (written / f"rgb_{view}").iterdir()) == names
        for name in names:
            original = (sample_dir / f"rgb_{view}" / name).read_bytes()
            assert (written / f"rgb_{view}" / name).read_bytes() == original

    # every array of every pickle is bitwise equal (dtype, shape, bytes)
    for name in ("obs.pkl", "action.pkl", "trajectory.pkl"):
        before = arrays_of(load_pickle(sample_dir / name)[0])
        after = arrays_of(load_pickle(written / name)[0])
        assert list(after) == list(before), name
        for key, array in before.items():
            assert after[key].dtype == array.dtype, f"{name}{key}"
            assert after[key].shape == array.shape, f"{name}{key}"
            assert after[key].tobytes() == array.tobytes(), f"{name}{key}"
            assert after[key].flags.c_contiguous

    again = read_episode(written)
    assert again == episode
    assert again.pickle_namespace is episode.pickle_namespace


def test_rotation_sign_bits_preserved(sample_dir: Path, tmp_path: Path) -> None:
    episode = read_episode(sample_dir)
    again = read_episode(write_episode(episode, tmp_path))
    raw, _ = load_pickle(sample_dir / "action.pkl")
    for key in ("pose0_rotation", "pose1_rotation"):
        assert np.array_equal(np.signbit(getattr(episode.actions, key)), np.signbit(raw[key]))
        assert np.array_equal(np.signbit(getattr(again.actions, key)), np.signbit(raw[key]))


def test_samples_contain_negative_zero(samples_root: Path) -> None:
    """The sign-bit test above is meaningful: some sample rotation holds -0.0."""
    negative_zeros = 0
    for path in samples_root.glob("*/*/000000/action.pkl"):
        raw, _ = load_pickle(path)
        for key in ("pose0_rotation", "pose1_rotation"):
            negative_zeros += int(np.sum((raw[key] == 0) & np.signbit(raw[key])))
    assert negative_zeros > 0


def test_negative_zero_differs_from_zero(samples_root: Path) -> None:
    episode = read_episode(samples_root / "vima-raw" / "rotate" / "000000")
    rotation = episode.actions.pose1_rotation
    assert rotation[0, 0] == 0  # rotations are about z only: x is +-0.0
    flipped = rotation.copy()
    flipped[0, 0] = -flipped[0, 0]
    assert np.array_equal(flipped, rotation)  # equal as numbers, not as bits
    changed = episode.model_copy(
        update={"actions": episode.actions.model_copy(update={"pose1_rotation": flipped})}
    )
    assert changed != episode


def test_reindexed_write(sample_dir: Path, tmp_path: Path) -> None:
    episode = read_episode(sample_dir)
    written = write_episode(episode.model_copy(update={"index": 123}), tmp_path)
    assert written == tmp_path / episode.task.name / "000123"
    again = read_episode(written)
    assert again.index == 123
    assert again == episode.model_copy(update={"index": 123})
    assert again != episode


def test_write_refuses_to_overwrite(samples_root: Path, tmp_path: Path) -> None:
    episode = read_episode(samples_root / "vima-raw" / "rotate" / "000000")
    target = write_episode(episode, tmp_path)
    with pytest.raises(FileExistsError, match="already exists"):
        write_episode(episode, tmp_path)
    other = read_episode(samples_root / "vima-raw" / "twist" / "000000")
    replacement = other.model_copy(update={"task": episode.task})
    assert write_episode(replacement, tmp_path, overwrite=True) == target
    assert read_episode(target) == replacement
    assert [p.name for p in target.parent.iterdir()] == ["000000"]  # no temporary leftovers


def test_episode_equality_is_exact(samples_root: Path) -> None:
    episode = read_episode(samples_root / "vima-raw" / "rotate" / "000000")
    assert episode == read_episode(samples_root / "vima-raw" / "rotate" / "000000")
    frames = dict(episode.frames)
    frames[View.top] = [*frames[View.top][:-1], frames[View.top][-1] + b"\x00"]
    assert episode.model_copy(update={"frames": frames}) != episode
    assert episode.model_copy(update={"seed": 1}) != episode
    assert not isinstance(episode, dict)
    assert isinstance(episode, Episode)
