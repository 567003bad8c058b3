"""The per-episode result table: one parquet row per evaluated episode.

Online evaluation (simulator roll-outs) fills `success`, `failure`, `steps` (actions taken),
`minimum_steps` and `time_s`; offline (teacher-forced) evaluation fills the `axes_*`,
`steps_all_correct` and `loss_sum` counts, with `steps` the episode's timesteps. Both name the
checkpoint, task, level, difficulty, perturbation and its seed, and the episode's identity
(`episode`), so that results of two runs on the same episodes can be paired; `applies` says
whether the perturbation changed what the model was given (reports average applicable
episodes only) and `vocabulary` where `gobbledygook_tokens` drew its words from. The file's
schema metadata says which schema and version it follows; `read_results` refuses anything else
and reads version 1 tables (before `applies`) by filling `applies` from the perturbation's
task list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from vima_schema.atomic import atomic_write_bytes
from vima_schema.enums import TASK_NAMES

RESULT_SCHEMA_NAME = "vima-eval/episode-results"
RESULT_SCHEMA_VERSION = 2
#: Older versions `read_results` still reads, and the columns they lack.
UPGRADES: dict[int, tuple[str, ...]] = {1: ("applies", "vocabulary")}
METADATA_KEY = b"vima_eval_results"
ONLINE, OFFLINE = "online", "offline"
#: The per-episode result table's file name in a result folder.
RESULTS_FILE = "episodes.parquet"
LEVELS = (1, 2, 3, 4)
"""Evaluation levels L1-L4 (placement, combinatorial, novel object, novel task); 0 = none."""

FIELDS: dict[str, tuple[pa.DataType, bool, str]] = {
    "mode": (pa.string(), False, "'online' (roll-outs) or 'offline' (teacher-forced)"),
    "checkpoint": (pa.string(), False, "checkpoint identity (file name and content hash)"),
    "task": (pa.string(), False, "canonical task name"),
    "level": (pa.int8(), False, "evaluation level 1-4; 0 when not a level (offline split)"),
    "difficulty": (pa.string(), False, "VIMA-Bench difficulty, e.g. 'easy'"),
    "perturbation": (pa.string(), False, "perturbation name ('noop' for none)"),
    "seed": (pa.int64(), False, "perturbation seed"),
    "episode": (pa.string(), False, "episode identity, equal across runs on the same episode"),
    "episode_seed": (pa.int64(), True, "environment / generation seed of the episode"),
    "applies": (pa.bool_(), False, "the perturbation changed the model's input (noop: always)"),
    "vocabulary": (pa.string(), True, "gobbledygook_tokens: the vocabulary words were drawn from"),
    "success": (pa.bool_(), True, "online: success at the end of the episode"),
    "failure": (pa.bool_(), True, "online: the task reported a failure"),
    "steps": (pa.int32(), False, "online: actions taken; offline: timesteps"),
    "minimum_steps": (pa.int32(), True, "online: the task's minimum number of steps"),
    "time_s": (pa.float64(), True, "wall-clock seconds spent on the episode"),
    "prompt": (pa.string(), True, "the prompt given to the model (after the perturbation)"),
    "axes_correct": (pa.int32(), True, "offline: correct (timestep, axis) predictions"),
    "axes_total": (pa.int32(), True, "offline: (timestep, axis) targets, padding excluded"),
    "steps_all_correct": (pa.int32(), True, "offline: timesteps with every axis correct"),
    "loss_sum": (pa.float64(), True, "offline: sum over timesteps of the mean per-axis loss"),
}
SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=nullable) for name, (kind, nullable, _) in FIELDS.items()],
    metadata={
        METADATA_KEY: json.dumps(
            {"schema": RESULT_SCHEMA_NAME, "version": RESULT_SCHEMA_VERSION}
        ).encode()
    },
)


class ResultError(ValueError):
    """A result file that is not a per-episode result table of this schema."""


def write_results(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Validate `rows` and write them atomically as a result table at `path`."""
    for row in rows:
        _check_row(row, str(path))
    table = pa.Table.from_pylist([{k: row.get(k) for k in FIELDS} for row in rows], SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


def read_results(path: Path) -> pa.Table:
    """Read a result table; `ResultError` naming the file when it is not one of this schema."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise ResultError(f"{path}: not a readable parquet result table ({error})") from None
    raw = (schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw is not None else {}
    except ValueError:
        meta = {}
    if meta.get("schema") != RESULT_SCHEMA_NAME:
        raise ResultError(f"{path}: not a vima-eval per-episode result table")
    version = meta.get("version")
    if version != RESULT_SCHEMA_VERSION and version not in UPGRADES:
        raise ResultError(
            f"{path}: result schema version {version!r}, this vima-eval reads versions "
            f"{sorted({*UPGRADES, RESULT_SCHEMA_VERSION})}"
        )
    added = UPGRADES.get(version, ())
    missing = [name for name in FIELDS if name not in schema.names and name not in added]
    if missing:
        raise ResultError(f"{path}: result table lacks columns {missing}")
    table = pq.read_table(path, columns=[name for name in FIELDS if name not in added])
    unknown = {str(t) for t in table.column("task").to_pylist()} - set(TASK_NAMES)
    if unknown:
        raise ResultError(f"{path}: unknown task(s) {sorted(unknown)}")
    return _upgrade(table, added) if added else table


def _upgrade(table: pa.Table, added: Sequence[str]) -> pa.Table:
    """A version-1 table with `applies` from the perturbation's task list, `vocabulary` null."""
    from vima_schema.perturbations import PERTURBATIONS

    def applies(name: str, task: str) -> bool:
        known = PERTURBATIONS.get(name)
        return known is None or name == "noop" or known.applies_to(task)

    names = table.column("perturbation").to_pylist()
    tasks = table.column("task").to_pylist()
    columns = {
        "applies": pa.array([applies(n, t) for n, t in zip(names, tasks, strict=True)]),
        "vocabulary": pa.nulls(len(table), pa.string()),
    }
    for name in added:
        table = table.append_column(name, columns[name])
    return table.select(list(FIELDS)).cast(SCHEMA)


def _check_row(row: dict[str, Any], where: str) -> None:
    if row.get("mode") not in (ONLINE, OFFLINE):
        raise ValueError(f"{where}: mode must be {ONLINE!r} or {OFFLINE!r}: {row.get('mode')!r}")
    if row.get("task") not in TASK_NAMES:
        raise ValueError(f"{where}: unknown task {row.get('task')!r}")
    if row.get("level") not in (0, *LEVELS):
        raise ValueError(f"{where}: level must be 0-4: {row.get('level')!r}")
    if row["mode"] == ONLINE and row.get("success") is None:
        raise ValueError(f"{where}: an online row needs 'success'")
    if not isinstance(row.get("applies"), bool):
        raise ValueError(f"{where}: a row needs 'applies' (True or False)")
    if row["mode"] == OFFLINE and row.get("axes_total") is None:
        raise ValueError(f"{where}: an offline row needs 'axes_total'")
    extra = set(row) - set(FIELDS)
    if extra:
        raise ValueError(f"{where}: unknown result columns {sorted(extra)}")
