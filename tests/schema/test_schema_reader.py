"""Reading every sample episode: task, sizes, format variant and model contents."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from vima_schema.enums import EndEffector, PickleNamespace, PlaceholderType, Task, View
from vima_schema.layout import placeholders
from vima_schema.models import FRAME_HEIGHT, FRAME_WIDTH
from vima_schema.reader import EpisodeError, read_episode


class Expected(NamedTuple):
    steps: int
    n_objects: int
    namespace: PickleNamespace
    position_width: int
    end_effector: EndEffector


VIMASIM, VIMA_BENCH = PickleNamespace.vimasim, PickleNamespace.vima_bench
SUCTION, SPATULA = EndEffector.suction, EndEffector.spatula

EXPECTED: dict[str, Expected] = {
    "vima-bench-generated/follow_order": Expected(2, 4, VIMA_BENCH, 2, SUCTION),
    "vima-bench-generated/sweep_without_exceeding": Expected(1, 4, VIMA_BENCH, 2, SPATULA),
    "vima-raw/follow_order": Expected(2, 4, VIMASIM, 3, SUCTION),
    "vima-raw/novel_noun": Expected(1, 3, VIMASIM, 3, SUCTION),
    "vima-raw/pick_in_order_then_restore": Expected(3, 7, VIMASIM, 3, SUCTION),
    "vima-raw/rearrange": Expected(2, 2, VIMASIM, 3, SUCTION),
    "vima-raw/rotate": Expected(1, 2, VIMASIM, 3, SUCTION),
    "vima-raw/same_shape": Expected(2, 4, VIMASIM, 3, SUCTION),
    "vima-raw/sweep_without_exceeding": Expected(1, 6, VIMASIM, 3, SPATULA),
    "vima-raw/twist": Expected(2, 3, VIMASIM, 3, SUCTION),
    "vima-raw/visual_manipulation": Expected(1, 3, VIMASIM, 3, SUCTION),
}


def test_expectations_cover_every_sample(samples_root: Path) -> None:
    found = {f"{p.parent.parent.name}/{p.parent.name}" for p in samples_root.glob("*/*/000000")}
    assert found == set(EXPECTED)


def test_sample_reads(sample_dir: Path) -> None:
    key = f"{sample_dir.parent.parent.name}/{sample_dir.parent.name}"
    want = EXPECTED[key]
    episode = read_episode(sample_dir)

    assert episode.task is Task[sample_dir.parent.name]
    assert episode.index == 0
    assert episode.steps == want.steps
    assert episode.num_frames == want.steps + 1
    assert episode.n_objects == want.n_objects == len(episode.objects)
    assert episode.pickle_namespace is want.namespace
    assert episode.end_effector_type is want.end_effector
    assert episode.views == [View.front, View.top]
    assert episode.modalities == ["rgb", "segm"]
    assert episode.success is True and episode.failure is False

    # generation config only in VIMA-Data (ListConfig modalities), never in VIMA-Bench output
    if want.namespace is VIMASIM:
        assert episode.generation_config is not None
        assert episode.generation_config.values["modalities"] == ["rgb", "segm"]
    else:
        assert episode.generation_config is None

    width = want.position_width
    for key_ in ("pose0_position", "pose1_position"):
        assert getattr(episode.actions, key_).shape == (want.steps, width)
    for key_ in ("pose0_rotation", "pose1_rotation"):
        assert getattr(episode.actions, key_).shape == (want.steps, 4)
    assert episode.action_bounds.low.shape == episode.action_bounds.high.shape == (width,)

    for view in (View.front, View.top):
        frames = episode.frames[view]
        assert len(frames) == want.steps + 1
        assert all(f.startswith(b"\xff\xd8") and f.endswith(b"\xff\xd9") for f in frames)
        assert frames[0] == (sample_dir / f"rgb_{view.value}" / "0.jpg").read_bytes()
        assert episode.segm[view].shape == (want.steps + 1, FRAME_HEIGHT, FRAME_WIDTH)
    assert episode.ee.dtype == np.int64
    assert np.all(episode.ee == want.end_effector.token)
    if want.end_effector is SPATULA:
        assert episode.robot_components == [2, 3]
    else:
        assert episode.robot_components == [2, 3, 4]

    assert set(episode.prompt_assets) == set(placeholders(episode.prompt))
    for asset in episode.prompt_assets.values():
        assert asset.obj_info
        for view in (View.front, View.top):
            assert asset.rgb[view].shape == (3, FRAME_HEIGHT, FRAME_WIDTH)
            assert asset.segm[view].shape == (FRAME_HEIGHT, FRAME_WIDTH)
        expected_order = (
            [View.front, View.top]
            if asset.placeholder_type is PlaceholderType.object
            else [View.top, View.front]
        )
        assert list(asset.rgb) == expected_order


def test_deep_read_equals_fast_read(sample_dir: Path) -> None:
    assert read_episode(sample_dir, deep=True) == read_episode(sample_dir)


def test_task_and_index_overrides(sample_dir: Path) -> None:
    episode = read_episode(sample_dir, task=Task.rotate, index=42)
    assert episode.task is Task.rotate
    assert episode.index == 42


def test_alias_task_folder_and_index_from_folder_name(copy_episode) -> None:
    path = copy_episode("sweep_without_exceeding", folder_task="sweep", index="000007")
    episode = read_episode(path)
    assert episode.task is Task.sweep_without_exceeding
    assert episode.index == 7


def test_nonexistent_folder(tmp_path: Path) -> None:
    missing = tmp_path / "rotate" / "000000"
    with pytest.raises(EpisodeError) as info:
        read_episode(missing)
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)
