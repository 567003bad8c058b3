"""Layout of a dataset folder in the form of a Hugging Face dataset repository.

Shards live at `<root>/<variant>/<stage>/<task>/<split>-NNNNN-of-MMMMM.parquet`; configs are
named `<variant>--<stage>--<task>` (one task) and `<variant>--<stage>` (all tasks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vima_schema.enums import Task

SPLITS = ("train", "valid")
#: Writer options of every parquet shard: zstd level 3, and no dictionary encoding, which on
#: the large binary columns (frames, masks, images) makes writing 4x and reading 6x slower for
#: no size gain (docs/PERFORMANCE.md).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": False,
}
PARSED = "parsed"
PREPROCESSED = "preprocessed"
_SHARD = re.compile(r"^(?P<split>[a-z]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")


def config_name(variant: str, stage: str, task: str | None = None) -> str:
    """Config name, e.g. `original--parsed--twist` or `original--parsed`."""
    return f"{variant}--{stage}" if task is None else f"{variant}--{stage}--{task}"


def task_dir(root: Path, variant: str, stage: str, task: str) -> Path:
    """Folder holding the shards of one task of one variant and stage."""
    return root / variant / stage / task


def shard_name(split: str, index: int, count: int) -> str:
    """File name of shard `index` of `count` of a split."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


@dataclass(frozen=True)
class Shard:
    """One parquet shard of a dataset folder."""

    path: Path
    variant: str
    stage: str
    task: str
    split: str
    index: int
    count: int


def list_shards(
    root: Path, variant: str | None = None, stage: str | None = None, task: str | None = None
) -> list[Shard]:
    """Every shard below `root`, optionally filtered, in a stable order."""
    shards: list[Shard] = []
    for path in sorted(root.glob("*/*/*/*.parquet")):
        match = _SHARD.match(path.name)
        task_name, stage_name, variant_name = (
            path.parent.name,
            path.parent.parent.name,
            (path.parent.parent.parent.name),
        )
        if match is None or task_name not in Task.__members__:
            continue
        if (variant, stage, task) != (None, None, None) and (
            (variant is not None and variant != variant_name)
            or (stage is not None and stage != stage_name)
            or (task is not None and task != task_name)
        ):
            continue
        shards.append(
            Shard(
                path=path,
                variant=variant_name,
                stage=stage_name,
                task=task_name,
                split=match["split"],
                index=int(match["index"]),
                count=int(match["count"]),
            )
        )
    return shards


def shards_of_config(root: Path, name: str, split: str | None = None) -> list[Shard]:
    """Shards of config `name` (`variant--stage` or `variant--stage--task`)."""
    parts = name.split("--")
    if len(parts) not in (2, 3):
        raise ValueError(f"config name {name!r} is not <variant>--<stage>[--<task>]")
    shards = list_shards(root, parts[0], parts[1], parts[2] if len(parts) == 3 else None)
    return [s for s in shards if split is None or s.split == split]


def shard_rows(path: Path) -> int:
    """Number of rows of a parquet shard (reads only its footer)."""
    return pq.read_metadata(path).num_rows


def remove_other_shards(folder: Path, keep: set[str]) -> None:
    """Delete parquet shards in `folder` not named in `keep` (left by an earlier run with other
    shard counts, they would otherwise duplicate episodes in the config)."""
    for path in folder.glob("*.parquet"):
        if path.name not in keep:
            path.unlink()
