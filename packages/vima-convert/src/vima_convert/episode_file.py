"""The per-episode file of step 1: one Arrow IPC file (lz4) holding one parsed record.

Arrow IPC is safe to load (no code runs), keeps the exact record of `vima_schema.record`, and
step 2 gathers it without any conversion. docs/FORMAT.md gives the measurements behind it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from vima_schema.atomic import atomic_write_bytes
from vima_schema.enums import Task
from vima_schema.models import Episode
from vima_schema.record import SCHEMA, episode_to_record

SUFFIX = ".arrow"
FAILURES_FILE = "failures.jsonl"
_OPTIONS = ipc.IpcWriteOptions(compression="lz4")


def episode_file(parsed: Path, task: Task, index: int) -> Path:
    """Path of the parsed file of one episode: `PARSED/<task>/<task>_<NNNNNN>.arrow`."""
    return parsed / task.name / f"{task.name}_{index:06d}{SUFFIX}"


def encode_episode(episode: Episode) -> bytes:
    """Serialise an episode's record as an Arrow IPC file."""
    table = pa.Table.from_pylist([episode_to_record(episode)], schema=SCHEMA)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, SCHEMA, options=_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def write_episode_file(path: Path, episode: Episode) -> int:
    """Atomically write the parsed file of `episode`; return its size in bytes."""
    data = encode_episode(episode)
    atomic_write_bytes(path, data, durable=False)  # `parse` checks every file when resuming
    return len(data)


def read_episode_file(path: Path) -> pa.Table:
    """Read one parsed file as a one-row table; ValueError names the file if it is broken."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: not a readable parsed episode file ({error})") from None
    return decode_episode_file(data, path)


def decode_episode_file(data: bytes, path: Path) -> pa.Table:
    """The one-row table of a parsed file's bytes `data` (read from `path`, named in errors)."""
    try:
        table = ipc.open_file(pa.py_buffer(data)).read_all()
    except (OSError, pa.ArrowInvalid) as error:
        raise ValueError(f"{path}: not a readable parsed episode file ({error})") from None
    if table.schema.remove_metadata() != SCHEMA.remove_metadata() or table.num_rows != 1:
        raise ValueError(f"{path}: schema or row count differs from the parsed record")
    return table


def is_complete(path: Path) -> bool:
    """True when `path` is a complete parsed file (its Arrow footer reads)."""
    try:
        with pa.memory_map(str(path)) as source:
            return ipc.open_file(source).num_record_batches == 1
    except (OSError, pa.ArrowInvalid):
        return False
