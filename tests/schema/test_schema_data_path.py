"""Crash-safe writes, link cycles, failure records, format checks and
shard statistics of vima-schema (regression tests of issue 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vima_schema import atomic
from vima_schema.dataset_meta import (
    FORMAT_VERSION,
    DatasetFormatError,
    info_path,
    read_meta,
)
from vima_schema.discover import find_episodes
from vima_schema.parquet_shard import shard_writer
from vima_schema.record import hf_schema
from vima_schema.runner import append_failure, run_items


def test_atomic_write_fsyncs_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "data.bin"
    atomic.atomic_write_bytes(target, b"payload")
    assert target.read_bytes() == b"payload"
    assert any(Path(path).name.startswith(".data.bin.") for path in synced)  # the file
    assert str(tmp_path) in synced  # the folder, after the rename


def _folder(path: Path, content: str) -> Path:
    path.mkdir()
    (path / "file.txt").write_text(content)
    return path


def test_replace_directory_swaps_in_the_new_copy(tmp_path: Path) -> None:
    target = _folder(tmp_path / "target", "old")
    atomic.replace_directory(_folder(tmp_path / "new", "new"), target)
    assert (target / "file.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_replace_directory_keeps_the_old_copy_when_the_new_cannot_move_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _folder(tmp_path / "target", "old")
    source = _folder(tmp_path / "new", "new")
    monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)  # no renameat2
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(src) == source:
            raise OSError("simulated crash while moving the new copy in")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"):
        atomic.replace_directory(source, target)
    assert (target / "file.txt").read_text() == "old"


def test_find_episodes_skips_link_cycles(tmp_path: Path) -> None:
    episode = tmp_path / "raw" / "twist" / "000000"
    episode.mkdir(parents=True)
    (tmp_path / "raw" / "twist" / "again").symlink_to(tmp_path / "raw")  # a cycle
    assert list(find_episodes([tmp_path / "raw"])) == [episode]


def _broken(item: int) -> int:
    raise KeyError("obj_info")


def test_failures_keep_the_exception_type_and_traceback(tmp_path: Path) -> None:
    (outcome,) = run_items(_broken, [1])
    assert outcome.error == "'obj_info'"
    assert outcome.error_type == "KeyError"
    assert outcome.traceback is not None and "Traceback" in outcome.traceback
    assert "_broken" in outcome.traceback
    failures = tmp_path / "failures.jsonl"
    append_failure(
        failures, "item", outcome.error, error_type=outcome.error_type, traceback=outcome.traceback
    )
    record = json.loads(failures.read_text())
    assert record["type"] == "KeyError" and "_broken" in record["traceback"]


def test_meta_is_checked_on_load(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match="missing"):
        read_meta(tmp_path)
    path = info_path(tmp_path)
    path.parent.mkdir()
    path.write_text(json.dumps({"format_version": FORMAT_VERSION, "configs": {}}))
    assert read_meta(tmp_path)["format_version"] == FORMAT_VERSION
    path.write_text(json.dumps({"format_version": FORMAT_VERSION + 1, "configs": {}}))
    with pytest.raises(DatasetFormatError, match=f"version {FORMAT_VERSION + 1}.*newer"):
        read_meta(tmp_path)
    path.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="unreadable"):
        read_meta(tmp_path)


def test_shards_have_statistics_only_on_scalar_columns(tmp_path: Path) -> None:
    from vima_schema.record import SCHEMA

    row = {name: None for name in SCHEMA.names}
    row.update(task=3, index=7, steps=1, frames_front=[b"\xff" * 5000], segm_front=b"\0" * 9000)
    path = tmp_path / "train-00000-of-00001.parquet"
    with shard_writer(path, hf_schema()) as writer:
        writer.write_table(pa.Table.from_pylist([row], schema=hf_schema()))
    group = pq.read_metadata(path).row_group(0)
    with_stats = {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).is_stats_set
    }
    assert {"task", "index", "steps", "seed", "success"} <= with_stats
    assert not {p for p in with_stats if "frames" in p or "segm" in p or "prompt" in p}
    assert pq.read_metadata(path).serialized_size < 8000  # 20-34 KB with binary statistics
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
