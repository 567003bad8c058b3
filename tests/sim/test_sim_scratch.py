"""No scratch file of vima-sim outlives its run: workers' folders, and killed runs' folders."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from vima_sim import scratch


def _generate(out: Path, episodes: int, workers: int) -> list[str]:
    """`vima-sim generate rotate` writing to `out`."""
    return [sys.executable, "-m", "vima_sim", "generate", "rotate", "--out", str(out),
            "--episodes", str(episodes), "--workers", str(workers)]  # fmt: skip


def _env(tmp: Path) -> dict[str, str]:
    """This environment with the temporary folder `tmp`."""
    return {**os.environ, "TMPDIR": str(tmp)}


def test_generate_with_workers_leaves_no_files(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "raw"
    done = subprocess.run(
        _generate(out, 2, 2), env=_env(tmp), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("rotate/*/obs.pkl"))) == 2
    assert list(tmp.iterdir()) == []


def _worker_folders(tmp: Path, count: int, process: subprocess.Popen[bytes]) -> list[Path]:
    """Wait until `count` processes have written template files into their folders."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        folders = [f for f in tmp.glob(f"{scratch.PREFIX}*") if any(f.glob("world-*/*.urdf"))]
        if len(folders) >= count:
            return folders
        time.sleep(0.05)
    raise AssertionError(f"no {count} workers wrote template files (exit {process.poll()})")


def test_killed_run_is_cleaned_by_the_next(tmp_path: Path) -> None:
    """SIGKILL of a worker, then of the whole run: its folders stay until the next run, which
    removes them and its own."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    process = subprocess.Popen(
        _generate(tmp_path / "killed", 50, 2),
        env=_env(tmp),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        worker = _worker_folders(tmp, 2, process)[0]
        os.kill(int(worker.name.rsplit("-", 2)[1]), signal.SIGKILL)
        _worker_folders(tmp, 2, process)  # the pool's replacement worker is at work
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert list(tmp.iterdir())  # a killed run cannot clean up after itself
    done = subprocess.run(
        _generate(tmp_path / "next", 1, 1),
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp.iterdir()) == []


def test_only_folders_of_gone_processes_of_this_host_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    host = socket.gethostname()
    names = {
        "running": f"{scratch.PREFIX}{host}-{os.getppid()}-a",
        "gone": f"{scratch.PREFIX}{host}-{gone.pid}-b",
        "other host": f"{scratch.PREFIX}elsewhere-{gone.pid}-c",
        "not ours": f"{scratch.PREFIX}{host}-notapid-d",
        "an earlier process with this id": f"{scratch.PREFIX}{host}-{os.getpid()}-e",
    }
    for name in names.values():
        (tmp_path / name / "world-x").mkdir(parents=True)
    scratch.remove_stale()
    left = {path.name for path in tmp_path.iterdir()}
    assert left == {names["running"], names["other host"], names["not ours"]}
