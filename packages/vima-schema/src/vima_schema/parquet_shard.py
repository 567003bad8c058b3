"""The one way shards are written: atomically, with the workspace's parquet options.

Column statistics (min/max in the footer and in every page header) are written only for the
small scalar columns (task, index, steps, ...): on JPEG bytes, masks and pixel arrays they are
useless for filtering and cost up to two copies of a value each, which made the footer of a
one-episode shard 20-34 KB next to 30-45 KB of data. The serialized Arrow schema is not stored
either (8.5 KB per file, mostly a second copy of the feature metadata): the parquet schema maps
back to exactly the same Arrow types, and the schema's key-value metadata (the `datasets`
features, settings) is written to the footer as such, where `pq.read_schema` and `datasets`
read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vima_schema.atomic import atomic_output
from vima_schema.dataset_layout import PARQUET_OPTIONS


def statistics_columns(schema: pa.Schema) -> list[str]:
    """Top-level columns of `schema` that get statistics: integers, floats and booleans."""
    return [
        field.name
        for field in schema
        if pa.types.is_integer(field.type)
        or pa.types.is_floating(field.type)
        or pa.types.is_boolean(field.type)
    ]


def writer_options(schema: pa.Schema) -> dict[str, Any]:
    """Keyword arguments of `pq.ParquetWriter` / `pq.write_table` for a shard of `schema`."""
    return {
        **PARQUET_OPTIONS,
        "write_statistics": statistics_columns(schema),
        "store_schema": False,
    }


@contextmanager
def shard_writer(path: Path, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A `ParquetWriter` for the shard `path`, written under a temporary name and renamed (with
    fsync) when the block ends without error; on error nothing is left behind. The schema's
    metadata is written to the footer's key-value metadata."""
    with atomic_output(path) as tmp:
        writer = pq.ParquetWriter(tmp, schema, **writer_options(schema))
        try:
            yield writer
            if schema.metadata:
                writer.add_key_value_metadata(schema.metadata)  # type: ignore[arg-type]
        finally:
            writer.close()
