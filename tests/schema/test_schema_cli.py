"""`vima-schema validate` and `inspect`, called in-process through `cli.main`."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from vima_schema.cli import main
from vima_schema.reader import read_episode
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, EXIT_USAGE


def test_validate_samples(samples_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(samples_root)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == ""
    assert "11 episodes checked (fast): 11 valid, 0 invalid" in err


def test_validate_deep(samples_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--deep", str(samples_root / "vima-raw")]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == ""
    assert "9 episodes checked (deep): 9 valid" in err


def test_validate_reports_one_corrupt_episode(
    copy_episode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_episode("rotate")
    copy_episode("twist")
    bad = copy_episode("rotate", index="000001")
    (bad / "rgb_top" / "1.jpg").unlink()

    assert main(["validate", str(tmp_path / "raw")]) == EXIT_FAILURES
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report == {
        "path": str(bad),
        "error": "rgb_top/ lacks frame(s) 1.jpg (steps+1 = 2 frames expected)",
    }
    assert "3 episodes checked (fast): 2 valid, 1 invalid" in err


def test_validate_deep_only_failure(copy_episode, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_episode()
    frame = path / "rgb_front" / "0.jpg"
    data = frame.read_bytes()
    middle = (data.index(b"\xff\xda") + len(data)) // 2
    frame.write_bytes(data[:middle] + b"\xff\xc4\x00\x03" + data[middle + 4 :])

    assert main(["validate", str(path)]) == EXIT_OK
    assert capsys.readouterr().out == ""
    assert main(["validate", "--deep", str(path)]) == EXIT_FAILURES
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == str(path)
    assert "rgb_front/0.jpg does not decode" in report["error"]


def test_validate_paths_from_stdin(
    samples_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [samples_root / "vima-raw" / "rotate" / "000000", samples_root / "vima-bench-generated"]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{p}\n" for p in paths) + "\n"))
    assert main(["validate", "-"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == ""
    assert "3 episodes checked" in err


def test_validate_nonexistent_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["validate", str(missing)]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{missing}: no such file or directory" in err


def test_validate_finds_no_episodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == EXIT_USAGE
    assert "no episode folders found" in capsys.readouterr().err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert main(["validate"]) == EXIT_USAGE
    assert main(["frobnicate"]) == EXIT_USAGE
    assert "usage: vima-schema" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("vima-schema ")


def test_inspect(sample_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    episode = read_episode(sample_dir)
    assert main(["inspect", str(sample_dir)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"{episode.task.name} #0 ")
    assert f"prompt:       {episode.prompt}\n" in out
    assert f"{episode.steps} actions, {episode.num_frames} frames per view" in out
    assert f"end effector: {episode.end_effector_type.value}" in out
    assert f"objects ({episode.n_objects}):" in out
    for obj_id, info in episode.objects.items():
        assert f"{obj_id:>3}  {info.texture_name} {info.obj_name}" in out
    assert f"assets ({len(episode.prompt_assets)}):" in out
    for name, asset in episode.prompt_assets.items():
        assert f"{{{name}}} x" in out
        for item in asset.obj_info:
            assert f"{item.obj_color} {item.obj_name}" in out
    variant = "VIMA-Data" if sample_dir.parent.parent.name == "vima-raw" else "VIMA-Bench"
    assert f"{variant} format" in out


def test_inspect_json(sample_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    episode = read_episode(sample_dir)
    assert main(["inspect", "--json", str(sample_dir)]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert set(info) == {
        "task",
        "task_group",
        "index",
        "format",
        "prompt",
        "steps",
        "frames",
        "end_effector",
        "difficulty",
        "seed",
        "success",
        "position_dims",
        "objects",
        "assets",
        "jpeg_bytes",
    }
    assert info["task"] == episode.task.name
    assert info["prompt"] == episode.prompt
    assert info["position_dims"] == episode.actions.pose0_position.shape[1]
    assert [o["obj_id"] for o in info["objects"]] == list(episode.objects)
    assert [a["name"] for a in info["assets"]] == list(episode.prompt_assets)
    assert info["jpeg_bytes"] == sum(p.stat().st_size for p in sample_dir.glob("rgb_*/*.jpg"))


def test_inspect_invalid_episode_is_an_input_error(
    episode: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(episode / "rgb_front")
    assert main(["inspect", str(episode)]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == (
        f"vima-schema inspect: error: invalid episode: {episode}: missing folder rgb_front/"
    )
