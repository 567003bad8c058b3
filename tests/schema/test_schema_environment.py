"""Environment errors against data errors in `run_items`, failures.jsonl tidying, and the
temporary files of killed writers (`vima_schema.runner`, `vima_schema.atomic`)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from killed_writer import leftovers_of_a_killed_writer
from vima_schema.atomic import atomic_output, remove_stale_temporaries, temporary_path
from vima_schema.runner import (
    OutputError,
    append_failure,
    environment_problem,
    run_items,
    tidy_failures,
)


def test_environment_problems_are_told_apart_from_data_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    full = OSError(errno.ENOSPC, "No space left on device", str(out / "a.arrow"))
    problem = environment_problem(full, out)
    assert isinstance(problem, OutputError)
    assert str(problem) == (
        f"no space left on device: {out / 'a.arrow'} "
        "(free some space, then rerun: it resumes where this run stopped)"
    )
    read_only = OSError(errno.EROFS, "Read-only file system")  # a failed write names no file
    assert str(environment_problem(read_only, out)).startswith(f"read-only file system: {out} (")
    wrapped = RuntimeError("shard failed")
    wrapped.__cause__ = full
    assert environment_problem(wrapped, out) is not None  # found behind what it caused
    denied_out = PermissionError(errno.EACCES, "Permission denied", str(out / "x" / "y"))
    denied_in = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "raw" / "y"))
    assert str(environment_problem(denied_out, out)).startswith(
        f"permission denied: {out / 'x' / 'y'} (fix its permissions, then rerun"
    )
    assert environment_problem(denied_in, out) is None  # an unreadable input: that episode's
    assert environment_problem(denied_in) is not None  # a command's own I/O: no output to tell
    assert environment_problem(FileNotFoundError(errno.ENOENT, "gone", "raw/x"), out) is None
    assert environment_problem(ValueError("bad episode"), out) is None


def _write(item: str, out: Path) -> str:
    if item == "bad":
        raise ValueError("a bad episode")
    if item == "full":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    (out / item).write_text(item)
    return item


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out

    def __call__(self, item: str) -> str:
        return _write(item, self.out)


@pytest.mark.parametrize("workers", [1, 2])
def test_run_items_stops_at_a_full_disk_and_lists_bad_items(tmp_path: Path, workers: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = _Writer(out)
    outcomes = list(run_items(writer, ["a", "bad", "b"], workers=workers, output=out))
    assert sorted((o.item, o.error) for o in outcomes) == [
        ("a", None),
        ("b", None),
        ("bad", "a bad episode"),
    ]
    items = ["a", "full", *"bcdefgh"]
    seen = []
    with pytest.raises(OutputError, match="no space left on device"):
        for outcome in run_items(writer, items, workers=workers, output=out, chunksize=1):
            seen.append(outcome.item)
    if workers == 1:
        assert seen == ["a"]  # stopped at once, not carried on past the full disk


def test_run_items_stops_when_the_output_folder_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()

    def replace_output(item: str) -> str:
        if item == "b":
            os.rename(out, tmp_path / "elsewhere")
            out.mkdir()  # as a write that creates its parent folders would
        return item

    with pytest.raises(OutputError, match="vanished or was replaced"):
        for _ in run_items(replace_output, ["a", "b", "c"], output=out):
            pass


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tidy_failures_drops_what_was_written_and_keeps_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    append_failure(path, "a", "first")
    append_failure(path, "b", "broken")
    append_failure(path, "a", "second")
    with path.open("a") as handle:
        handle.write("not json\n")
    tidy_failures(path, {"b"})
    first, other = path.read_text().splitlines()
    assert (json.loads(first)["path"], json.loads(first)["error"]) == ("a", "second")
    assert other == "not json"  # another writer's line is kept
    path.write_text(path.read_text().replace("not json\n", ""))
    tidy_failures(path, {"a"})
    assert not path.exists()  # nothing left to list
    tidy_failures(path, {"a"})  # no file: nothing to do


def test_appends_during_a_tidy_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from vima_schema.runner import append_failure\n"
        "for i in range(200):\n"
        "    append_failure(Path(sys.argv[1]), f'shard-{i}', 'bad')\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)])
    while writer.poll() is None:  # each tidy replaces the file the writer appends to
        append_failure(path, "done", "old")
        tidy_failures(path, {"done"})
    assert writer.returncode == 0
    assert sorted(e["path"] for e in _lines(path)) == sorted(f"shard-{i}" for i in range(200))


def test_temporaries_of_a_killed_writer_are_removed_and_no_others(tmp_path: Path) -> None:
    stale = leftovers_of_a_killed_writer(
        tmp_path / "valid-00000-of-00001.parquet", tmp_path / "000001"
    )
    live = temporary_path(tmp_path / "train-00000-of-00001.parquet")  # this process: running
    elsewhere = tmp_path / ".train-00001-of-00002.parquet.abc123.4242@0badcafe.tmp"
    unnamed = tmp_path / ".train-00001-of-00002.parquet.abc123.tmp"
    for path in (elsewhere, unnamed):
        path.write_bytes(b"")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert live.exists() and elsewhere.exists() and unnamed.exists()
    with atomic_output(tmp_path / "x") as tmp:  # a writer's own name says who wrote it
        assert tmp.name.endswith(f".{os.getpid()}@{live.name.split('@')[1]}")
