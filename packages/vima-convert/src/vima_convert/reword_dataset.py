"""`reword`: the paraphrased-instruction variant of a parsed dataset."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from vima_schema.enums import TASK_NAMES
from vima_schema.paraphrase import RewordError, reword_prompt
from vima_schema.perturbations import episode_key, perturbation_rng
from vima_schema.variant_rewrite import replace_column, rewrite_parsed_variant

log = logging.getLogger(__name__)

#: Version of the reword output; part of each shard's fingerprint.
REWORD_VERSION = 1


@dataclass
class RewordSummary:
    """Counts of a reword run; `kept` lists prompts left unchanged with the reason."""

    episodes: int = 0
    reworded: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)


def reword_dataset(
    dataset: Path, *, source: str = "original", target: str = "reworded", seed: int = 0
) -> RewordSummary:
    """Write `<target>--parsed--<task>` configs whose prompts paraphrase those of `source`."""
    if source == target:
        raise ValueError("--from and --to must name different variants")
    summary = RewordSummary()

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        return replace_column(batch, "prompt", _reword_batch(batch, seed, summary))

    rewrite_parsed_variant(
        dataset,
        source=source,
        target=target,
        transform=transform,
        settings={"transform": "reworded", "seed": seed, "version": REWORD_VERSION},
        overwrite=True,
    )
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
            # the random stream of the `reworded` perturbation: both give the same prompts
            rng = perturbation_rng("reworded", seed, episode_key(task, index))
            prompts.append(reword_prompt(prompt, task, rng, textures))
            summary.reworded += 1
        except (RewordError, ValueError) as error:
            prompts.append(prompt)
            summary.kept.append((f"{task}/{index}", str(error)))
            log.warning("vima-convert: kept original prompt of %s/%s: %s", task, index, error)
    return prompts
