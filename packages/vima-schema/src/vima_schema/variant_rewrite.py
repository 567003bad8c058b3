"""Derive a parsed dataset variant from another one, shard by shard, through a batch transform.

`vima-convert reword` (paraphrases) and `vima-eval perturb` (instruction perturbations) both
write `<target>--parsed--<task>` configs this way: every parsed shard of the source variant is
read batch by batch, passed through the transform (which returns a batch of the same schema)
and written atomically under the same split and shard name. Each output shard records a
fingerprint of its source shard (content hash) and of the transform's settings; a rerun skips
the shards whose fingerprint is unchanged and redoes the others.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vima_schema.dataset_card import write_card
from vima_schema.dataset_layout import (
    PARSED,
    list_shards,
    remove_other_shards,
    task_dir,
)
from vima_schema.dataset_meta import (
    describe_columns,
    parsed_index_rows,
    read_meta,
    write_config_info,
    write_episode_index,
)
from vima_schema.parquet_shard import shard_writer
from vima_schema.provenance import PROVENANCE_KEY, derived_provenance, write_provenance
from vima_schema.runner import mark_work_started

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
    version); it is stored with each shard, with the source shard's path, content hash and
    episode ids and the format version (`vima_schema.provenance`). A shard about to be redone
    is deleted first, and shards and task folders of `target` with no counterpart in `source`
    are removed, so `target` mirrors `source` exactly. The card, `meta/info.json` and
    `meta/episodes.parquet` are updated. Raises `ValueError` when `source` has no parsed shards
    or equals `target`, `DatasetFormatError` for a dataset of an unknown format version.
    """
    if source == target:
        raise ValueError(f"source and target variant are both {source!r}")
    shards = list_shards(dataset, source, PARSED)
    if not shards:
        raise ValueError(f"{dataset}: variant {source!r} has no parsed shards")
    read_meta(dataset)
    mark_work_started()
    summary = RewriteSummary()
    written: dict[Path, set[str]] = {}
    for shard in shards:
        out_dir = task_dir(dataset, target, PARSED, shard.task)
        out = out_dir / shard.path.name
        written.setdefault(out_dir, set()).add(shard.path.name)
        provenance = derived_provenance(
            shard.path, shard.path.relative_to(dataset).as_posix(), settings
        )
        if not overwrite and _recorded_fingerprint(out) == _fingerprint(provenance):
            summary.shards_skipped += 1
            continue
        out.unlink(missing_ok=True)  # stale: never left published, even if redoing fails
        summary.rows_written += _rewrite_shard(shard.path, out, transform, provenance)
        summary.shards_written += 1
    for out_dir, names in written.items():
        remove_other_shards(out_dir, names)
    for folder in (dataset / target / PARSED).iterdir():
        if folder.is_dir() and folder not in written:
            shutil.rmtree(folder)  # a task the source no longer has
    write_card(dataset)
    _write_metadata(dataset, target, settings)
    return summary


def _write_metadata(dataset: Path, target: str, settings: dict[str, object]) -> None:
    shards = list_shards(dataset, target, PARSED)
    rows = pa.concat_tables([parsed_index_rows(dataset, shard) for shard in shards])
    write_episode_index(dataset, target, PARSED, rows)
    description = {
        "writer": "vima_schema.variant_rewrite",
        "settings": settings,
        **describe_columns(pq.read_schema(shards[0].path)),
    }
    write_config_info(dataset, target, PARSED, description)


def _rewrite_shard(
    source: Path, out: Path, transform: BatchTransform, provenance: dict[str, Any]
) -> int:
    source_file = pq.ParquetFile(source)
    schema = source_file.schema_arrow
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != PROVENANCE_KEY}
    schema = schema.with_metadata({**metadata, FINGERPRINT_KEY: _fingerprint(provenance)})
    rows = 0
    with shard_writer(out, schema) as writer:  # atomic: no partial file is left behind
        for batch in source_file.iter_batches(batch_size=ROWS_PER_BATCH):
            new = transform(batch)
            if new.num_rows != batch.num_rows or not new.schema.equals(batch.schema):
                raise ValueError(f"{source}: the transform changed the rows or the schema")
            writer.write_batch(new)
            rows += new.num_rows
        write_provenance(writer, provenance, 0)
    return rows


def _fingerprint(provenance: dict[str, Any]) -> str:
    return json.dumps(provenance, sort_keys=True)


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
