"""Environment errors are not data errors: a full disk, a read-only or vanished output folder
stop vima-convert at once with one line (exit 3), list nothing in failures.jsonl, and a rerun
resumes to the result of a clean run. The disks are real (a small tmpfs, see
`small_filesystem`); the tests are skipped where mounting one is not allowed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import vima_convert.parse
from killed_writer import leftovers_of_a_killed_writer
from small_filesystem import remount, small_filesystem
from vima_schema.runner import EXIT_ERROR, EXIT_OK

from .conftest import CORPUS_EPISODES, CORPUS_VALID, RunCli, parsed_files, shard_files

BIN = Path(sys.executable).parent


def stop_line(stderr: str, command: str) -> str:
    """The one line of a stopped command (asserting there is exactly one, and no traceback)."""
    lines = [line for line in stderr.splitlines() if ": stopped: " in line]
    assert len(lines) == 1 and lines[0].startswith(f"vima-convert {command}: stopped: "), stderr
    assert "Traceback" not in stderr and "skipped" not in stderr, stderr
    assert lines[0].endswith("then rerun: it resumes where this run stopped)"), lines[0]
    return lines[0]


def temporaries(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.endswith(".tmp")]


def test_parse_into_a_full_disk_stops_at_once_and_a_rerun_resumes(
    tmp_path: Path, run_cli: RunCli, corpus: Path, clean_parsed: Path
) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=300) as disk:
        parsed = disk / "parsed"
        done = subprocess.run(
            [BIN / "vima-convert", "parse", corpus, "--out", parsed, "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == EXIT_ERROR, done.stderr
        line = stop_line(done.stderr, "parse")
        assert f"no space left on device: {parsed}/" in line and "(free some space" in line
        assert not (parsed / "failures.jsonl").exists()  # no episode was bad
        assert 0 < len(parsed_files(parsed)) < CORPUS_EPISODES
        remount(disk, "size=8m")
        run = run_cli("parse", corpus, "--out", parsed)
        assert run.code == EXIT_OK, run.err
        assert parsed_files(parsed) == parsed_files(clean_parsed)
        assert not (parsed / "failures.jsonl").exists()
        assert temporaries(parsed) == []  # those of the stopped workers too


def test_parse_into_a_read_only_folder_stops_with_one_line(
    tmp_path: Path, run_cli: RunCli, corpus: Path
) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=1024) as disk:
        parsed = disk / "parsed"
        parsed.mkdir()
        remount(disk, "ro")
        run = run_cli("parse", corpus, "--out", parsed)
        assert run.code == EXIT_ERROR
        line = stop_line(run.err, "parse")
        assert f"read-only file system: {parsed}/" in line and "(make it writable" in line
        assert "1 failed" not in run.err


def test_parse_stops_when_its_output_folder_vanishes(
    tmp_path: Path, run_cli: RunCli, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = tmp_path / "parsed"
    read = vima_convert.parse.read_episode
    calls = []

    def read_then_delete(folder: Path, **kwargs: Any) -> Any:
        calls.append(folder)
        if len(calls) == 3:
            shutil.rmtree(parsed)  # deleted by someone else mid-run
        return read(folder, **kwargs)

    monkeypatch.setattr(vima_convert.parse, "read_episode", read_then_delete)
    run = run_cli("parse", corpus, "--out", parsed)
    assert run.code == EXIT_ERROR
    assert f"the output folder {parsed} vanished or was replaced" in stop_line(run.err, "parse")
    assert len(calls) == 3  # stopped at once


def test_build_into_a_full_disk_stops_and_a_rerun_builds_the_same(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, clean_dataset: Path
) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=300) as disk:
        dataset = disk / "dataset"
        args = ("build", clean_parsed, "--out", dataset, "--valid-size", str(CORPUS_VALID))
        run = run_cli(*args)
        assert run.code == EXIT_ERROR
        assert "no space left on device" in stop_line(run.err, "build")
        assert temporaries(disk) == []
        remount(disk, "size=8m")
        run = run_cli(*args)
        assert run.code == EXIT_OK, run.err
        assert shard_files(dataset) == shard_files(clean_dataset)


def test_export_raw_into_a_read_only_folder_stops_with_one_line(
    tmp_path: Path, run_cli: RunCli, clean_dataset: Path
) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=1024) as disk:
        remount(disk, "ro")
        run = run_cli("export-raw", clean_dataset, "--out", disk / "raw")
        assert run.code == EXIT_ERROR
        assert f"read-only file system: {disk / 'raw'}" in stop_line(run.err, "export-raw")


def test_a_bug_in_stats_once_the_dataset_is_read_exits_3(
    run_cli: RunCli, clean_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise ValueError("a bug in the statistics")

    monkeypatch.setattr("vima_convert.stats.summarize", broken)
    run = run_cli("stats", clean_dataset)
    assert run.code == EXIT_ERROR
    assert "unexpected error: ValueError: a bug in the statistics" in run.err


def test_export_raw_removes_what_a_killed_export_left(
    tmp_path: Path, run_cli: RunCli, clean_dataset: Path
) -> None:
    raw = tmp_path / "raw"
    options = ("--config", "original--parsed--rotate")
    assert run_cli("export-raw", clean_dataset, "--out", raw, *options).code == EXIT_OK
    rotate = raw / "rotate"
    left = leftovers_of_a_killed_writer(rotate / "notes.json", rotate / "000006")
    run = run_cli("export-raw", clean_dataset, "--out", raw, *options, "--overwrite")
    assert run.code == EXIT_OK, run.err
    assert not any(path.exists() for path in left)
    assert not [path for path in rotate.iterdir() if path.name.startswith(".")]
