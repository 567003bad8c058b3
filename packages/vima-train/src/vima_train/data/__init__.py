"""Reading tokenized configs and collating them into padded batches."""

from vima_train.data.batch import (
    IGNORE_INDEX,
    Batch,
    Observations,
    Prompt,
    collate,
    collate_observations,
    collate_prompts,
    row_arrays,
)

__all__ = [
    "IGNORE_INDEX",
    "Batch",
    "Observations",
    "Prompt",
    "collate",
    "collate_observations",
    "collate_prompts",
    "row_arrays",
]
