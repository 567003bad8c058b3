"""Tokenizing every parsed shard of a dataset variant into preprocessed shards."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tokenizers import Tokenizer
from vima_schema.atomic import remove_stale_temporaries
from vima_schema.dataset_card import write_card
from vima_schema.dataset_layout import (
    PARSED,
    PREPROCESSED,
    Shard,
    list_shards,
    remove_other_shards,
    task_dir,
)
from vima_schema.dataset_meta import (
    describe_columns,
    parsed_index_rows,
    read_meta,
    row_numbers,
    strings,
    write_config_info,
    write_episode_index,
)
from vima_schema.enums import TASK_NAMES
from vima_schema.layout import ACTION_KEYS
from vima_schema.parquet_shard import shard_writer
from vima_schema.provenance import derived_provenance, is_current, write_provenance
from vima_schema.runner import append_failure, mark_work_started, run_items

from vima_tokenize import __version__
from vima_tokenize.actions import AXIS_BINS, AXIS_HIGH, AXIS_LOW, AXIS_NAMES, NUM_AXES
from vima_tokenize.crops import check_resampling
from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.preprocessed import ARRAYS, hf_schema, leading_shape_names
from vima_tokenize.text import load_tokenizer

FAILURES_FILE = "failures.jsonl"
#: Schema-metadata key of a shard's settings (JSON: tokenizer_sha256, keep_final_observation,
#: tokenize_version), read by the trainer to check that shards agree.
SETTINGS_KEY = b"vima_tokenize"
#: Version of the preprocessing itself; part of every shard's provenance, so shards of another
#: version are redone (3: every array but `actions` in the `arrays` blob, crops coded from their
#: source patches; `vima_tokenize.preprocessed`).
TOKENIZE_VERSION = 3
#: Parsed columns the preprocessing reads.
INPUT_COLUMNS = [
    "task",
    "index",
    "prompt",
    "prompt_assets",
    "objects",
    "steps",
    "end_effector_type",
    "frames_front",
    "frames_top",
    "segm_front",
    "segm_top",
    *ACTION_KEYS,
]
ROWS_PER_GROUP = 64  # episodes per output row group
ROWS_PER_READ = 16  # parsed episodes converted to python at once (bounds memory)

log = logging.getLogger(__name__)

Failure = tuple[str, str, str, str]
"""(episode or shard, message, exception type, traceback)."""


@dataclass(frozen=True)
class TokenizeJob:
    """One parsed shard, the preprocessed shard it becomes and what that depends on."""

    source: Path
    target: Path
    tokenizer: str | None
    keep_final_observation: bool = False
    provenance: tuple[tuple[str, Any], ...] = ()
    crop_resampling: str = "area"


@dataclass
class TokenizeSummary:
    """Counts of a tokenize run."""

    shards_written: int = 0
    shards_skipped: int = 0
    episodes: int = 0
    bytes_out: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


@functools.cache
def _tokenizer(name: str | None) -> Tokenizer:
    return load_tokenizer(name)


def tokenizer_sha256(tokenizer: Tokenizer) -> str:
    """SHA-256 of the tokenizer's JSON (placeholders included)."""
    return hashlib.sha256(tokenizer.to_str().encode()).hexdigest()


def settings_of(
    tokenizer: Tokenizer, keep_final_observation: bool, crop_resampling: str = "area"
) -> dict[str, Any]:
    """What a preprocessed shard depends on besides its source shard (in its provenance);
    `crop_resampling` is recorded when it is not the default `area`."""
    check_resampling(crop_resampling)
    settings = {
        "tokenize_version": TOKENIZE_VERSION,
        "tokenizer_sha256": tokenizer_sha256(tokenizer),
        "keep_final_observation": keep_final_observation,
    }
    if crop_resampling != "area":
        settings["crop_resampling"] = crop_resampling
    return settings


def tokenize_shard(job: TokenizeJob) -> tuple[int, list[Failure]]:
    """Write the preprocessed shard of one parsed shard; return rows written and failures.

    The shard records `job.provenance` and the number of failed episodes in its footer.
    """
    tokenizer = _tokenizer(job.tokenizer)
    failures: list[Failure] = []
    rows = 0
    settings = json.dumps(dict(job.provenance).get("settings", {}), sort_keys=True)
    schema = hf_schema().with_metadata(
        {**(hf_schema().metadata or {}), SETTINGS_KEY: settings.encode()}
    )
    with shard_writer(job.target, schema) as writer:
        source = pq.ParquetFile(job.source)
        out: list[dict[str, Any]] = []
        for batch in source.iter_batches(batch_size=ROWS_PER_READ, columns=INPUT_COLUMNS):
            for row in batch.to_pylist():
                try:
                    out.append(
                        preprocess_row(
                            row,
                            tokenizer,
                            keep_final_observation=job.keep_final_observation,
                            crop_resampling=job.crop_resampling,
                        )
                    )
                except Exception as error:  # one bad episode is reported, not fatal
                    name = f"{job.source}#{TASK_NAMES[row['task']]}/{row['index']}"
                    message = f"{name}: {error}"
                    failures.append((name, message, type(error).__name__, traceback.format_exc()))
            if len(out) >= ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist(out, schema=hf_schema()))
                rows, out = rows + len(out), []
        if out:
            writer.write_table(pa.Table.from_pylist(out, schema=hf_schema()))
            rows += len(out)
        write_provenance(writer, dict(job.provenance), len(failures))
    return rows, failures


def tokenize_dataset(
    dataset: Path,
    *,
    variant: str = "original",
    tokenizer: str | None = None,
    workers: int = 1,
    overwrite: bool = False,
    keep_final_observation: bool = False,
    crop_resampling: str = "area",
) -> TokenizeSummary:
    """Tokenize the `<variant>--parsed--*` configs into `<variant>--preprocessed--*`.

    Each output shard mirrors one parsed shard (same split and name), so episodes keep their
    split. A shard whose recorded provenance (source bytes and episode ids, settings, format
    version) matches and that lost no episode is skipped unless `overwrite`; any other old
    shard is deleted before it is redone, and shards and task folders with no parsed
    counterpart are removed, so the preprocessed variant mirrors the parsed one exactly, as
    are the temporary files of a killed run. `failures.jsonl` lists this run's failures: every
    shard that had one is redone. A full disk, a read-only or vanished dataset folder stops
    the run (`OutputError`); a rerun resumes.
    Afterwards `meta/info.json` describes the config (with action statistics of its train
    split) and `meta/episodes.parquet` indexes its episodes.
    """
    loaded = _tokenizer(tokenizer)  # fails early on a bad name
    settings = settings_of(loaded, keep_final_observation, crop_resampling)
    hf_schema()  # built once here; worker processes inherit it instead of importing datasets
    shards = list_shards(dataset, variant, PARSED)
    if not shards:
        raise ValueError(f"{dataset}: variant {variant!r} has no parsed shards")
    read_meta(dataset)  # refuses a dataset of an unknown format version
    mark_work_started()
    summary = TokenizeSummary()
    jobs, expected, sources = _plan_jobs(
        dataset,
        variant,
        shards,
        settings,
        summary,
        overwrite=overwrite,
        tokenizer=tokenizer,
        keep_final_observation=keep_final_observation,
        crop_resampling=crop_resampling,
    )
    _mirror(dataset / variant / PREPROCESSED, expected)
    failures_file = dataset / variant / PREPROCESSED / FAILURES_FILE
    failures_file.unlink(missing_ok=True)  # a shard with failures is never skipped: redone now
    jobs.sort(key=lambda job: job.source.stat().st_size, reverse=True)  # largest first
    _run_jobs(jobs, summary, failures_file, workers, dataset)
    write_card(dataset)
    _write_metadata(dataset, variant, sources, tokenizer, settings)
    return summary


def _plan_jobs(
    dataset: Path,
    variant: str,
    shards: list[Shard],
    settings: dict[str, Any],
    summary: TokenizeSummary,
    *,
    overwrite: bool,
    tokenizer: str | None,
    keep_final_observation: bool,
    crop_resampling: str,
) -> tuple[list[TokenizeJob], dict[Path, set[str]], dict[Path, Shard]]:
    """A job for each parsed shard whose preprocessed shard is not current (that stale shard
    deleted; a current one is counted as skipped in `summary`), the shard names each task folder
    is to hold, and the parsed shard of each preprocessed one."""
    jobs: list[TokenizeJob] = []
    expected: dict[Path, set[str]] = {}
    sources: dict[Path, Shard] = {}
    for shard in shards:
        target = task_dir(dataset, variant, PREPROCESSED, shard.task) / shard.path.name
        expected.setdefault(target.parent, set()).add(target.name)
        sources[target] = shard
        provenance = derived_provenance(
            shard.path, shard.path.relative_to(dataset).as_posix(), settings
        )
        if not overwrite and is_current(target, provenance):
            summary.shards_skipped += 1
            continue
        target.unlink(missing_ok=True)  # stale: never left published, even if redoing fails
        jobs.append(
            TokenizeJob(
                shard.path,
                target,
                tokenizer,
                keep_final_observation,
                tuple(provenance.items()),
                crop_resampling,
            )
        )
    return jobs, expected, sources


def _run_jobs(
    jobs: list[TokenizeJob],
    summary: TokenizeSummary,
    failures_file: Path,
    workers: int,
    output: Path,
) -> None:
    """Run the jobs, adding their counts to `summary` and their failures (a failed shard or
    episode) to `summary` and `failures_file`."""
    for outcome in run_items(
        tokenize_shard,
        jobs,
        workers=workers,
        desc="tokenize",
        unit="shard",
        total=len(jobs),
        chunksize=1,
        output=output,
    ):
        if outcome.error is not None:
            source = outcome.item.source
            failures: list[Failure] = [
                (
                    str(source),
                    f"{source}: {outcome.error}",
                    outcome.error_type or "",
                    outcome.traceback or "",
                )
            ]
        else:
            rows, failures = outcome.value
            summary.episodes += rows
            summary.shards_written += 1
            summary.bytes_out += outcome.item.target.stat().st_size
        for name, error, error_type, trace in failures:
            summary.failures.append((name, error))
            append_failure(failures_file, name, error, error_type=error_type, traceback=trace)
            log.warning("vima-tokenize: skipped %s", error)
            log.debug("%s", trace)


def _mirror(stage_dir: Path, expected: dict[Path, set[str]]) -> None:
    """Remove shards and task folders of `stage_dir` with no counterpart in `expected`, and
    the temporary files of killed runs."""
    for folder, names in expected.items():
        if folder.is_dir():
            remove_other_shards(folder, names)
            remove_stale_temporaries(folder)
    if stage_dir.is_dir():
        for folder in stage_dir.iterdir():
            if folder.is_dir() and folder not in expected:
                shutil.rmtree(folder)


def _write_metadata(
    dataset: Path,
    variant: str,
    sources: dict[Path, Shard],
    tokenizer: str | None,
    settings: dict[str, Any],
) -> None:
    """Index the preprocessed episodes and describe the config in `meta/info.json`."""
    index_parts = []
    actions_by_task: dict[str, list[np.ndarray]] = {}
    for target, source in sorted(sources.items()):
        if not target.exists():
            continue
        table = pq.read_table(target, columns=["task", "index", "token_types", "actions"])
        parsed = parsed_index_rows(dataset, source)
        position = {key: row for row, key in enumerate(parsed["index"].to_pylist())}
        taken = parsed.take([position[i] for i in table["index"].to_pylist()])
        rows = table.num_rows
        taken = taken.set_column(
            taken.schema.get_field_index("stage"), "stage", strings([PREPROCESSED] * rows)
        )
        taken = taken.set_column(
            taken.schema.get_field_index("shard"),
            "shard",
            strings([target.relative_to(dataset).as_posix()] * rows),
        )
        taken = taken.set_column(taken.schema.get_field_index("row"), "row", row_numbers(rows))
        tokens = pc.list_value_length(table["token_types"]).cast(pa.int32())
        taken = taken.set_column(
            taken.schema.get_field_index("prompt_tokens"), "prompt_tokens", tokens
        )
        index_parts.append(taken)
        if source.split == "train" and rows:
            actions = table["actions"].combine_chunks()
            _validity, offsets, data = cast(list[Any], actions.buffers())
            bounds = np.frombuffer(offsets, np.int32)[actions.offset : actions.offset + rows + 1]
            values = np.frombuffer(data, np.uint8)[bounds[0] : bounds[-1]].view(np.float32)
            actions_by_task.setdefault(source.task, []).append(values.reshape(-1, NUM_AXES))
    if index_parts:
        write_episode_index(dataset, variant, PREPROCESSED, pa.concat_tables(index_parts))
    description = {
        "writer": f"vima-tokenize {__version__}",
        "settings": {**settings, "tokenizer": tokenizer or "default (shipped with vima-tokenize)"},
        **describe_columns(hf_schema()),
        "arrays": {
            name: {"dtype": dtype, "shape": [*leading_shape_names(name), *trailing]}
            for name, (dtype, trailing) in ARRAYS.items()
        },
        "actions": {
            "axes": list(AXIS_NAMES),
            "bins": list(AXIS_BINS),
            "low": list(AXIS_LOW),
            "high": list(AXIS_HIGH),
            "statistics": action_statistics(actions_by_task),
        },
    }
    write_config_info(dataset, variant, PREPROCESSED, description)


def action_statistics(actions_by_task: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Per-axis `count`, `min`, `max`, `mean`, `std` of continuous actions ((T, 14) arrays),
    per task and over all tasks (`overall`)."""

    def summary(arrays: list[np.ndarray]) -> dict[str, Any]:
        values = np.concatenate(arrays).astype(np.float64)
        if not len(values):
            return {"count": 0}
        return {
            "count": len(values),
            "min": values.min(axis=0).tolist(),
            "max": values.max(axis=0).tolist(),
            "mean": values.mean(axis=0).tolist(),
            "std": values.std(axis=0).tolist(),
        }

    stats = {task: summary(arrays) for task, arrays in sorted(actions_by_task.items())}
    everything = [array for arrays in actions_by_task.values() for array in arrays]
    return {
        "split": "train",
        "overall": summary(everything) if everything else {"count": 0},
        "per_task": stats,
    }
