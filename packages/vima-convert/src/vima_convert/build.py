"""Step 2: parsed episode files -> parquet shards in a Hugging Face dataset layout."""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from vima_schema.atomic import remove_stale_temporaries, replace_directory, temporary_sibling
from vima_schema.dataset_card import write_card
from vima_schema.dataset_layout import PARSED, SPLITS, list_shards, shard_name, task_dir
from vima_schema.dataset_meta import (
    FORMAT_VERSION,
    describe_columns,
    parsed_index_rows,
    write_config_info,
    write_episode_index,
)
from vima_schema.enums import Task
from vima_schema.parquet_shard import shard_writer
from vima_schema.provenance import write_provenance
from vima_schema.record import hf_schema, record_layout
from vima_schema.runner import mark_work_started, run_items

from vima_convert import __version__
from vima_convert.episode_file import SUFFIX, decode_episode_file
from vima_convert.split import assign_splits

ROWS_PER_GROUP = 64
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildJob:
    """Episodes (parsed files) that go into one output shard, and the build's settings."""

    files: tuple[Path, ...]
    target: Path
    settings: tuple[tuple[str, Any], ...] = ()


@dataclass
class BuildSummary:
    """Counts of a build run."""

    episodes: int = 0
    shards: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def list_parsed(parsed: Path) -> dict[Task, dict[int, Path]]:
    """Parsed files per task and index (`PARSED/<task>/<task>_<NNNNNN>.arrow`)."""
    found: dict[Task, dict[int, Path]] = {}
    for folder in sorted(p for p in parsed.iterdir() if p.is_dir() and p.name in Task.__members__):
        task = Task.from_name(folder.name)
        for path in folder.glob(f"{task.name}_*{SUFFIX}"):
            index = path.name[len(task.name) + 1 : -len(SUFFIX)]
            if index.isdigit():
                found.setdefault(task, {})[int(index)] = path
    return found


def plan_shards(files: list[Path], max_bytes: int) -> list[list[Path]]:
    """Consecutive groups of files whose summed size stays under `max_bytes` (at least one)."""
    groups: list[list[Path]] = [[]]
    size = 0
    for path in files:
        file_size = path.stat().st_size
        if groups[-1] and size + file_size > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += file_size
    return groups


def write_shard(job: BuildJob) -> tuple[int, list[tuple[str, str]]]:
    """Write one shard (streamed, row groups of ROWS_PER_GROUP); return rows and failures.

    The shard records its provenance: the format version, the build settings and the SHA-256
    of its parsed input files in order.
    """
    rows = 0
    failures: list[tuple[str, str]] = []
    inputs = hashlib.sha256()
    with shard_writer(job.target, hf_schema()) as writer:
        for start in range(0, len(job.files), ROWS_PER_GROUP):
            tables = []
            for path in job.files[start : start + ROWS_PER_GROUP]:
                try:
                    data = path.read_bytes()
                    tables.append(decode_episode_file(data, path))
                except (OSError, ValueError) as error:
                    failures.append((str(path), str(error)))
                    continue
                inputs.update(hashlib.sha256(data).digest())
            if tables:
                writer.write_table(pa.concat_tables(tables))
                rows += sum(t.num_rows for t in tables)
        provenance = {
            "format_version": FORMAT_VERSION,
            "inputs_sha256": inputs.hexdigest(),
            "settings": dict(job.settings),
        }
        write_provenance(writer, provenance, len(failures))
    return rows, failures


def _remove_other_tasks(stage_dir: Path, keep: set[str]) -> None:
    """Delete task folders of an earlier build whose task is not in this build."""
    for folder in stage_dir.iterdir():
        if folder.is_dir() and folder.name in Task.__members__ and folder.name not in keep:
            shutil.rmtree(folder)


def _plan_jobs(
    files: dict[Task, dict[int, Path]],
    splits: dict[Task, dict[str, list[int]]],
    dataset: Path,
    variant: str,
    max_bytes: int,
    settings: dict[str, Any],
) -> tuple[list[BuildJob], dict[Task, Path]]:
    """One job per output shard, and the staging folder each task's shards are written to."""
    jobs: list[BuildJob] = []
    staging: dict[Task, Path] = {}
    for task, by_split in splits.items():
        staging[task] = temporary_sibling(task_dir(dataset, variant, PARSED, task.name))
        for split in SPLITS:
            paths = [files[task][i] for i in by_split[split]]
            if not paths:
                continue
            groups = plan_shards(paths, max_bytes)
            for number, group in enumerate(groups):
                target = staging[task] / shard_name(split, number, len(groups))
                jobs.append(BuildJob(tuple(group), target, tuple(settings.items())))
    return jobs, staging


def _write_shards(jobs: list[BuildJob], summary: BuildSummary, workers: int, output: Path) -> None:
    """Run the jobs, adding their counts to `summary`; a job that fails stops the build."""
    for outcome in run_items(
        write_shard,
        jobs,
        workers=workers,
        desc="build",
        unit="shard",
        total=len(jobs),
        chunksize=1,
        output=output,
    ):
        if outcome.error is not None:
            raise RuntimeError(
                f"{outcome.item.target.name}: {outcome.error_type}: {outcome.error}\n"
                f"{outcome.traceback}"
            )
        rows, failures = outcome.value
        summary.episodes += rows
        summary.shards += 1
        summary.failures += failures
        for _path, error in failures:
            log.warning("vima-convert: skipped unreadable parsed file: %s", error)


def build(
    parsed: Path,
    dataset: Path,
    *,
    variant: str = "original",
    valid_size: int | float = 50_000,
    seed: int = 1000,
    max_shard_mb: float = 500.0,
    workers: int = 1,
) -> BuildSummary:
    """Build `<variant>--parsed--<task>` configs from the parsed files.

    Also rewrites the card, the config's description in `meta/info.json` and its rows of
    `meta/episodes.parquet`.
    """
    files = list_parsed(parsed)
    if not files:
        raise ValueError(f"{parsed}: no parsed episode files (run `vima-convert parse` first)")
    splits = assign_splits({t: sorted(v) for t, v in files.items()}, valid_size, seed)
    mark_work_started()
    hf_schema()  # built once here; worker processes inherit it instead of importing datasets
    max_bytes = int(max_shard_mb * 1024 * 1024)
    stage_dir = dataset / variant / PARSED
    remove_stale_temporaries(stage_dir)  # staging folders of a killed build
    settings = {"variant": variant, "valid_size": valid_size, "seed": seed}
    jobs, staging = _plan_jobs(files, splits, dataset, variant, max_bytes, settings)
    summary = BuildSummary(bytes_in=sum(p.stat().st_size for job in jobs for p in job.files))
    jobs.sort(key=lambda job: len(job.files), reverse=True)  # largest first
    try:
        _write_shards(jobs, summary, workers, dataset)
        for task, folder in staging.items():
            replace_directory(folder, task_dir(dataset, variant, PARSED, task.name))
        _remove_other_tasks(stage_dir, {task.name for task in staging})
    finally:
        for folder in staging.values():
            shutil.rmtree(folder, ignore_errors=True)
    summary.bytes_out = sum(
        p.stat().st_size
        for t in staging
        for p in task_dir(dataset, variant, PARSED, t.name).glob("*")
    )
    write_card(dataset)
    write_metadata(dataset, variant, settings)
    return summary


def write_metadata(dataset: Path, variant: str, settings: dict[str, Any]) -> None:
    """Describe `<variant>--parsed` in `meta/info.json` and index its episodes."""
    shards = list_shards(dataset, variant, PARSED)
    rows = [parsed_index_rows(dataset, shard) for shard in shards]
    write_episode_index(dataset, variant, PARSED, pa.concat_tables(rows))
    description = {
        "writer": f"vima-convert {__version__} build",
        "settings": settings,
        **describe_columns(hf_schema()),
        "arrays": record_layout(),
    }
    write_config_info(dataset, variant, PARSED, description)
