"""`vima-sim generate` writes valid raw episodes, resumes, and is deterministic under load."""

from __future__ import annotations

import filecmp
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest
from vima_schema.discover import find_episodes
from vima_schema.reader import read_episode
from vima_sim.cli import main


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "failures.jsonl"
    }


def test_generate_valid_and_resumable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "raw"
    code = main(
        ["generate", "rotate", "same_shape", "--episodes", "1", "--out", str(out), "--seed", "7"]
    )
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    folders = list(find_episodes([out]))
    assert len(folders) == 2
    for folder in folders:
        episode = read_episode(folder, deep=True)
        assert episode.success and not episode.failure
        assert episode.steps == {"rotate": 1, "same_shape": 2}[episode.task.name]
        assert episode.n_objects == len(episode.objects)
        assert min(episode.objects) == 5
        assert episode.actions.pose0_position.shape == (episode.steps, 2)
        for view, masks in episode.segm.items():
            assert len(episode.frames[view]) == episode.steps + 1 == len(masks)
    stamp = {str(p): p.stat().st_mtime_ns for p in out.rglob("*.pkl")}
    assert (
        main(
            [
                "generate",
                "rotate",
                "same_shape",
                "--episodes",
                "2",
                "--out",
                str(out),
                "--seed",
                "7",
            ]
        )
        == 0
    )
    assert len(list(find_episodes([out]))) == 4
    assert all(Path(p).stat().st_mtime_ns == t for p, t in stamp.items())  # nothing redone
    capsys.readouterr()
    # another seed, or episodes of another simulator, must not be mixed into the folder
    assert main(["generate", "rotate", "--episodes", "3", "--out", str(out), "--seed", "8"]) == 2
    error = capsys.readouterr().err
    assert "generator.json" in error and "rotate" in error and "seed 7 -> 8" in error
    record_path = out / "generator.json"
    record = json.loads(record_path.read_text())
    assert set(record) == {"rotate", "same_shape"} and record["rotate"]["seed"] == 7
    record["same_shape"]["source_sha256"] = "0" * 64  # written by an edited simulator
    record_path.write_text(json.dumps(record))
    assert (
        main(["generate", "same_shape", "--episodes", "3", "--out", str(out), "--seed", "7"]) == 2
    )
    assert "source_sha256" in capsys.readouterr().err
    assert len(list(find_episodes([out]))) == 4  # nothing written by the refused runs


def test_generate_adopts_a_folder_without_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raw"
    assert main(["generate", "rotate", "--episodes", "1", "--out", str(out)]) == 0
    (out / "generator.json").unlink()
    assert main(["generate", "rotate", "--episodes", "1", "--out", str(out)]) == 0
    assert "without a generator record" in capsys.readouterr().err
    assert json.loads((out / "generator.json").read_text())["rotate"]["seed"] == 0


def test_generate_usage_errors(tmp_path: Path) -> None:
    assert main(["generate", "nope", "--episodes", "1", "--out", str(tmp_path)]) == 2
    assert main(["generate", "rotate", "--episodes", "0", "--out", str(tmp_path)]) == 2
    assert main(["generate", "rotate", "--episodes", "1", "--out", str(tmp_path),
                 "--partition", "novel_task_generalization"]) == 2  # fmt: skip


def _burn(stop: float) -> None:
    while time.time() < stop:
        sum(i * i for i in range(1000))


@pytest.mark.slow
def test_same_seed_same_bytes_under_load(tmp_path: Path) -> None:
    args = ["generate", "manipulate_old_neighbor", "--episodes", "1", "--seed", "42"]
    assert main([*args, "--out", str(tmp_path / "quiet")]) == 0
    stop = time.time() + 60
    burners = [
        multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(os.cpu_count() or 2)
    ]
    for proc in burners:
        proc.start()
    try:
        assert main([*args, "--out", str(tmp_path / "busy")]) == 0
    finally:
        for proc in burners:
            proc.terminate()
            proc.join()
    quiet, busy = _files(tmp_path / "quiet"), _files(tmp_path / "busy")
    assert quiet.keys() == busy.keys() and len(quiet) > 5
    assert all(quiet[k] == busy[k] for k in quiet)
    assert filecmp.dircmp(tmp_path / "quiet", tmp_path / "busy").diff_files == []


def test_show_writes_a_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "vm.png"
    assert main(["show", "visual_manipulation", "--seed", "1", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    from PIL import Image

    with Image.open(out) as image:
        assert image.size[0] >= 512 and image.size[1] > 3 * 128
        pixels = np.asarray(image.convert("RGB"))
    # the bottom row shows the scene from the front and the top: both views rendered
    views = pixels[-128:]
    for half in (views[:, : views.shape[1] // 2], views[:, views.shape[1] // 2 :]):
        assert len(np.unique(half.reshape(-1, 3), axis=0)) > 50 and half.std() > 20
    # the upper half holds the prompt text and the prompt images, drawn on white
    assert (pixels[: pixels.shape[0] // 2].min(axis=2) < 128).mean() > 0.005


def test_check_prints_one_json_row_per_pair(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["check", "rotate", "--seeds", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["partition"], r["task"], r["success"]) for r in rows] == [
        ("placement_generalization", "rotate", 1.0)
    ]
    assert main(["check", "rotate", "--partition", "novel_task_generalization"]) == 2
