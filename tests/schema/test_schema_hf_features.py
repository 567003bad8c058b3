"""The feature metadata written without `datasets` equals what `datasets` itself writes."""

from __future__ import annotations

import json

import datasets
import pyarrow as pa
from vima_schema.enums import TASK_NAMES
from vima_schema.hf_features import with_hf_features
from vima_schema.record import SCHEMA, hf_schema
from vima_tokenize.preprocessed import SCHEMA as PREPROCESSED_SCHEMA
from vima_tokenize.preprocessed import hf_schema as preprocessed_hf_schema


def _datasets_metadata(schema: pa.Schema) -> dict:
    found = datasets.Features.from_arrow_schema(schema)
    found["task"] = datasets.ClassLabel(names=list(TASK_NAMES))
    return json.loads(found.arrow_schema.metadata[b"huggingface"])


def test_parsed_record_metadata_matches_datasets() -> None:
    ours = json.loads(hf_schema().metadata[b"huggingface"])
    assert ours == _datasets_metadata(SCHEMA)
    assert hf_schema().remove_metadata().equals(SCHEMA)


def test_preprocessed_record_metadata_matches_datasets() -> None:
    ours = json.loads(preprocessed_hf_schema().metadata[b"huggingface"])
    assert ours == _datasets_metadata(PREPROCESSED_SCHEMA)


def test_nested_types_and_class_labels() -> None:
    schema = pa.schema(
        {
            "label": pa.int64(),
            "items": pa.list_(pa.struct([pa.field("a", pa.int16()), pa.field("b", pa.binary())])),
        }
    )
    ours = json.loads(with_hf_features(schema, {"label": ["x", "y"]}).metadata[b"huggingface"])
    features = datasets.Features(
        {
            "label": datasets.ClassLabel(names=["x", "y"]),
            "items": datasets.List({"a": datasets.Value("int16"), "b": datasets.Value("binary")}),
        }
    )
    assert ours == json.loads(features.arrow_schema.metadata[b"huggingface"])
