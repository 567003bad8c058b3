"""Tokenizing every parsed shard of a dataset variant into preprocessed shards."""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tokenizers import Tokenizer
from vima_schema.dataset_card import write_card
from vima_schema.dataset_layout import (
    PARQUET_OPTIONS,
    PARSED,
    PREPROCESSED,
    list_shards,
    remove_other_shards,
    shard_rows,
    task_dir,
)
from vima_schema.enums import TASK_NAMES
from vima_schema.layout import ACTION_KEYS
from vima_schema.runner import append_failure, run_items

from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.record import hf_schema
from vima_tokenize.text import load_tokenizer

FAILURES_FILE = "failures.jsonl"
SETTINGS_KEY = b"vima_tokenize"
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


@dataclass(frozen=True)
class ShardJob:
    """One parsed shard and the preprocessed shard it becomes."""

    source: Path
    target: Path
    tokenizer: str | None
    keep_final_observation: bool = False
    settings: str = ""


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


def settings_of(tokenizer: Tokenizer, keep_final_observation: bool) -> str:
    """What a preprocessed shard depends on besides its input, stored in its metadata.

    A shard written with another tokenizer or observation setting is not "complete": a rerun
    with new settings redoes it instead of silently keeping the old shard.
    """
    digest = hashlib.sha256(tokenizer.to_str().encode()).hexdigest()
    return json.dumps(
        {"tokenizer_sha256": digest, "keep_final_observation": keep_final_observation}
    )


def tokenize_shard(job: ShardJob) -> tuple[int, list[tuple[str, str]]]:
    """Write the preprocessed shard of one parsed shard; return rows written and failures."""
    tokenizer = _tokenizer(job.tokenizer)
    failures: list[tuple[str, str]] = []
    rows = 0
    tmp = job.target.with_name(f".{job.target.name}.tmp")
    job.target.parent.mkdir(parents=True, exist_ok=True)
    try:
        metadata = {**(hf_schema().metadata or {}), SETTINGS_KEY: job.settings.encode()}
        schema = hf_schema().with_metadata(metadata)
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            source = pq.ParquetFile(job.source)
            out: list[dict] = []
            batches = source.iter_batches(batch_size=ROWS_PER_READ, columns=INPUT_COLUMNS)
            for batch in batches:
                for row in batch.to_pylist():
                    try:
                        out.append(
                            preprocess_row(
                                row, tokenizer, keep_final_observation=job.keep_final_observation
                            )
                        )
                    except Exception as error:  # one bad episode is reported, not fatal
                        name = f"{job.source}#{TASK_NAMES[row['task']]}/{row['index']}"
                        failures.append((name, f"{name}: {error}"))
                if len(out) >= ROWS_PER_GROUP:
                    writer.write_table(pa.Table.from_pylist(out, schema=hf_schema()))
                    rows, out = rows + len(out), []
            if out:
                writer.write_table(pa.Table.from_pylist(out, schema=hf_schema()))
                rows += len(out)
        tmp.replace(job.target)
    except BaseException:  # a failed shard leaves no partial temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    return rows, failures


def tokenize_dataset(
    dataset: Path,
    *,
    variant: str = "original",
    tokenizer: str | None = None,
    workers: int = 1,
    overwrite: bool = False,
    keep_final_observation: bool = False,
) -> TokenizeSummary:
    """Tokenize the `<variant>--parsed--*` configs into `<variant>--preprocessed--*`.

    Each output shard mirrors one parsed shard (same split and name), so episodes keep their
    split; a complete output shard is skipped unless `overwrite` (resumable per shard).
    """
    settings = settings_of(_tokenizer(tokenizer), keep_final_observation)  # fails early
    hf_schema()  # built once here; worker processes inherit it instead of importing datasets
    shards = list_shards(dataset, variant, PARSED)
    if not shards:
        raise ValueError(f"{dataset}: variant {variant!r} has no parsed shards")
    summary = TokenizeSummary()
    jobs: list[ShardJob] = []
    expected: dict[Path, set[str]] = {}
    for shard in shards:
        target = task_dir(dataset, variant, PREPROCESSED, shard.task) / shard.path.name
        expected.setdefault(target.parent, set()).add(target.name)
        if not overwrite and _complete(target, shard.path, settings):
            summary.shards_skipped += 1
            continue
        jobs.append(ShardJob(shard.path, target, tokenizer, keep_final_observation, settings))
    for folder, names in expected.items():
        remove_other_shards(folder, names)
    failures_file = dataset / variant / PREPROCESSED / FAILURES_FILE
    jobs.sort(key=lambda job: job.source.stat().st_size, reverse=True)  # largest first
    for outcome in run_items(
        tokenize_shard,
        jobs,
        workers=workers,
        desc="tokenize",
        unit="shard",
        total=len(jobs),
        chunksize=1,
    ):
        if outcome.error is not None:
            failure = (str(outcome.item.source), f"{outcome.item.source}: {outcome.error}")
            failures = [failure]
        else:
            rows, failures = outcome.value
            summary.episodes += rows
            summary.shards_written += 1
            summary.bytes_out += outcome.item.target.stat().st_size
        for name, error in failures:
            summary.failures.append((name, error))
            append_failure(failures_file, name, error)
            print(f"vima-tokenize: skipped {error}", file=sys.stderr)
    write_card(dataset)
    return summary


def _complete(target: Path, source: Path, settings: str) -> bool:
    try:
        footer = pq.read_metadata(target)
        same = (footer.schema.to_arrow_schema().metadata or {}).get(SETTINGS_KEY)
        return same == settings.encode() and footer.num_rows == shard_rows(source)
    except (OSError, pa.ArrowInvalid):
        return False
