"""Broken episode folders: each corruption is refused with a message naming path and problem."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vima_schema.reader import EpisodeError, read_episode
from vima_schema.writer import write_episode

# The `episode` fixture is a copy of vima-raw/rotate: 1 step (frames 0.jpg, 1.jpg), 2 objects,
# one object asset `{dragged_obj}`.


def read_error(path: Path, *, deep: bool = False) -> str:
    """Read `path`, expect EpisodeError, check it names the folder, return the message."""
    with pytest.raises(EpisodeError) as info:
        read_episode(path, deep=deep)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert info.value.path == path
    assert info.value.problems and "; ".join(info.value.problems) in message
    return message


@pytest.mark.parametrize("name", ["obs.pkl", "action.pkl", "trajectory.pkl"])
def test_missing_pickle(episode: Path, name: str) -> None:
    (episode / name).unlink()
    assert f"missing file {name}" in read_error(episode)


def test_missing_frame_folder(episode: Path) -> None:
    shutil.rmtree(episode / "rgb_top")
    message = read_error(episode)
    assert "missing folder rgb_top/" in message
    assert "rgb_front" not in message


def test_unexpected_file(episode: Path) -> None:
    (episode / "notes.txt").write_text("hello")
    assert "unexpected entry 'notes.txt'" in read_error(episode)


@pytest.mark.parametrize("name", ["obs.pkl", "action.pkl", "trajectory.pkl"])
def test_truncated_pickle(episode: Path, name: str) -> None:
    data = (episode / name).read_bytes()
    (episode / name).write_bytes(data[: len(data) // 2])
    message = read_error(episode)
    assert f"{name}: pickle is" in message
    assert "truncated" in message


def test_garbage_pickle(episode: Path) -> None:
    (episode / "trajectory.pkl").write_bytes(b"this is not a pickle at all\n" * 16)
    assert "trajectory.pkl: pickle is corrupt" in read_error(episode)


def test_empty_pickle(episode: Path) -> None:
    (episode / "action.pkl").write_bytes(b"")
    assert "action.pkl: file is empty" in read_error(episode)


def test_missing_frame(episode: Path) -> None:
    (episode / "rgb_front" / "1.jpg").unlink()
    message = read_error(episode)
    assert "rgb_front/ lacks frame(s) 1.jpg" in message
    assert "rgb_top" not in message


def test_extra_frame(episode: Path) -> None:
    shutil.copyfile(episode / "rgb_front" / "1.jpg", episode / "rgb_front" / "2.jpg")
    assert "rgb_front/ has unexpected file(s) 2.jpg" in read_error(episode)


def test_frame_count_does_not_match_steps(episode: Path, edit_pickle) -> None:
    edit_pickle(episode / "trajectory.pkl", lambda t: t.update(steps=t["steps"] + 1))
    message = read_error(episode)
    assert "action.pkl 'pose0_position' has 1 actions but 'steps' is 2" in message
    assert "obs.pkl segm 'front' has 2 frames, expected steps+1 = 3" in message
    assert "rgb_front/ lacks frame(s) 2.jpg" in message
    assert "rgb_top/ lacks frame(s) 2.jpg" in message


def test_steps_changed_through_the_model(episode: Path, tmp_path: Path) -> None:
    model = read_episode(episode)
    written = write_episode(model.model_copy(update={"steps": model.steps + 1}), tmp_path / "out")
    message = read_error(written)
    assert "'steps' is 2" in message
    assert "lacks frame(s) 2.jpg" in message


def test_segm_wrong_dtype(episode: Path, edit_pickle) -> None:
    def change(obs: dict[str, Any]) -> None:
        obs["segm"]["front"] = obs["segm"]["front"].astype(np.int64)

    edit_pickle(episode / "obs.pkl", change)
    assert "obs.pkl: segm.front: Value error, expected dtype uint8, got int64" in read_error(
        episode
    )


def test_segm_wrong_shape(episode: Path, edit_pickle) -> None:
    def change(obs: dict[str, Any]) -> None:
        obs["segm"]["top"] = obs["segm"]["top"].reshape(2, 256, 128)

    edit_pickle(episode / "obs.pkl", change)
    message = read_error(episode)
    assert "obs.pkl: segm.top" in message
    assert "expected shape (N, 128, 256), got (2, 256, 128)" in message


def test_rotation_wrong_shape(episode: Path, edit_pickle) -> None:
    def change(action: dict[str, Any]) -> None:
        action["pose1_rotation"] = np.ascontiguousarray(action["pose1_rotation"][:, :3])

    edit_pickle(episode / "action.pkl", change)
    message = read_error(episode)
    assert "action.pkl: actions.pose1_rotation" in message
    assert "expected shape (N, 4), got (1, 3)" in message


def test_asset_image_wrong_shape(episode: Path, edit_pickle) -> None:
    def change(traj: dict[str, Any]) -> None:
        traj["prompt_assets"]["dragged_obj"]["rgb"]["top"] = np.zeros((3, 128, 255), np.uint8)

    edit_pickle(episode / "trajectory.pkl", change)
    message = read_error(episode)
    assert "trajectory.pkl: prompt_assets.dragged_obj.rgb.top" in message
    assert "expected shape (3, 128, 256), got (3, 128, 255)" in message


def test_truncated_jpeg_caught_by_fast_check(episode: Path) -> None:
    frame = episode / "rgb_front" / "1.jpg"
    data = frame.read_bytes()
    frame.write_bytes(data[: len(data) // 2])
    assert "rgb_front/1.jpg is truncated (no end-of-image marker)" in read_error(episode)
    assert "rgb_front/1.jpg" in read_error(episode, deep=True)


def test_not_a_jpeg(episode: Path) -> None:
    (episode / "rgb_top" / "0.jpg").write_bytes(b"GIF89a" + bytes(100))
    assert "rgb_top/0.jpg is not a JPEG" in read_error(episode)


def test_jpeg_wrong_size(episode: Path) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (128, 128)).save(buffer, format="JPEG")
    (episode / "rgb_top" / "0.jpg").write_bytes(buffer.getvalue())
    assert "rgb_top/0.jpg is 128x128 with 3 channels, expected 256x128 RGB" in read_error(episode)


def test_corrupt_entropy_data_caught_only_by_deep_check(episode: Path) -> None:
    frame = episode / "rgb_front" / "0.jpg"
    data = frame.read_bytes()
    scan = data.index(b"\xff\xda")  # headers up to the start of scan stay intact
    middle = (scan + len(data)) // 2
    # A stray marker segment in the middle of the entropy-coded data: end markers intact.
    frame.write_bytes(data[:middle] + b"\xff\xc4\x00\x03" + data[middle + 4 :])

    read_episode(episode)  # the fast check only reads headers and end marker
    message = read_error(episode, deep=True)
    assert "rgb_front/0.jpg does not decode" in message


def test_placeholder_without_asset(episode: Path, edit_pickle) -> None:
    edit_pickle(episode / "trajectory.pkl", lambda t: t.update(prompt=t["prompt"] + " Then {foo}."))
    assert "prompt placeholder {foo} has no prompt asset" in read_error(episode)


def test_asset_without_placeholder(episode: Path, edit_pickle) -> None:
    def change(traj: dict[str, Any]) -> None:
        traj["prompt_assets"]["bar"] = traj["prompt_assets"]["dragged_obj"]

    edit_pickle(episode / "trajectory.pkl", change)
    assert "prompt asset 'bar' is not used by any placeholder" in read_error(episode)


def test_missing_trajectory_key(episode: Path, edit_pickle) -> None:
    edit_pickle(episode / "trajectory.pkl", lambda t: t.pop("seed"))
    assert "trajectory.pkl lacks key(s) 'seed'" in read_error(episode)


def test_unexpected_trajectory_key(episode: Path, edit_pickle) -> None:
    edit_pickle(episode / "trajectory.pkl", lambda t: t.update(reward=1.0))
    assert "trajectory.pkl has unexpected key(s) 'reward'" in read_error(episode)


def test_unknown_task_folder(copy_episode) -> None:
    path = copy_episode(folder_task="not_a_task")
    assert "parent folder 'not_a_task' is not a VIMA task name" in read_error(path)


def test_episode_folder_not_digits(copy_episode) -> None:
    path = copy_episode(index="first")
    assert "folder name 'first' is not an episode index" in read_error(path)


def test_n_objects_mismatch(episode: Path, edit_pickle) -> None:
    edit_pickle(episode / "trajectory.pkl", lambda t: t.update(n_objects=t["n_objects"] + 1))
    assert "'n_objects' is 3 but obj_id_to_info has 2 objects" in read_error(episode)


def test_end_effector_does_not_match_ee(episode: Path, edit_pickle) -> None:
    edit_pickle(episode / "trajectory.pkl", lambda t: t.update(end_effector_type="spatula"))
    assert "obs.pkl 'ee' is not constantly 1 for end effector 'spatula'" in read_error(episode)


def test_bounds_width_does_not_match_positions(episode: Path, edit_pickle) -> None:
    def change(traj: dict[str, Any]) -> None:
        traj["action_bounds"]["low"] = traj["action_bounds"]["low"][:2].copy()

    edit_pickle(episode / "trajectory.pkl", change)
    assert "action_bounds 'low' has shape (2,) but positions are 3-D" in read_error(episode)


def test_every_problem_is_listed(episode: Path) -> None:
    (episode / "obs.pkl").unlink()
    (episode / "extra.bin").write_bytes(b"")
    shutil.rmtree(episode / "rgb_front")
    with pytest.raises(EpisodeError) as info:
        read_episode(episode)
    assert info.value.problems == [
        "missing file obs.pkl",
        "missing folder rgb_front/",
        "unexpected entry 'extra.bin'",
    ]
