"""Streaming per-episode results to parquet parts, resuming, and merging them.

Finished episodes are written in small parts (`parts/part-<n>.parquet`, each written
atomically), so a killed run loses at most the episodes not yet flushed. At the end every row
(earlier `episodes.parquet` included) is written, sorted, to `episodes.parquet` and the parts are
removed. Reading always de-duplicates by `result_key`, so an interrupted finish (merged file
written, parts not yet removed) cannot produce duplicates.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vima_schema.enums import Task

from vima_eval.results import RESULTS_FILE, read_results, write_results

PARTS = "parts"


def result_key(row: dict[str, Any]) -> tuple[str, str, str, int, str]:
    """What makes a row unique: checkpoint, difficulty, perturbation, its seed and episode."""
    return (row["checkpoint"], row["difficulty"], row["perturbation"], row["seed"], row["episode"])


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in a canonical order: perturbation, level, task number, episode number."""

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        number = int(row["episode"].rsplit("/", 1)[-1])
        return (row["checkpoint"], row["perturbation"], row["seed"], row["difficulty"],
                row["level"], Task[row["task"]].value, number)  # fmt: skip

    return sorted(rows, key=order)


def result_files(folder: Path) -> list[Path]:
    """The merged result table and the parts of a run folder (those that exist)."""
    files = sorted((folder / PARTS).glob("part-*.parquet")) if (folder / PARTS).is_dir() else []
    merged = folder / RESULTS_FILE
    return ([merged] if merged.is_file() else []) + files


def read_rows(folders: Sequence[Path]) -> list[dict[str, Any]]:
    """Every result row of run folders, de-duplicated by `result_key` (first one kept)."""
    rows: dict[tuple[str, str, str, int, str], dict[str, Any]] = {}
    for folder in folders:
        for path in result_files(folder):
            for row in read_results(path).to_pylist():
                rows.setdefault(result_key(row), row)
    return list(rows.values())


class PartWriter:
    """Appends rows to a run folder as numbered parquet parts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / PARTS
        self.folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.stem.split("-")[1]) for p in self.folder.glob("part-*.parquet")]
        self.next = max(numbers, default=-1) + 1
        self.pending: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        """Queue one row (written by the next `flush`)."""
        self.pending.append(row)

    def flush(self) -> None:
        """Write the queued rows as one new part."""
        if not self.pending:
            return
        write_results(self.folder / f"part-{self.next:06d}.parquet", self.pending)
        self.next += 1
        self.pending = []


def finish(folder: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write all `rows` sorted into `folder/episodes.parquet`, then remove the parts."""
    path = write_results(folder / RESULTS_FILE, sort_rows(rows))
    shutil.rmtree(folder / PARTS, ignore_errors=True)
    return path
