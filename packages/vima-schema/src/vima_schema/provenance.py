"""What a shard was made from, recorded in its parquet footer, so that stale shards are redone.

Every shard written by `build`, by a derived variant (`reword`, perturbations) or by
`vima-tokenize` carries, under the footer key `vima_provenance`, a JSON object with the dataset
format version, the settings of the step and its inputs: for a derived shard, the source
shard's path, SHA-256 of its bytes, its episode count and the SHA-256 of its episode ids; for a
built shard, the SHA-256 of its parsed input files. A derived step skips a shard only when its
recorded provenance equals the one it would write now and it lost no episode (`failed` = 0).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vima_schema.dataset_meta import FORMAT_VERSION

PROVENANCE_KEY = b"vima_provenance"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 4 MiB blocks)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def episode_ids_sha256(keys: Iterable[tuple[int, int]]) -> str:
    """Hex SHA-256 of (task, index) pairs in order."""
    digest = hashlib.sha256()
    for task, index in keys:
        digest.update(f"{task}/{index}\n".encode())
    return digest.hexdigest()


def shard_episode_ids(path: Path) -> list[tuple[int, int]]:
    """(task, index) of every row of a shard, in order (reads two small columns)."""
    columns = pq.read_table(path, columns=["task", "index"]).to_pydict()
    return [(int(t), int(i)) for t, i in zip(columns["task"], columns["index"], strict=True)]


def derived_provenance(
    source: Path, source_name: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Provenance of a shard derived from the shard `source` (`source_name`: its path relative
    to the dataset) with `settings` (JSON-serialisable: everything the output depends on)."""
    ids = shard_episode_ids(source)
    return {
        "format_version": FORMAT_VERSION,
        "source": source_name,
        "source_sha256": file_sha256(source),
        "source_episodes": len(ids),
        "source_episodes_sha256": episode_ids_sha256(ids),
        "settings": dict(settings),
    }


def write_provenance(writer: pq.ParquetWriter, provenance: Mapping[str, Any], failed: int) -> None:
    """Record `provenance` and the number of `failed` (dropped) episodes in a shard's footer."""
    record = {**provenance, "failed": failed}
    value = json.dumps(record, sort_keys=True)
    writer.add_key_value_metadata({PROVENANCE_KEY.decode(): value})


def recorded_provenance(path: Path) -> dict[str, Any] | None:
    """The provenance recorded in a shard's footer; None when missing or unreadable."""
    try:
        metadata = pq.read_metadata(path).metadata or {}
        value = metadata.get(PROVENANCE_KEY)
        return None if value is None else dict(json.loads(value))
    except (OSError, pa.ArrowInvalid, ValueError):
        return None


def is_current(path: Path, provenance: Mapping[str, Any]) -> bool:
    """Whether shard `path` exists, reads, was made from exactly `provenance` and lost nothing."""
    recorded = recorded_provenance(path)
    if recorded is None or recorded.pop("failed", None) != 0:
        return False
    return recorded == json.loads(json.dumps(dict(provenance), sort_keys=True))
