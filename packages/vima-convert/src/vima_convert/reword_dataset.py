"""`reword`: the paraphrased-instruction variant of a parsed dataset."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
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
from vima_schema.enums import TASK_NAMES

from vima_convert.reword import RewordError, reword_prompt


@dataclass
class RewordSummary:
    """Counts of a reword run; `kept` lists prompts left unchanged with the reason."""

    episodes: int = 0
    reworded: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)


def episode_rng(seed: int, task: str, index: int) -> random.Random:
    """Random generator of one episode: depends on seed, task and index only."""
    return random.Random(f"{seed}/{task}/{index}")


def reword_dataset(
    dataset: Path, *, source: str = "original", target: str = "reworded", seed: int = 0
) -> RewordSummary:
    """Write `<target>--parsed--<task>` configs whose prompts paraphrase those of `source`."""
    if source == target:
        raise ValueError("--from and --to must name different variants")
    shards = list_shards(dataset, source, PARSED)
    if not shards:
        raise ValueError(f"{dataset}: variant {source!r} has no parsed shards")
    summary = RewordSummary()
    written: dict[Path, set[str]] = {}
    for shard in shards:
        out_dir = task_dir(dataset, target, PARSED, shard.task)
        out_dir.mkdir(parents=True, exist_ok=True)
        written.setdefault(out_dir, set()).add(shard.path.name)
        tmp = out_dir / f".{shard.path.name}.tmp"
        source_file = pq.ParquetFile(shard.path)
        with pq.ParquetWriter(tmp, source_file.schema_arrow, **PARQUET_OPTIONS) as writer:
            for batch in source_file.iter_batches(batch_size=64):
                prompts = _reword_batch(batch, seed, summary)
                column = batch.schema.get_field_index("prompt")
                batch = batch.set_column(column, "prompt", pa.array(prompts, pa.string()))
                writer.write_batch(batch)
        tmp.replace(out_dir / shard.path.name)
    for out_dir, names in written.items():
        remove_other_shards(out_dir, names)
    write_card(dataset)
    return summary


def _reword_batch(batch: pa.RecordBatch, seed: int, summary: RewordSummary) -> list[str]:
    columns = batch.select(["task", "index", "prompt", "objects"]).to_pydict()
    prompts: list[str] = []
    for task_value, index, prompt, objects in zip(
        columns["task"], columns["index"], columns["prompt"], columns["objects"], strict=True
    ):
        task = TASK_NAMES[task_value]
        textures = [obj["texture_name"] for obj in objects]
        summary.episodes += 1
        try:
            prompts.append(reword_prompt(prompt, task, episode_rng(seed, task, index), textures))
            summary.reworded += 1
        except (RewordError, ValueError) as error:
            prompts.append(prompt)
            summary.kept.append((f"{task}/{index}", str(error)))
            print(f"vima-convert: kept original prompt of {task}/{index}: {error}", file=sys.stderr)
    return prompts
