"""Derive a parsed dataset variant from another one, shard by shard, through a batch transform.

`vima-convert reword` (paraphrases) and `vima-eval perturb` (instruction perturbations) both
write `<target>--parsed--<task>` configs this way: every parsed shard of the source variant is
read batch by batch, passed through the transform (which returns a batch of the same schema)
and written atomically under the same split and shard name. Each output shard records a
fingerprint of its source shard (content hash) and of the transform's settings; a rerun skips
the shards whose fingerprint is unchanged and redoes the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vima_schema.dataset_card import write_card
from vima_schema.dataset_layout import (
    PARQUET_OPTIONS,
    PARSED,
    list_shards,
    remove_other_shards,
    task_dir,
)

BatchTransform = Callable[[pa.RecordBatch], pa.RecordBatch]
"""Maps a batch of parsed rows to a batch with the same schema and number of rows."""

FINGERPRINT_KEY = b"vima_variant_fingerprint"
"""Parquet schema-metadata key of a derived shard's fingerprint (JSON)."""
ROWS_PER_BATCH = 64


@dataclass
class RewriteSummary:
    """Counts of a rewrite run."""

    shards_written: int = 0
    shards_skipped: int = 0
    rows_written: int = 0


def rewrite_parsed_variant(
    dataset: Path,
    *,
    source: str,
    target: str,
    transform: BatchTransform,
    settings: dict[str, object],
    overwrite: bool = False,
) -> RewriteSummary:
    """Write `<target>--parsed--<task>` shards: those of `source` passed through `transform`.

    `settings` (JSON-serialisable) names everything the transform depends on (its name, seed,
    version); it is stored with each shard. Shards of `target` with no counterpart in `source`
    are removed. Raises `ValueError` when `source` has no parsed shards or equals `target`.
    """
    if source == target:
        raise ValueError(f"source and target variant are both {source!r}")
    shards = list_shards(dataset, source, PARSED)
    if not shards:
        raise ValueError(f"{dataset}: variant {source!r} has no parsed shards")
    summary = RewriteSummary()
    written: dict[Path, set[str]] = {}
    for shard in shards:
        out_dir = task_dir(dataset, target, PARSED, shard.task)
        out = out_dir / shard.path.name
        written.setdefault(out_dir, set()).add(shard.path.name)
        fingerprint = _fingerprint(shard.path, settings)
        if not overwrite and _recorded_fingerprint(out) == fingerprint:
            summary.shards_skipped += 1
            continue
        summary.rows_written += _rewrite_shard(shard.path, out, transform, fingerprint)
        summary.shards_written += 1
    for out_dir, names in written.items():
        remove_other_shards(out_dir, names)
    write_card(dataset)
    return summary


def _rewrite_shard(source: Path, out: Path, transform: BatchTransform, fingerprint: str) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    source_file = pq.ParquetFile(source)
    schema = source_file.schema_arrow
    schema = schema.with_metadata({**(schema.metadata or {}), FINGERPRINT_KEY: fingerprint})
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            for batch in source_file.iter_batches(batch_size=ROWS_PER_BATCH):
                new = transform(batch)
                if new.num_rows != batch.num_rows or not new.schema.equals(batch.schema):
                    raise ValueError(f"{source}: the transform changed the rows or the schema")
                writer.write_batch(new)
                rows += new.num_rows
        tmp.replace(out)
    except BaseException:  # no partial temporary file is left behind
        tmp.unlink(missing_ok=True)
        raise
    return rows


def _fingerprint(source: Path, settings: dict[str, object]) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    identity = {"source": source.name, "sha256": digest.hexdigest()}
    return json.dumps({"input": identity, "settings": settings}, sort_keys=True)


def _recorded_fingerprint(path: Path) -> str | None:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    value = metadata.get(FINGERPRINT_KEY)
    return value.decode() if value is not None else None


def replace_column(batch: pa.RecordBatch, name: str, values: Sequence[object]) -> pa.RecordBatch:
    """`batch` with column `name` replaced by `values` (same type)."""
    index = batch.schema.get_field_index(name)
    field = batch.schema.field(index)
    return batch.set_column(index, field, pa.array(values, field.type))
