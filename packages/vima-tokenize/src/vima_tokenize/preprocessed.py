"""The preprocessed (tokenized) record and its loader.

A row holds the prompt's tokens, counts and ids as columns, the continuous `actions` as raw
float32 bytes (`meta/info.json`'s statistics read them without touching the images), and every
other array in one binary column, `arrays` (`encode_arrays`): a 4-byte tag naming the encoding,
the CRC-32 and length of the payload, then the payload compressed by zstd level 1 (on these
residuals smaller than parquet's level 3, which then finds nothing left to compress). The payload is
the raw little-endian bytes of the small arrays (bounding boxes int16, masks, action bins
uint8) and the kind of each crop slot, followed by the images as predictor residuals (frames
whole, crops as crops or as their smaller source patches: `vima_tokenize.image_coding`).
Shapes come from the count columns, so `load_arrays` turns a row into numpy arrays with no
per-row validation beyond the checksum and the lengths.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from vima_schema.enums import TASK_NAMES, VIEWS
from vima_schema.hf_features import task_features, task_schema

from vima_tokenize.crops import CROP_SIZE, RESIZED_HEIGHT, RESIZED_WIDTH
from vima_tokenize.image_coding import decode_crops, encode_crops, image_decode, image_encode

if TYPE_CHECKING:
    import datasets

VIEW_NAMES = tuple(view.value for view in VIEWS)

#: (dtype, trailing shape) of every array; leading dims come from the count columns.
ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {}
for _view in VIEW_NAMES:
    ARRAYS.update(
        {
            f"prompt_crops_{_view}": ("uint8", (3, CROP_SIZE, CROP_SIZE)),
            f"prompt_bbox_{_view}": ("int16", (4,)),
            f"prompt_mask_{_view}": ("bool", ()),
            f"prompt_frames_{_view}": ("uint8", (3, RESIZED_HEIGHT, RESIZED_WIDTH)),
            f"obs_crops_{_view}": ("uint8", (3, CROP_SIZE, CROP_SIZE)),
            f"obs_bbox_{_view}": ("int16", (4,)),
            f"obs_mask_{_view}": ("bool", ()),
            f"obs_frames_{_view}": ("uint8", (3, RESIZED_HEIGHT, RESIZED_WIDTH)),
        }
    )
ARRAYS["actions"] = ("float32", (14,))
ARRAYS["action_bins"] = ("uint8", (14,))
#: Arrays of the `arrays` blob, by part: images (in this order) and raw bytes.
IMAGES = tuple(name for name in ARRAYS if "_crops_" in name or "_frames_" in name)
SMALL = tuple(name for name in ARRAYS if name not in IMAGES and name != "actions")
#: The tag of the blob's encoding; another tag is refused (rerun vima-tokenize).
ARRAYS_TAG = b"VTA1"
_HEADER = struct.Struct("<4sII")  # tag, CRC-32 and length of the payload
_ZSTD = pa.Codec("zstd", compression_level=1)

_FIELDS: dict[str, pa.DataType] = {
    "task": pa.int64(),
    "index": pa.int64(),
    "prompt": pa.string(),
    "token_types": pa.list_(pa.int8()),
    "word_ids": pa.list_(pa.int32()),
    "num_images": pa.int32(),
    "prompt_objects": pa.int32(),
    "prompt_object_ids": pa.list_(pa.int32()),
    "num_observations": pa.int32(),
    "num_objects": pa.int32(),
    "object_ids": pa.list_(pa.int32()),
    "end_effector": pa.int8(),
    "steps": pa.int32(),
    "position_is_2d": pa.bool_(),
    "actions": pa.binary(),
    "arrays": pa.binary(),
}
SCHEMA = pa.schema(_FIELDS)
#: Columns `load_arrays` reads.
LOAD_COLUMNS = (
    "task",
    "index",
    "num_images",
    "prompt_objects",
    "num_observations",
    "num_objects",
    "steps",
    "token_types",
    "word_ids",
    "object_ids",
    "prompt_object_ids",
    "actions",
    "arrays",
)


class ArraysError(ValueError):
    """A row's arrays that cannot be decoded: an unknown encoding or corrupt bytes."""


@functools.cache
def features() -> datasets.Features:
    """`SCHEMA` as `datasets.Features` (`task` a ClassLabel of the 17 tasks)."""
    return task_features(SCHEMA)


@functools.cache
def hf_schema() -> pa.Schema:
    """`SCHEMA` with the Hugging Face features embedded, for parquet shards."""
    return task_schema(SCHEMA)


def leading_shape_names(name: str) -> tuple[str, ...]:
    """Count columns giving the leading dimensions of array `name`."""
    if name.startswith("prompt_frames"):
        return ("num_images",)
    if name.startswith("prompt_"):
        return ("num_images", "prompt_objects")
    if name.startswith("obs_frames"):
        return ("num_observations",)
    if name.startswith("obs_"):
        return ("num_observations", "num_objects")
    return ("steps",)


_LEADING = {name: leading_shape_names(name) for name in ARRAYS}


def leading_shape(row: dict[str, Any], name: str) -> tuple[int, ...]:
    """Leading dimensions of array `name` in `row`."""
    return tuple(row[count] for count in _LEADING[name])


def _boxes_of(crops: str) -> str:
    return crops.replace("_crops_", "_bbox_")


def encode_arrays(arrays: dict[str, np.ndarray], sources: dict[str, Sequence[np.ndarray]]) -> bytes:
    """The `arrays` blob of every array but `actions` (`ARRAYS` dtypes and full shapes);
    `sources[name]` holds, for each crops array, the uint8 (3, H, W) image each of its rows
    was cropped from."""
    small = [np.ascontiguousarray(arrays[name], ARRAYS[name][0]).tobytes() for name in SMALL]
    images = []
    for name in IMAGES:
        if "_frames_" in name:
            images.append(image_encode(arrays[name]).tobytes())
            continue
        kinds, coded = encode_crops(arrays[name], arrays[_boxes_of(name)], sources[name])
        small.append(kinds.tobytes())
        images.append(coded)
    payload = b"".join(small + images)
    header = _HEADER.pack(ARRAYS_TAG, zlib.crc32(payload), len(payload))
    return header + _ZSTD.compress(payload, asbytes=True)


def decode_arrays(blob: bytes, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Inverse of `encode_arrays`: the arrays of the blob, of the given full `shapes`.
    ArraysError for another encoding's tag, a wrong checksum or lengths that do not match."""
    if len(blob) < _HEADER.size:
        raise ArraysError(f"arrays blob of {len(blob)} bytes is truncated")
    tag, crc, length = _HEADER.unpack_from(blob)
    if tag != ARRAYS_TAG:
        raise ArraysError(
            f"unknown arrays encoding {tag!r} (this vima-tokenize reads {ARRAYS_TAG!r}): "
            "tokenized by another version, rerun vima-tokenize"
        )
    try:
        data = _ZSTD.decompress(memoryview(blob)[_HEADER.size :], length, asbytes=True)
    except (pa.ArrowException, OSError) as error:
        raise ArraysError(f"arrays blob is corrupt ({error})") from None
    if zlib.crc32(data) != crc:
        raise ArraysError("arrays blob is corrupt (CRC-32 mismatch)")
    payload = np.frombuffer(data, np.uint8)
    arrays: dict[str, np.ndarray] = {}
    used = 0

    def take(count: int) -> np.ndarray:
        nonlocal used
        if used + count > payload.size:
            raise ArraysError(f"arrays blob ends at byte {payload.size}, {used + count} needed")
        used += count
        return payload[used - count : used]

    for name in SMALL:
        dtype = np.dtype(ARRAYS[name][0])
        arrays[name] = take(int(np.prod(shapes[name])) * dtype.itemsize).view(dtype)
        arrays[name] = arrays[name].reshape(shapes[name])
    crops = [name for name in IMAGES if "_crops_" in name]
    kinds = {name: take(int(np.prod(shapes[name][:2]))).reshape(shapes[name][:2]) for name in crops}
    for name in IMAGES:
        if name in kinds:
            boxes = arrays[_boxes_of(name)]
            try:
                arrays[name], count = decode_crops(kinds[name], boxes, payload[used:], shapes[name])
            except ValueError as error:
                raise ArraysError(f"{name}: {error}") from None
            used += count
        else:
            arrays[name] = image_decode(take(int(np.prod(shapes[name]))).reshape(shapes[name]))
    if used != payload.size:
        raise ArraysError(f"arrays blob has {payload.size - used} bytes beyond its arrays")
    return arrays


def load_arrays(row: dict[str, Any]) -> dict[str, np.ndarray]:
    """Numpy arrays of one preprocessed row, ready to collate (no validation per row).

    Every `ARRAYS` entry with its full shape (images decoded). Besides them: `token_types`
    int8, `word_ids` int64, `object_ids` int64, `prompt_object_ids` int64 (num_images,
    prompt_objects; -1 = padding). ArraysError (naming the episode) when the arrays do not
    decode.
    """
    shapes = {
        name: (*leading_shape(row, name), *trailing) for name, (_, trailing) in ARRAYS.items()
    }
    try:
        arrays = decode_arrays(row["arrays"], shapes)
        arrays["actions"] = np.frombuffer(row["actions"], np.float32).reshape(shapes["actions"])
    except ValueError as error:
        raise ArraysError(f"episode {TASK_NAMES[row['task']]}/{row['index']}: {error}") from None
    arrays["token_types"] = np.asarray(row["token_types"], dtype=np.int8)
    arrays["word_ids"] = np.asarray(row["word_ids"], dtype=np.int64)
    arrays["object_ids"] = np.asarray(row["object_ids"], dtype=np.int64)
    arrays["prompt_object_ids"] = np.asarray(row["prompt_object_ids"], dtype=np.int64).reshape(
        row["num_images"], row["prompt_objects"]
    )
    return arrays


def decoded_row_groups(path: Path, columns: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    """The rows of a preprocessed shard, one list per row group: `columns` (as read) plus every
    `ARRAYS` entry decoded. ArraysError naming the shard (and the row) when a row does not
    decode or the shard is of another layout (tokenized by another vima-tokenize: rerun it)."""
    source = pq.ParquetFile(path)
    missing = [name for name in LOAD_COLUMNS if name not in source.schema_arrow.names]
    if missing:
        raise ArraysError(
            f"{path}: no column(s) {missing}: tokenized by another vima-tokenize version, "
            "rerun vima-tokenize"
        )
    wanted = list(dict.fromkeys([*columns, *LOAD_COLUMNS]))
    start = 0
    for group in range(source.num_row_groups):
        rows = source.read_row_group(group, columns=wanted).to_pylist()
        for number, row in enumerate(rows, start):
            try:
                decoded = load_arrays(row)
            except ArraysError as error:
                raise ArraysError(f"{path}, row {number}: {error}") from None
            row.update({name: decoded[name] for name in ARRAYS})
        start += len(rows)
        yield rows
