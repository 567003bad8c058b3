"""Hugging Face `datasets` feature metadata for parquet shards, without importing `datasets`.

`datasets` reads the features of a parquet file from the `huggingface` key of its schema
metadata. Writing that key directly saves the seconds `import datasets` takes in every worker;
a test checks the result against `datasets.Features(...).arrow_schema`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from vima_schema.enums import TASK_NAMES

if TYPE_CHECKING:
    import datasets

_FLOAT_NAMES = {"halffloat": "float16", "float": "float32", "double": "float64"}


def feature_dict(kind: pa.DataType) -> dict[str, Any]:
    """The `datasets` feature (as its dict form) of a pyarrow type: Value, List or struct."""
    if pa.types.is_list(kind):
        return {"feature": feature_dict(kind.value_type), "_type": "List"}
    if pa.types.is_struct(kind):
        return {field.name: feature_dict(field.type) for field in kind}
    return {"dtype": _FLOAT_NAMES.get(str(kind), str(kind)), "_type": "Value"}


def with_hf_features(schema: pa.Schema, class_labels: Mapping[str, Sequence[str]]) -> pa.Schema:
    """`schema` with `datasets` features embedded; `class_labels` columns become ClassLabels."""
    features = {field.name: feature_dict(field.type) for field in schema}
    for name, names in class_labels.items():
        features[name] = {"names": list(names), "_type": "ClassLabel"}
    metadata = {"huggingface": json.dumps({"info": {"features": features}})}
    return schema.with_metadata(metadata)


def task_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with features embedded and its int `task` column as a ClassLabel of the tasks."""
    return with_hf_features(schema, {"task": TASK_NAMES})


def task_features(schema: pa.Schema) -> datasets.Features:
    """The same as `datasets.Features` (imports `datasets`, which takes seconds)."""
    import datasets

    found = datasets.Features.from_arrow_schema(schema)
    found["task"] = datasets.ClassLabel(names=list(TASK_NAMES))
    return found
