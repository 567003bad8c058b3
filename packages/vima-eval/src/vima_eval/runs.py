"""Runs: the per-episode result tables split by (mode, checkpoint, perturbation, difficulty),
and the built-in published rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vima_schema.enums import Task

from vima_eval.reference import VIMA_200M, VIMA_200M_NAME, reference_rates
from vima_eval.results import ONLINE, RESULTS_FILE, read_results

BUILTIN_BASELINES = {"vima-200m": VIMA_200M_NAME}


@dataclass
class Run:
    """The episodes of one (mode, checkpoint, perturbation, difficulty) combination."""

    label: str
    mode: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[tuple[str, int], float] | None = None  # a published row (no episodes)
    perturbation: str = ""
    include_unchanged: bool = False  # score episodes the perturbation did not change too
    source: str = ""  # tells apart two result folders of the same checkpoint (e.g. two simulators)

    @property
    def scored(self) -> list[dict[str, Any]]:
        """The rows that count: those the perturbation changed, unless `include_unchanged`."""
        if self.include_unchanged:
            return self.rows
        return [row for row in self.rows if row["applies"]]

    def cells(self) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """Scored rows per (task, level)."""
        found: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for row in self.scored:
            found[row["task"], row["level"]].append(row)
        return dict(found)


def task_number(task: str) -> int:
    """The paper's task number T1-T17."""
    return Task[task].value + 1


def result_path(path: Path) -> Path:
    """A result table, or the folder holding one (`episodes.parquet`, as `offline` writes)."""
    return path / RESULTS_FILE if path.is_dir() else path


def split_runs(rows: Iterable[dict[str, Any]]) -> list[Run]:
    """Result rows split into runs by (mode, checkpoint, perturbation, difficulty)."""
    runs: dict[tuple[str, str, str, str], Run] = {}
    for row in rows:
        key = (row["mode"], row["checkpoint"], row["perturbation"], row["difficulty"])
        if key not in runs:
            label = f"{row['checkpoint']} / {row['perturbation']}"
            if row["difficulty"] != "easy":
                label += f" / {row['difficulty']}"
            runs[key] = Run(label=label, mode=row["mode"], perturbation=row["perturbation"])
        runs[key].rows.append(row)
    return list(runs.values())


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Read result tables (ResultError for a foreign file) and split them into runs."""
    return split_runs(row for path in paths for row in read_results(result_path(path)).to_pylist())


def builtin_run(name: str) -> Run:
    """A built-in published row by its `--baseline` name."""
    if name != "vima-200m":
        raise ValueError(f"unknown built-in baseline {name!r} (valid: vima-200m)")
    return Run(label=VIMA_200M_NAME, mode=ONLINE, reference=reference_rates(VIMA_200M))
