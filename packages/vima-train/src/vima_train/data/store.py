"""Tokenized episodes read through a memory-mapped Arrow cache of decoded arrays.

Decompressing a zstd parquet row and decoding its images (`load_arrays`) cost more than
everything else the loader does, so each preprocessed shard is converted once: every row goes
through `vima_tokenize.preprocessed.load_arrays` (`decoded_row_groups`) and its arrays are
stored as raw bytes in an uncompressed Arrow IPC file (one record batch per parquet row group,
so conversion memory stays at one row group). Training memory-maps these files: a row's arrays
are zero-copy `np.frombuffer` views of the mapped buffers, the operating system pages data in
and out, and resident memory stays bounded whatever the dataset size.

A cache file is named by the fingerprint of its shard (absolute path, size, modification time)
and `CACHE_VERSION`; a changed shard gets a new file. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from vima_schema.atomic import temporary_sibling
from vima_schema.dataset_layout import PREPROCESSED, Shard, list_shards
from vima_schema.enums import Task
from vima_tokenize.pipeline import SETTINGS_KEY
from vima_tokenize.preprocessed import (
    ARRAYS,
    SCHEMA,
    ArraysError,
    decoded_row_groups,
    leading_shape,
)

CACHE_VERSION = 2
#: Columns kept in the cache (everything `load_arrays` and collation read): the shard's scalar
#: and list columns, and every array decoded.
LIST_COLUMNS = ("token_types", "word_ids", "object_ids", "prompt_object_ids")
SCALAR_COLUMNS = (
    "task",
    "index",
    "num_images",
    "prompt_objects",
    "num_observations",
    "num_objects",
    "end_effector",
    "steps",
)
BINARY_COLUMNS = tuple(ARRAYS)


class DataError(ValueError):
    """A dataset folder that cannot be trained on (message names the folder and problem)."""


def default_cache_dir() -> Path:
    """$VIMA_TRAIN_CACHE, else $XDG_CACHE_HOME/vima-train, else ~/.cache/vima-train."""
    if os.environ.get("VIMA_TRAIN_CACHE"):
        return Path(os.environ["VIMA_TRAIN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vima-train"


@dataclass(frozen=True)
class TokenizeSettings:
    """What the shards were tokenized with (from their parquet metadata)."""

    tokenizer_sha256: str
    keep_final_observation: bool
    #: How object crops were resized (vima_tokenize.crops.CROP_RESAMPLINGS).
    crop_resampling: str = "area"


def find_shards(
    dataset: Path, variants: list[str], split: str, tasks: list[str] | None = None
) -> list[Shard]:
    """Preprocessed shards of `split` for the variants (and tasks); DataError when a variant or
    task has none at all."""
    if not dataset.is_dir():
        raise DataError(f"{dataset}: not a folder")
    unknown = [t for t in tasks or [] if t not in Task.__members__]
    if unknown:
        raise DataError(f"unknown task(s) {unknown}")
    found: list[Shard] = []
    for variant in variants:
        shards = [
            s
            for s in list_shards(dataset, variant, PREPROCESSED)
            if tasks is None or s.task in tasks
        ]
        if not shards:
            which = f" for tasks {tasks}" if tasks else ""
            raise DataError(
                f"{dataset}: no preprocessed configs '{variant}--preprocessed--<task>'{which} "
                "(run vima-tokenize first)"
            )
        found += [s for s in shards if s.split == split]
    return found


def tokenize_settings(shards: list[Shard]) -> TokenizeSettings:
    """The common tokenize settings of `shards`; DataError if missing or inconsistent."""
    seen: dict[bytes, Path] = {}
    for shard in shards:
        metadata = pq.read_schema(shard.path).metadata or {}
        value = metadata.get(SETTINGS_KEY)
        if value is None:
            raise DataError(f"{shard.path}: no vima_tokenize settings in the parquet metadata")
        seen.setdefault(value, shard.path)
    if len(seen) > 1:
        paths = ", ".join(str(p) for p in seen.values())
        raise DataError(f"shards tokenized with different settings: {paths}")
    if not seen:
        raise DataError("no shards")
    settings = json.loads(next(iter(seen)))
    return TokenizeSettings(
        tokenizer_sha256=str(settings["tokenizer_sha256"]),
        keep_final_observation=bool(settings["keep_final_observation"]),
        crop_resampling=str(settings.get("crop_resampling", "area")),
    )


def cache_path(shard: Path, cache_dir: Path) -> Path:
    """Cache file of a shard for its current content (fingerprint in the name)."""
    stat = shard.stat()
    key = json.dumps([str(shard.resolve()), stat.st_size, stat.st_mtime_ns, CACHE_VERSION])
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return cache_dir / f"{shard.parent.name}-{shard.stem}-{digest}.arrow"


def build_cache(shard: Path, cache_dir: Path) -> Path:
    """Write (if absent) the uncompressed Arrow IPC copy of a shard; return its path. DataError
    naming the shard when its arrays do not decode (corrupt, or another tokenize format)."""
    target = cache_path(shard, cache_dir)
    if target.is_file():
        return target
    folder = temporary_sibling(target)
    try:
        tmp = folder / target.name
        read = (*SCALAR_COLUMNS, *LIST_COLUMNS)
        schema = pa.schema(
            [SCHEMA.field(name) for name in read] + [(name, pa.binary()) for name in BINARY_COLUMNS]
        )
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for rows in decoded_row_groups(shard, read):
                for row in rows:
                    row.update({name: row[name].tobytes() for name in BINARY_COLUMNS})
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        os.replace(tmp, target)
    except ArraysError as error:
        raise DataError(str(error)) from None
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return target


class _Chunk:
    """One record batch of a mapped file, with numpy views of its offsets and buffers."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.binary: dict[str, tuple[np.ndarray, Any]] = {}
        for name in BINARY_COLUMNS:
            binary: Any = batch.column(name)
            offsets = np.frombuffer(binary.buffers()[1], np.int32)
            offsets = offsets[binary.offset : binary.offset + len(binary) + 1]
            self.binary[name] = (offsets, memoryview(binary.buffers()[2]))
        self.lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in LIST_COLUMNS:
            lists: Any = batch.column(name)
            self.lists[name] = (lists.offsets.to_numpy(), lists.values.to_numpy())
        self.scalars = {name: batch.column(name).to_numpy() for name in SCALAR_COLUMNS}

    def row(self, i: int) -> dict[str, Any]:
        row: dict[str, Any] = {name: int(values[i]) for name, values in self.scalars.items()}
        for name, (offsets, values) in self.lists.items():
            row[name] = values[offsets[i] : offsets[i + 1]]
        for name, (offsets, data) in self.binary.items():
            row[name] = data[offsets[i] : offsets[i + 1]]
        return row


class EpisodeStore:
    """Random access to tokenized rows of several cached shards (opened lazily per process)."""

    def __init__(self, files: list[Path], variants: list[int]) -> None:
        self.files = files
        self.variants = variants
        counts = [_rows(f) for f in files]
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._chunks: list[list[_Chunk]] | None = None
        self._chunk_starts: list[np.ndarray] = []
        self._pid = -1

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _open(self) -> list[list[_Chunk]]:
        if self._chunks is None or self._pid != os.getpid():  # fresh maps in each worker
            self._chunks, self._chunk_starts = [], []
            for path in self.files:
                reader = pa.ipc.open_file(pa.memory_map(str(path)))
                batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
                self._chunks.append([_Chunk(b) for b in batches])
                sizes = [b.num_rows for b in batches]
                self._chunk_starts.append(np.concatenate([[0], np.cumsum(sizes)]))
            self._pid = os.getpid()
        return self._chunks

    def row(self, i: int) -> dict[str, Any]:
        """Row `i`: scalars, list columns as arrays, array columns as raw decoded bytes
        (zero-copy memoryviews); `cached_arrays` turns it into `row_arrays`' output."""
        chunks = self._open()
        f = int(np.searchsorted(self.starts, i, side="right") - 1)
        local = i - int(self.starts[f])
        c = int(np.searchsorted(self._chunk_starts[f], local, side="right") - 1)
        row = chunks[f][c].row(local - int(self._chunk_starts[f][c]))
        row["variant"] = self.variants[f]
        return row

    def column(self, name: str) -> np.ndarray:
        """A scalar column over all rows (e.g. `task`, `steps`), read from the maps."""
        self._open()
        assert self._chunks is not None
        parts = [c.scalars[name] for file in self._chunks for c in file]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def __getstate__(self) -> dict[str, Any]:  # workers re-open the maps themselves
        state = self.__dict__.copy()
        state["_chunks"], state["_chunk_starts"], state["_pid"] = None, [], -1
        return state


def cached_arrays(row: dict[str, Any]) -> dict[str, Any]:
    """`row_arrays` of a cached row: the same keys, arrays as read-only views of the cache."""
    arrays: dict[str, Any] = {
        name: np.frombuffer(row[name], dtype=dtype).reshape(*leading_shape(row, name), *trailing)
        for name, (dtype, trailing) in ARRAYS.items()
    }
    arrays["token_types"] = row["token_types"].astype(np.int8)
    arrays["word_ids"] = row["word_ids"].astype(np.int64)
    arrays["object_ids"] = row["object_ids"].astype(np.int64)
    arrays["prompt_object_ids"] = (
        row["prompt_object_ids"].astype(np.int64).reshape(row["num_images"], row["prompt_objects"])
    )
    for key in ("end_effector", "task", "index", "steps", "variant"):
        arrays[key] = int(row[key])
    return arrays


def _rows(path: Path) -> int:
    reader = pa.ipc.open_file(pa.memory_map(str(path)))
    return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


def open_store(shards: list[Shard], variants: list[str], cache_dir: Path) -> EpisodeStore:
    """Build missing cache files for `shards` and open them as one store."""
    files = [build_cache(shard.path, cache_dir) for shard in shards]
    return EpisodeStore(files, [variants.index(shard.variant) for shard in shards])
