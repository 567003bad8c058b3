"""`export-raw`: dataset rows back to raw episode folders (lossless)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from vima_schema.atomic import remove_stale_temporaries
from vima_schema.dataset_layout import shards_of_config
from vima_schema.dataset_meta import read_meta
from vima_schema.record import record_to_episode
from vima_schema.runner import InputError, mark_work_started
from vima_schema.writer import write_episode


def export_raw(
    dataset: Path, out: Path, *, config: str, split: str | None = None, overwrite: bool = False
) -> int:
    """Write every episode of `config` (and `split`) as `out/<task>/<NNNNNN>/`; return count.

    An episode folder that exists without `overwrite` raises `InputError`."""
    shards = shards_of_config(dataset, config, split)
    if not shards:
        raise ValueError(f"{dataset}: config {config!r} has no shards for split {split or 'any'}")
    read_meta(dataset)  # refuses a dataset of an unknown format version
    mark_work_started()
    remove_stale_temporaries(out, subfolders=True)  # episode folders a killed export began
    count = 0
    for shard in shards:
        for batch in pq.ParquetFile(shard.path).iter_batches(batch_size=32):
            for row in batch.to_pylist():
                try:
                    write_episode(record_to_episode(row), out, overwrite=overwrite)
                except FileExistsError as error:  # the output's fault, not a bug: exit 2
                    raise InputError(f"{error} (use --overwrite to replace it)") from error
                count += 1
    return count
