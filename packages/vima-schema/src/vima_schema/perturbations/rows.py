"""Perturbations applied to rows of a parsed dataset (`vima-eval perturb`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from vima_schema.enums import TASK_NAMES
from vima_schema.perturbations.gobbledygook import TextTokenizer, Vocabulary
from vima_schema.perturbations.instruction import instruction_from_row, keep_assets
from vima_schema.perturbations.registry import Kind, Perturbation
from vima_schema.variant_rewrite import BatchTransform, replace_column

ROW_COLUMNS = ("task", "index", "prompt", "prompt_assets", "objects")


def perturb_row(
    row: Mapping[str, Any],
    perturbation: Perturbation,
    seed: int,
    tokenizer: TextTokenizer | None = None,
    vocabulary: Vocabulary = Vocabulary.english,
) -> dict[str, Any]:
    """`row` (a parsed row with at least `ROW_COLUMNS`) with its prompt perturbed and the
    prompt assets the new prompt no longer uses removed."""
    if perturbation.kind is not Kind.prompt:
        raise ValueError(
            f"perturbation {perturbation.name!r} acts at model input, not on the dataset"
        )
    task = TASK_NAMES[row["task"]]
    after = perturbation(instruction_from_row(row, task), seed, tokenizer, vocabulary)
    out = dict(row)
    out["prompt"] = after.prompt
    out["prompt_assets"] = keep_assets(row["prompt_assets"], after.prompt)
    return out


def parsed_batch_transform(
    perturbation: Perturbation,
    seed: int,
    tokenizer: TextTokenizer | None = None,
    vocabulary: Vocabulary = Vocabulary.english,
) -> BatchTransform:
    """A `vima_schema.variant_rewrite` transform applying `perturbation` to parsed batches."""

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = batch.select(list(ROW_COLUMNS)).to_pylist()
        done = [perturb_row(row, perturbation, seed, tokenizer, vocabulary) for row in rows]
        batch = replace_column(batch, "prompt", [row["prompt"] for row in done])
        if any(
            len(a["prompt_assets"]) != len(b["prompt_assets"])
            for a, b in zip(rows, done, strict=True)
        ):
            batch = replace_column(batch, "prompt_assets", [row["prompt_assets"] for row in done])
        return batch

    return transform
