"""`vima-eval online` / `oracle` when its workers or its disk fail: a worker process killed by
SIGKILL (the OOM killer, a crash in native code) costs one retry and then its episode, never
the run; a full disk, a read-only or vanished run folder stops the run at once with one line
(exit 3), lists no episode as failed, and `--resume` finishes it. The disks are real (a small
tmpfs, see `small_filesystem`); those tests are skipped where mounting one is not allowed."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import vima_sim.env
from small_filesystem import remount, small_filesystem
from vima_eval.online.seeds import episode_seed
from vima_schema.runner import EXIT_ERROR, EXIT_FAILURES, EXIT_OK

from .conftest import RunEval

ARGS = ("oracle", "--levels", "L1", "--tasks", "rotate", "--wandb", "disabled")


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(folder / "episodes.parquet").to_pylist()
    for row in rows:
        row.pop("time_s")
    return sorted(rows, key=lambda row: row["episode"])


def _on_reset(monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Make every simulator call `act(seed)` as it resets (workers fork: they inherit it)."""
    reset = vima_sim.env.VimaEnv.reset

    def patched(self: Any, *args: Any, seed: int | None = None, **kwargs: Any) -> Any:
        act(seed)
        return reset(self, *args, seed=seed, **kwargs)

    monkeypatch.setattr(vima_sim.env.VimaEnv, "reset", patched)


def stop_line(stderr: str) -> str:
    """The one line of a stopped run (asserting there is one, no traceback, no failed episode)."""
    lines = [line for line in stderr.splitlines() if ": stopped: " in line]
    assert len(lines) == 1 and lines[0].startswith("vima-eval oracle: stopped: "), stderr
    assert "Traceback" not in stderr and "failed twice" not in stderr, stderr
    assert lines[0].endswith("then rerun: it resumes where this run stopped)"), lines[0]
    return lines[0]


def test_a_worker_killed_by_sigkill_costs_its_episode_not_the_run(
    tmp_path: Path, run_eval: RunEval, monkeypatch: pytest.MonkeyPatch
) -> None:
    always, once = episode_seed(0, 1, "rotate", 1), episode_seed(0, 1, "rotate", 2)
    marks = tmp_path / "marks"
    marks.mkdir()

    def kill(seed: int | None) -> None:
        (marks / f"{seed}-{os.getpid()}").touch()
        if seed == always or (seed == once and len(list(marks.glob(f"{once}-*"))) == 1):
            os.kill(os.getpid(), signal.SIGKILL)

    _on_reset(monkeypatch, kill)
    out = tmp_path / "run"
    run = run_eval(*ARGS, "--episodes", "4", "--workers", "2", "--out", out)
    assert run.code == EXIT_FAILURES, run.err
    assert "L1/rotate/1 (noop): worker process died (exit code -9, killed by SIGKILL)" in run.err
    assert [r["episode"] for r in _rows(out)] == ["L1/rotate/0", "L1/rotate/2", "L1/rotate/3"]
    (error,) = json.loads((out / "errors.json").read_text())
    assert error["episode"] == "L1/rotate/1" and "killed by SIGKILL" in error["problem"]
    killed = {path.name.split("-")[1] for path in marks.glob(f"{always}-*")}
    assert len(killed) == 2  # the retry ran in a new worker
    assert len(list(marks.glob(f"{once}-*"))) == 2  # killed once, done on its retry
    monkeypatch.undo()
    resumed = run_eval(*ARGS, "--episodes", "4", "--workers", "2", "--out", out, "--resume")
    assert resumed.code == EXIT_OK, resumed.err
    assert "1 episodes, 3 already done, 0 failed" in resumed.err
    assert [r["episode"] for r in _rows(out)] == [f"L1/rotate/{n}" for n in range(4)]
    assert json.loads((out / "errors.json").read_text()) == []


def test_a_full_disk_in_the_workers_stops_the_run_and_resume_finishes_it(
    tmp_path: Path, run_eval: RunEval
) -> None:
    args = (*ARGS, "--episodes", "4", "--record", "4", "--workers", "2", "--flush-every", "1")
    clean = run_eval(*args, "--out", tmp_path / "clean")
    assert clean.code == EXIT_OK, clean.err
    with small_filesystem(tmp_path / "disk", size_kb=160) as disk:
        out = disk / "run"
        run = run_eval(*args, "--out", out)
        assert run.code == EXIT_ERROR, run.err
        line = stop_line(run.err)
        assert f"no space left on device: {out}" in line and "(free some space" in line
        assert not (out / "errors.json").exists()  # no episode was bad
        remount(disk, "size=8m")
        resumed = run_eval(*args, "--out", out, "--resume")
        assert resumed.code == EXIT_OK, resumed.err
        assert _rows(out) == _rows(tmp_path / "clean")
        assert len(list((out / "videos").glob("*.gif"))) == 4
        assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no leftover temporaries


def test_a_read_only_video_folder_stops_the_run_with_one_line(
    tmp_path: Path, run_eval: RunEval
) -> None:
    out = tmp_path / "run"
    args = (*ARGS, "--episodes", "2", "--record", "1", "--out", out)
    with small_filesystem(out / "videos", size_kb=1024) as videos:
        remount(videos, "ro")
        run = run_eval(*args)
        assert run.code == EXIT_ERROR, run.err
        line = stop_line(run.err)
        assert f"read-only file system: {videos}/" in line and "(make it writable" in line
        remount(videos, "rw")
        resumed = run_eval(*args, "--resume")
        assert resumed.code == EXIT_OK, resumed.err
        assert len(_rows(out)) == 2 and len(list(videos.glob("*.gif"))) == 1


def test_a_run_folder_deleted_mid_run_stops_it_and_is_not_recreated(
    tmp_path: Path, run_eval: RunEval, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    target = episode_seed(0, 1, "rotate", 1)

    def delete(seed: int | None) -> None:
        if seed == target:
            shutil.rmtree(out)  # deleted by someone else mid-run

    _on_reset(monkeypatch, delete)
    run = run_eval(*ARGS, "--episodes", "3", "--out", out)
    assert run.code == EXIT_ERROR, run.err
    assert f"the output folder {out} vanished or was replaced" in stop_line(run.err)
    assert not out.exists()
