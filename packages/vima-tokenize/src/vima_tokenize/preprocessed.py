"""The preprocessed (tokenized) record and its loader.

Arrays are stored as raw little-endian bytes in `binary` columns next to the integers that give
their shapes, so a row turns into numpy arrays with `np.frombuffer` and no per-row validation.
Pixels are uint8 (the model divides by 255 anyway), bounding boxes int16, bins uint8. Images
(object crops and resized frames) are stored as the residuals of a 2-D gradient predictor
(`left + up - up_left`, modulo 256) with the green residual subtracted from red and blue, which
zstd compresses 10-18 % better than the pixels or row differences; `load_arrays` undoes it
exactly with two cumulative sums.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from vima_schema.enums import VIEWS
from vima_schema.hf_features import task_features, task_schema

from vima_tokenize.crops import CROP_SIZE, RESIZED_HEIGHT, RESIZED_WIDTH

if TYPE_CHECKING:
    import datasets

VIEW_NAMES = tuple(view.value for view in VIEWS)

#: (dtype, trailing shape) of every array column; leading dims come from the count columns.
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
#: Columns stored as predictor residuals (`image_encode`).
IMAGE_CODED = frozenset(name for name in ARRAYS if "_crops_" in name)
ARRAYS["actions"] = ("float32", (14,))
ARRAYS["action_bins"] = ("uint8", (14,))

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
    **{name: pa.binary() for name in ARRAYS},
}
SCHEMA = pa.schema(_FIELDS)


@functools.cache
def features() -> datasets.Features:
    """`SCHEMA` as `datasets.Features` (`task` a ClassLabel of the 17 tasks)."""
    return task_features(SCHEMA)


@functools.cache
def hf_schema() -> pa.Schema:
    """`SCHEMA` with the Hugging Face features embedded, for parquet shards."""
    return task_schema(SCHEMA)


def leading_shape_names(name: str) -> tuple[str, ...]:
    """Count columns giving the leading dimensions of array column `name`."""
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
    """Leading dimensions of array column `name` in `row`."""
    return tuple(row[count] for count in _LEADING[name])


def image_encode(images: np.ndarray) -> np.ndarray:
    """uint8 images `(..., 3, H, W)` -> residuals of the gradient predictor, green residual
    subtracted from red and blue (all modulo 256); `image_decode` inverts it exactly."""
    rows = images.copy()
    rows[..., 1:] -= images[..., :-1]
    coded = rows.copy()
    coded[..., 1:, :] -= rows[..., :-1, :]
    coded[..., 0, :, :] -= coded[..., 1, :, :]
    coded[..., 2, :, :] -= coded[..., 1, :, :]
    return coded


def image_decode(coded: np.ndarray) -> np.ndarray:
    """Inverse of `image_encode`: add green back, then running sums down and across.

    The two running sums are one product with triangular matrices of ones in float32, exact
    because every partial sum is an integer below 2**24 (255 * 32 * 32 for a crop), and
    faster than numpy's uint8 `cumsum` along short rows.
    """
    rows = coded.astype(np.float32)
    rows[..., 0, :, :] += rows[..., 1, :, :]
    rows[..., 2, :, :] += rows[..., 1, :, :]
    height, width = coded.shape[-2:]
    summed = _ones_below(height) @ rows @ _ones_below(width).T
    return (summed.astype(np.int64) & 255).astype(np.uint8)


@functools.cache
def _ones_below(size: int) -> np.ndarray:
    """Lower-triangular matrix of ones (its product with a column gives running sums)."""
    if 255 * 2 * size * size >= 2**24:
        raise ValueError(f"images of {size} rows are too large for exact float32 sums")
    return np.tril(np.ones((size, size), np.float32))


def load_arrays(row: dict[str, Any]) -> dict[str, np.ndarray]:
    """Numpy arrays of one preprocessed row, ready to collate (no validation per row).

    Array columns get their full shapes (images decoded). Besides them: `token_types` int8,
    `word_ids` int64, `object_ids` int64, `prompt_object_ids` int64 (num_images,
    prompt_objects; -1 = padding).
    """
    arrays = {
        name: np.frombuffer(row[name], dtype=dtype).reshape(*leading_shape(row, name), *trailing)
        for name, (dtype, trailing) in ARRAYS.items()
    }
    for name in IMAGE_CODED:
        arrays[name] = image_decode(arrays[name])
    arrays["token_types"] = np.asarray(row["token_types"], dtype=np.int8)
    arrays["word_ids"] = np.asarray(row["word_ids"], dtype=np.int64)
    arrays["object_ids"] = np.asarray(row["object_ids"], dtype=np.int64)
    arrays["prompt_object_ids"] = np.asarray(row["prompt_object_ids"], dtype=np.int64).reshape(
        row["num_images"], row["prompt_objects"]
    )
    return arrays
