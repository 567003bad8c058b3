"""Hugging Face `datasets` feature metadata for parquet shards, without importing `datasets`.

`datasets` reads the features of a parquet file from the `huggingface` key of its schema
metadata. Writing that key directly saves the seconds `import datasets` takes in every worker;
a test checks the result against `datasets.Features(...).arrow_schema`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

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
