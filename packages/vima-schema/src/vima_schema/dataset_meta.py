"""The `meta/` folder of a dataset: format version, config descriptions and the episode index.

`meta/info.json` holds `format_version` and, per config `<variant>--<stage>`, a machine-readable
description: the writer and its settings, the features and dtypes of every column, the layout
of the array columns and, for tokenized configs, the tokenizer, the action bins and bounds and
action statistics. Loaders call `read_meta` (or `check_format`) first: a dataset written by a
newer, incompatible format version is refused with a clear message instead of being decoded as
garbage.

`meta/episodes.parquet` has one row per episode and config (`EPISODE_INDEX_SCHEMA`): where it is
(`shard`, `row`), its split and the small facts (steps, objects, prompt length, seed, textures,
shapes) that statistics, length bucketing and episode selection need without scanning shards.
`build` writes the rows of its parsed config; every derived step replaces the rows of its own.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vima_schema.atomic import atomic_write_text
from vima_schema.dataset_layout import Shard, config_name, list_shards
from vima_schema.enums import TASK_NAMES
from vima_schema.hf_features import feature_dict

#: Version of the dataset layout and of every column's meaning. Bump it on any change that
#: makes existing shards read differently; loaders refuse versions they do not know.
FORMAT_VERSION = 1
#: Oldest format version this code still reads.
OLDEST_READABLE_VERSION = 1
META_DIR = "meta"
INFO_FILE = "info.json"
EPISODES_FILE = "episodes.parquet"

EPISODE_INDEX_SCHEMA = pa.schema(
    [  # type: ignore[arg-type]
        ("variant", pa.string()),
        ("stage", pa.string()),
        ("task", pa.string()),
        ("index", pa.int64()),
        ("split", pa.string()),
        ("shard", pa.string()),  # path relative to the dataset folder
        ("row", pa.int64()),  # row number within the shard
        ("steps", pa.int32()),
        ("objects", pa.int32()),
        ("prompt_words", pa.int32()),
        ("prompt_tokens", pa.int32()),  # tokenized configs only (else null)
        ("seed", pa.int64()),
        ("textures", pa.list_(pa.string())),
        ("shapes", pa.list_(pa.string())),
    ]
)
_INDEX_ORDER: list[tuple[str, Literal["ascending", "descending"]]] = [
    (name, "ascending") for name in ("variant", "stage", "task", "split", "index")
]


class DatasetFormatError(ValueError):
    """The dataset's `meta/` is missing, unreadable or of a format version this code cannot read."""


def info_path(dataset: Path) -> Path:
    """Path of `meta/info.json`."""
    return dataset / META_DIR / INFO_FILE


def episodes_path(dataset: Path) -> Path:
    """Path of `meta/episodes.parquet`."""
    return dataset / META_DIR / EPISODES_FILE


def check_format(info: Mapping[str, Any], where: Path | str) -> None:
    """Raise `DatasetFormatError` unless `info` (of `where`) has a readable format version."""
    version = info.get("format_version")
    if not isinstance(version, int):
        raise DatasetFormatError(f"{where}: no integer format_version")
    if version > FORMAT_VERSION:
        raise DatasetFormatError(
            f"{where}: dataset format version {version} was written by a newer vima toolchain; "
            f"this one reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}: upgrade it"
        )
    if version < OLDEST_READABLE_VERSION:
        raise DatasetFormatError(
            f"{where}: dataset format version {version} is no longer readable (this toolchain "
            f"reads {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}): rebuild the dataset"
        )


def read_meta(dataset: Path) -> dict[str, Any]:
    """The checked contents of `meta/info.json` (`format_version`, `configs`).

    Raises `DatasetFormatError` (a `ValueError` naming the file) when it is missing, is not
    JSON, or has a format version outside what this code reads.
    """
    path = info_path(dataset)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetFormatError(
            f"{path}: missing; {dataset} is not a dataset folder or was written before format "
            f"version 1 (rebuild it with `vima-convert build`)"
        ) from None
    except (OSError, ValueError) as error:
        raise DatasetFormatError(f"{path}: unreadable ({error})") from None
    if not isinstance(info, dict):
        raise DatasetFormatError(f"{path}: not a JSON object")
    check_format(info, path)
    return info


def describe_columns(schema: pa.Schema) -> dict[str, Any]:
    """Features (the `datasets` dict form, from the schema's embedded features when present)
    and pyarrow dtypes of every column of `schema`."""
    embedded = json.loads((schema.metadata or {}).get(b"huggingface", b"{}"))
    features = embedded.get("info", {}).get("features") or {
        field.name: feature_dict(field.type) for field in schema
    }
    return {
        "features": features,
        "dtypes": {field.name: str(field.type) for field in schema},
    }


def write_config_info(
    dataset: Path, variant: str, stage: str, description: Mapping[str, Any]
) -> Path:
    """Set the description of config `<variant>--<stage>` in `meta/info.json` (atomically).

    Descriptions of configs that have no shards any more are dropped; a file written by a
    newer format version is refused, never overwritten.
    """
    path = info_path(dataset)
    with meta_lock(dataset):
        info: dict[str, Any] = {"configs": {}}
        if path.exists():
            info = read_meta(dataset)
        present = {config_name(s.variant, s.stage) for s in list_shards(dataset)}
        configs = {k: v for k, v in info.get("configs", {}).items() if k in present}
        configs[config_name(variant, stage)] = dict(description)
        info = {"format_version": FORMAT_VERSION, "configs": dict(sorted(configs.items()))}
        atomic_write_text(path, json.dumps(info, indent=1) + "\n")
    return path


def read_episode_index(
    dataset: Path, variant: str | None = None, stage: str | None = None
) -> pa.Table:
    """Rows of `meta/episodes.parquet`, optionally of one variant and stage (format checked)."""
    read_meta(dataset)
    path = episodes_path(dataset)
    if not path.exists():
        raise DatasetFormatError(f"{path}: missing; rebuild the dataset with `vima-convert build`")
    table = pq.read_table(path)
    for column, wanted in (("variant", variant), ("stage", stage)):
        if wanted is not None:
            table = table.filter(pc.is_in(table[column], value_set=strings([wanted])))
    return table


def write_episode_index(dataset: Path, variant: str, stage: str, rows: pa.Table) -> Path:
    """Replace the index rows of `<variant>--<stage>` by `rows` (`EPISODE_INDEX_SCHEMA`).

    Rows of other configs are kept unless their shard no longer exists.
    """
    path = episodes_path(dataset)
    parts = [rows.select(EPISODE_INDEX_SCHEMA.names).cast(EPISODE_INDEX_SCHEMA)]
    with meta_lock(dataset):
        _replace_index_rows(dataset, path, variant, stage, parts)
    return path


def _replace_index_rows(
    dataset: Path, path: Path, variant: str, stage: str, parts: list[pa.Table]
) -> None:
    from vima_schema.parquet_shard import shard_writer

    if path.exists():
        old = pq.read_table(path).cast(EPISODE_INDEX_SCHEMA)
        mine = pc.and_(
            pc.is_in(old["variant"], value_set=strings([variant])),
            pc.is_in(old["stage"], value_set=strings([stage])),
        )
        shards = [s.path.relative_to(dataset).as_posix() for s in list_shards(dataset)]
        kept = pc.and_(pc.invert(mine), pc.is_in(old["shard"], value_set=strings(shards)))
        old = old.filter(kept)
        parts.insert(0, old)
    table = pa.concat_tables(parts).sort_by(_INDEX_ORDER)
    with shard_writer(path, EPISODE_INDEX_SCHEMA) as writer:
        writer.write_table(table)


@contextmanager
def meta_lock(dataset: Path) -> Iterator[None]:
    """Hold an exclusive lock on `meta/` while reading and rewriting its files, so that steps
    run at the same time on one dataset (tokenizing two variants) do not lose updates."""
    folder = dataset / META_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_PARSED_INDEX_COLUMNS = [
    "task",
    "index",
    "steps",
    "n_objects",
    "prompt",
    "seed",
    "objects.list.element.obj_name",
    "objects.list.element.texture_name",
]


def parsed_index_rows(dataset: Path, shard: Shard) -> pa.Table:
    """Episode-index rows of a parsed shard (reads only the small columns it needs)."""
    table = pq.ParquetFile(shard.path).read(columns=_PARSED_INDEX_COLUMNS)
    objects = cast(pa.ListArray, table["objects"].combine_chunks())
    values = objects.flatten()

    def per_episode(field: str) -> pa.ListArray:
        return pa.ListArray.from_arrays(objects.offsets, pc.struct_field(values, field))

    prompt = table["prompt"].combine_chunks()
    words = pc.list_value_length(pc.utf8_split_whitespace(prompt))
    rows = table.num_rows
    return pa.table(
        {
            "variant": strings([shard.variant] * rows),
            "stage": strings([shard.stage] * rows),
            "task": strings(TASK_NAMES).take(table["task"]),
            "index": table["index"],
            "split": strings([shard.split] * rows),
            "shard": strings([shard.path.relative_to(dataset).as_posix()] * rows),
            "row": row_numbers(rows),
            "steps": table["steps"],
            "objects": table["n_objects"],
            "prompt_words": words,
            "prompt_tokens": pa.nulls(rows, pa.int32()),
            "seed": table["seed"],
            "textures": per_episode("texture_name"),
            "shapes": per_episode("obj_name"),
        }
    ).cast(EPISODE_INDEX_SCHEMA)


def strings(values: Sequence[str]) -> pa.StringArray:
    """A string array built from its buffers (`pa.array` on Python objects imports pandas,
    seconds per process)."""
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return cast(
        pa.StringArray,
        pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets.tobytes()), data),
    )


def row_numbers(count: int) -> pa.Array:
    """int64 array 0, 1, ..., count - 1 (built without importing pandas)."""
    numbers = np.arange(count, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), count, [None, pa.py_buffer(numbers.tobytes())])
