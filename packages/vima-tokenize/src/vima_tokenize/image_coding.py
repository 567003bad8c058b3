"""Lossless coding of the images of a preprocessed row: predictor residuals and crop sources.

Every image (resized frame, object crop, crop source) is stored as the residuals of a 2-D
gradient predictor (`left + up - up_left`, modulo 256) with the green residual subtracted from
red and blue, which zstd compresses 10-18 % better than the pixels (`image_encode`).

An object crop is the area resize of a patch of its frame (`crops.area_crop`): many VIMA
objects are less than 32 pixels across, so their 32x32 crops are enlarged patches whose
blended pixels cost more than the patch itself. `encode_crops` therefore stores, per crop
slot, one of: nothing (an all-zero crop: the object is absent), the crop, or the patch
of the frame at the crop's bounding box when that is smaller than the crop and its area resize
gives back the crop exactly (checked while encoding; a crop made another way, e.g. by cv2,
is stored as it is). Decoding resizes the patch again with the same exact integer arithmetic,
so every crop comes back bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from vima_tokenize.crops import area_crop, area_crops

#: What a crop slot stores (one byte per slot).
EMPTY, CROP, PATCH = 0, 1, 2


class ImageCodingError(ValueError):
    """Coded image data that does not decode (truncated, or not what the shapes say)."""


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
    """Inverse of `image_encode`: add green back, then running sums (uint8, so modulo 256)
    down and across. Plain `cumsum`s: a product with triangular matrices of ones costs the
    square of a frame's width and wakes every BLAS thread."""
    rows = coded.copy()
    rows[..., 0, :, :] += rows[..., 1, :, :]
    rows[..., 2, :, :] += rows[..., 1, :, :]
    return np.cumsum(np.cumsum(rows, axis=-2, dtype=np.uint8), axis=-1, dtype=np.uint8)


def patch_shape(box: np.ndarray, size: int) -> tuple[int, int] | None:
    """(height, width) of the patch a bounding box `[xc, yc, h, w]` spans, or None when it
    has more pixels than a `size x size` crop (then the crop itself is smaller)."""
    height, width = int(box[2]) + 1, int(box[3]) + 1
    if height < 1 or width < 1 or height * width > size * size:
        return None
    return height, width


def _patch(source: np.ndarray, box: np.ndarray, size: int) -> np.ndarray | None:
    """The patch of `source` (3, H, W) under `box`, when it exists and is smaller than a crop."""
    shape = patch_shape(box, size)
    if shape is None:
        return None
    height, width = shape
    top, left = int(box[1]) - (height - 1) // 2, int(box[0]) - (width - 1) // 2
    if top < 0 or left < 0 or top + height > source.shape[1] or left + width > source.shape[2]:
        return None
    return source[:, top : top + height, left : left + width]


def encode_crops(
    crops: np.ndarray, boxes: np.ndarray, sources: Sequence[np.ndarray]
) -> tuple[np.ndarray, bytes]:
    """Code uint8 crops `(N, K, 3, S, S)` with their int boxes `(N, K, 4)` ([xc, yc, h, w]),
    `sources[n]` the uint8 `(3, H, W)` frame row `n` was cropped from. Returns the kind of each
    slot (uint8 `(N, K)`: EMPTY, CROP or PATCH) and the residuals: the CROP slots' crops, then
    each PATCH slot's patch, in slot order."""
    size = crops.shape[-1]
    kinds = np.full(crops.shape[:2], EMPTY, np.uint8)
    patches: list[bytes] = []
    for n, k in zip(*np.nonzero(crops.any(axis=(2, 3, 4))), strict=True):
        patch = _patch(sources[n], boxes[n, k], size)
        if patch is not None and np.array_equal(area_crop(patch, size), crops[n, k]):
            kinds[n, k] = PATCH
            patches.append(image_encode(patch).tobytes())
        else:
            kinds[n, k] = CROP
    return kinds, image_encode(crops[kinds == CROP]).tobytes() + b"".join(patches)


def decode_crops(
    kinds: np.ndarray, boxes: np.ndarray, data: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, int]:
    """Inverse of `encode_crops`: the uint8 crops of `shape` from the slot kinds, the boxes and
    the uint8 residuals at the start of `data`; also the number of bytes read."""
    size = shape[-1]
    if kinds.shape != shape[:2] or boxes.shape != (*shape[:2], 4):
        raise ImageCodingError(f"{kinds.shape} kinds and {boxes.shape} boxes for crops {shape}")
    unknown = np.setdiff1d(kinds, (EMPTY, CROP, PATCH))
    if unknown.size:
        raise ImageCodingError(f"unknown crop kind(s) {unknown.tolist()}")
    crops = np.zeros(shape, np.uint8)
    whole = kinds == CROP
    used = int(whole.sum()) * int(np.prod(shape[2:]))
    crops[whole] = image_decode(_take(data, 0, used).reshape(-1, *shape[2:]))
    # patches decoded together, each at the top left of a canvas as large as the largest:
    # running sums only look up and left, so the zeros around a patch do not change it
    slots = np.argwhere(kinds == PATCH)
    shapes = [patch_shape(boxes[n, k], size) for n, k in slots]
    bad = [(n, k) for (n, k), patch in zip(slots.tolist(), shapes, strict=True) if patch is None]
    if bad:
        raise ImageCodingError(f"crop slot(s) {bad}: boxes without a patch")
    sides = np.array(shapes, int).reshape(-1, 2).max(axis=0, initial=1)
    canvas = np.zeros((len(slots), shape[2], *sides), np.uint8)
    for i, (height, width) in enumerate(cast(list[tuple[int, int]], shapes)):
        count = shape[2] * height * width
        canvas[i, :, :height, :width] = _take(data, used, count).reshape(shape[2], height, width)
        used += count
    crops[kinds == PATCH] = area_crops(
        image_decode(canvas), cast(list[tuple[int, int]], shapes), size
    )
    return crops, used


def _take(data: np.ndarray, start: int, count: int) -> np.ndarray:
    if start + count > data.size:
        raise ImageCodingError(f"image data ends at byte {data.size}, {start + count} needed")
    return data[start : start + count]
