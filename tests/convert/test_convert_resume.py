"""Resuming interrupted runs: the finished dataset equals that of a clean, uninterrupted run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
from synthetic_corpus import write_corpus
from vima_convert.episode_file import is_complete
from vima_convert.parse import in_shard, parse
from vima_schema.models import Episode

from .conftest import (
    CORPUS_EPISODES,
    CORPUS_VALID,
    REPO_ROOT,
    RunCli,
    file_bytes,
    parsed_files,
    shard_files,
)

_SUMMARY = re.compile(r"(\d+) written, (\d+) already done, (\d+) failed")


def counts(err: str) -> tuple[int, int, int]:
    written, skipped, failed = _SUMMARY.findall(err)[0]
    return int(written), int(skipped), int(failed)


def test_resume_after_simulated_kill_gives_identical_dataset(
    tmp_path: Path, run_cli: RunCli, corpus: Path, clean_parsed: Path, clean_dataset: Path
) -> None:
    parsed = tmp_path / "parsed"
    first = parse([str(corpus)], parsed, shard=(0, 2))
    done = sorted(parsed.glob("*/*.arrow"))
    assert first.written == len(done) > 2
    clean = {p.relative_to(clean_parsed).as_posix(): p for p in clean_parsed.glob("*/*.arrow")}
    todo = sorted(set(clean) - {p.relative_to(parsed).as_posix() for p in done})
    assert len(todo) > 2
    for name in todo:
        folder = corpus / name.split("/")[0] / name[-len("000000.arrow") : -len(".arrow")]
        assert not in_shard(folder, (0, 2))
    data = {name: clean[name].read_bytes() for name in clean}
    # What a kill leaves behind: the atomic writer's temporary file, half written ...
    stray = parsed / f".{Path(todo[0]).name}.tmp"
    stray.write_bytes(data[todo[0]][: len(data[todo[0]]) // 2])
    mkstemp_stray = parsed / todo[1].split("/")[0] / f".{Path(todo[1]).name}.k3j2x9.tmp"
    mkstemp_stray.write_bytes(data[todo[1]][:100])
    # ... and files written in place by an older, non-atomic tool: truncated, empty, garbage.
    broken = {
        parsed / todo[2]: data[todo[2]][: len(data[todo[2]]) - 10],
        done[0]: b"",
        done[1]: b"ARROW1\x00\x00" + b"\x00" * 64,
    }
    for path, content in broken.items():
        path.write_bytes(content)
        assert not is_complete(path)
    assert all(is_complete(p) for p in done[2:])

    run = run_cli("parse", corpus, "--out", parsed)
    assert run.code == 0, run.err
    assert run.last_line == str(parsed)
    assert counts(run.err) == (CORPUS_EPISODES - len(done) + 2, len(done) - 2, 0)
    assert all(is_complete(parsed / name) for name in clean)
    assert parsed_files(parsed) == parsed_files(clean_parsed)

    dataset = tmp_path / "dataset"
    run = run_cli("build", parsed, "--out", dataset, "--valid-size", str(CORPUS_VALID))
    assert run.code == 0, run.err
    assert run.last_line == str(dataset)
    assert shard_files(dataset) == shard_files(clean_dataset)
    assert file_bytes(dataset) == file_bytes(clean_dataset)


def test_resume_after_interrupted_build(
    tmp_path: Path,
    run_cli: RunCli,
    clean_parsed: Path,
    clean_dataset: Path,
    dataset_copy: Path,
) -> None:
    parsed_dir = dataset_copy / "original" / "parsed"
    # Killed while writing a task folder under its temporary name ...
    staging = parsed_dir / ".twist.a1b2c3.tmp"
    staging.mkdir()
    (staging / "train-00000-of-00001.parquet").write_bytes(b"PAR1 not finished")
    (staging / ".valid-00000-of-00001.parquet.tmp").write_bytes(b"PAR1")
    # ... and while swapping a finished task folder in (old one moved aside, new not yet in).
    aside = parsed_dir / ".rotate.d4e5f6.tmp"
    aside.mkdir()
    (parsed_dir / "rotate").rename(aside / "old")

    run = run_cli("build", clean_parsed, "--out", dataset_copy, "--valid-size", str(CORPUS_VALID))
    assert run.code == 0, run.err
    assert shard_files(dataset_copy) == shard_files(clean_dataset)
    assert file_bytes(dataset_copy) == file_bytes(clean_dataset)
    loaded = datasets.load_dataset(
        str(dataset_copy), "original--parsed", cache_dir=str(tmp_path / "cache")
    )
    assert sum(loaded.num_rows.values()) == CORPUS_EPISODES


@pytest.fixture
def small_corpus(tmp_path: Path, sample_episodes: list[Episode]) -> Path:
    """40 fresh episodes (indices 100..139) of every sample task."""
    root = tmp_path / "raw"
    write_corpus(sample_episodes, root, 40, start=100)
    return root


def test_resume_after_sigkill_gives_identical_dataset(
    tmp_path: Path, run_cli: RunCli, small_corpus: Path
) -> None:
    clean = tmp_path / "clean"
    assert parse([str(small_corpus)], clean).written == 40
    parsed = tmp_path / "parsed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "vima_convert", "parse", str(small_corpus)]
    command += ["--out", str(parsed), "--workers", "1"]
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as process:
        give_up = time.monotonic() + 120  # guard against a hung child, not a timing check
        while process.poll() is None and not any(parsed.glob("*/*.arrow")):
            if time.monotonic() > give_up:
                break
            time.sleep(0.001)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (0, -signal.SIGKILL), stderr.decode()
    left = sorted(parsed.glob("*/*.arrow"))
    assert left, "the killed run wrote nothing"
    assert all(is_complete(p) for p in left)  # atomic writes: whatever exists is complete

    run = run_cli("parse", small_corpus, "--out", parsed)
    assert run.code == 0, run.err
    assert counts(run.err) == (40 - len(left), len(left), 0)
    assert parsed_files(parsed) == parsed_files(clean)

    run_cli("build", clean, "--out", tmp_path / "clean-dataset", "--valid-size", "0.25")
    run = run_cli("build", parsed, "--out", tmp_path / "dataset", "--valid-size", "0.25")
    assert run.code == 0, run.err
    assert shard_files(tmp_path / "dataset") == shard_files(tmp_path / "clean-dataset")
    assert len(shard_files(tmp_path / "dataset")) > 9
