"""Object-centric crops and whole-frame resizing (numpy only).

Resampling method
-----------------
Both functions use *area* (box-filter) resampling: an output pixel is the average of the source
image over the output pixel's footprint, each source pixel weighted by the exact fraction of the
footprint it covers. The weights are computed with integer arithmetic per axis (exact rationals,
one final division) and applied separably as two small matrix products.

* Downscaling: this is cv2 ``INTER_AREA``'s area-averaging rule (for integer factors it is plain
  block-mean pooling, which `resize_frame` computes in integer arithmetic).
* Upscaling: the same overlap rule gives a piecewise-constant image whose output pixels that
  straddle a source pixel boundary are a linear blend of the two source pixels; this is the rule
  cv2 ``INTER_AREA`` uses when enlarging (weights ``1 - fx, fx`` with ``fx`` the overlap fraction).
* Only equal-direction scaling is guaranteed to behave like cv2 (object crops are padded to a
  square, so both axes always scale alike). For mixed up/down scaling cv2 switches to its upscale
  rule on both axes; here each axis keeps its exact area weights.

Rounding: results are stored as uint8, rounded half up (``floor(x + 0.5)``) and clipped to
[0, 255]. Exact ties are resolved up consistently (a tiny epsilon absorbs float error; true
values are rationals whose distance from a tie is far larger than the epsilon). The reference
(CoGeLoT) stores float32 values; uint8 storage differs from it by at most 0.5 per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["ObjectCrops", "area_resize", "object_crops", "resize_frame"]

CROP_SIZE = 32
FRAME_HEIGHT = 64
FRAME_WIDTH = 128

# Added before flooring so exact halves always round up despite float error. True values are
# rationals with denominator <= in_h * in_w, so they sit >= 1/65536 away from a tie for the frame
# sizes used here; float64 error on values <= 255 is ~1e-13.
_TIE_EPS = 1e-7


@dataclass(frozen=True)
class ObjectCrops:
    """Crops of the requested objects in one view of one frame, one slot per requested id.

    Attributes:
        crops: uint8 (N, 3, size, size); zeros for absent objects.
        bboxes: int64 (N, 4) ``[xc, yc, h, w]`` in full-resolution pixels; zeros when absent.
        mask: bool (N,), True where the object has at least 2 pixels in the view.
    """

    crops: np.ndarray
    bboxes: np.ndarray
    mask: np.ndarray


@lru_cache(maxsize=512)
def _area_weights(in_size: int, out_size: int) -> np.ndarray:
    """Return the (out_size, in_size) area-overlap weight matrix (rows sum to 1), read-only.

    Output pixel i covers source interval [i*in/out, (i+1)*in/out). Everything is scaled by
    ``out_size`` so the overlaps are integers; each row's overlaps sum to ``in_size``.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got in={in_size}, out={out_size}")
    i = np.arange(out_size, dtype=np.int64)[:, None]
    j = np.arange(in_size, dtype=np.int64)[None, :]
    lo = np.maximum(i * in_size, j * out_size)
    hi = np.minimum((i + 1) * in_size, (j + 1) * out_size)
    weights = np.maximum(hi - lo, 0).astype(np.float64) / in_size
    weights.flags.writeable = False
    return weights


def _round_to_uint8(values: np.ndarray) -> np.ndarray:
    out = np.floor(values + (0.5 + _TIE_EPS))
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-resize a (C, H, W) image to (C, height, width), returning uint8 (round half up)."""
    if image.ndim != 3:
        raise ValueError(f"expected a (C, H, W) image, got shape {image.shape}")
    _, in_h, in_w = image.shape
    wy = _area_weights(in_h, height)
    wx = _area_weights(in_w, width)
    return _round_to_uint8(wy @ image.astype(np.float64) @ wx.T)


def resize_frame(
    rgb: np.ndarray, height: int = FRAME_HEIGHT, width: int = FRAME_WIDTH
) -> np.ndarray:
    """Area-resize a (C, H, W) frame (default 3x128x256) to uint8 (C, height, width).

    When H and W are integer multiples of the target (128x256 -> 64x128), this is exact block-mean
    pooling in integer arithmetic, rounded half up: ``(2 * sum + k) // (2 * k)``.
    """
    if rgb.ndim != 3:
        raise ValueError(f"expected a (C, H, W) frame, got shape {rgb.shape}")
    channels, in_h, in_w = rgb.shape
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    if in_h % height or in_w % width or not np.issubdtype(rgb.dtype, np.integer):
        return area_resize(rgb, height, width)
    kh, kw = in_h // height, in_w // width
    small_unsigned = rgb.dtype.kind == "u" and rgb.dtype.itemsize <= 2
    acc = np.zeros((channels, height, width), dtype=np.uint32 if small_unsigned else np.int64)
    for dy in range(kh):
        rows = rgb[:, dy::kh]
        for dx in range(kw):
            acc += rows[:, :, dx::kw]
    k = kh * kw
    acc = (2 * acc + k) // (2 * k)
    np.clip(acc, 0, 255, out=acc)
    return acc.astype(np.uint8)


def _bbox_extents(
    segm: np.ndarray, object_ids: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (present, ymin, ymax, xmin, xmax) for every id, from one batched comparison."""
    height, width = segm.shape
    ids = np.asarray(object_ids, dtype=np.int64).reshape(-1)
    n = ids.size
    if np.issubdtype(segm.dtype, np.integer):
        info = np.iinfo(segm.dtype)
        valid = (ids >= info.min) & (ids <= info.max)
    else:
        valid = np.ones(n, dtype=bool)
    probe = np.where(valid, ids, 0).astype(segm.dtype)
    eq = segm[None, :, :] == probe[:, None, None]  # (N, H, W) bool, C-contiguous
    if width % 8 == 0:
        rows = eq.view(np.uint64).reshape(n, height, width // 8).any(axis=2)
    else:
        rows = eq.any(axis=2)
    cols = eq.any(axis=1)
    present = rows.any(axis=1) & valid
    ymin = rows.argmax(axis=1)
    ymax = height - 1 - rows[:, ::-1].argmax(axis=1)
    xmin = cols.argmax(axis=1)
    xmax = width - 1 - cols[:, ::-1].argmax(axis=1)
    # A single-pixel bbox means exactly one pixel; any larger bbox holds at least two.
    present &= (ymax > ymin) | (xmax > xmin)
    return present, ymin, ymax, xmin, xmax


def object_crops(
    rgb: np.ndarray, segm: np.ndarray, object_ids: Sequence[int], size: int = CROP_SIZE
) -> ObjectCrops:
    """Crop each requested object of one view of one frame (reference section 3.1).

    Args:
        rgb: uint8 (3, H, W) frame, channels first (H, W = 128, 256 in VIMA).
        segm: (H, W) integer segmentation map of the same view.
        object_ids: ids to crop, in output order. Object placeholders use id 0 (the object),
            not 255 (the background); scene placeholders 2, 3, ...; observations the
            ``obj_id_to_info`` keys.
        size: side of the square output crops.

    Returns:
        `ObjectCrops` with one slot per requested id. An id with fewer than 2 pixels is absent:
        mask False, zero crop, zero bbox. Otherwise bbox is ``[xc, yc, h, w]`` with
        ``xc = (xmin + xmax) // 2``, ``yc = (ymin + ymax) // 2``, ``h = ymax - ymin``,
        ``w = xmax - xmin``; the crop is ``rgb[:, ymin:ymax+1, xmin:xmax+1]`` zero-padded to a
        centred square (``diff // 2`` before) and area-resized to ``size x size``.
    """
    if rgb.ndim != 3 or segm.ndim != 2 or rgb.shape[1:] != segm.shape:
        raise ValueError(
            f"expected rgb (C, H, W) and segm (H, W), got {rgb.shape} and {segm.shape}"
        )
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    n = len(object_ids)
    crops = np.zeros((n, rgb.shape[0], size, size), dtype=np.uint8)
    bboxes = np.zeros((n, 4), dtype=np.int64)
    if n == 0:
        return ObjectCrops(crops=crops, bboxes=bboxes, mask=np.zeros(0, dtype=bool))
    present, ymin, ymax, xmin, xmax = _bbox_extents(segm, object_ids)
    for k in np.flatnonzero(present):
        y0, y1, x0, x1 = int(ymin[k]), int(ymax[k]), int(xmin[k]), int(xmax[k])
        h, w = y1 - y0, x1 - x0
        bboxes[k] = ((x0 + x1) // 2, (y0 + y1) // 2, h, w)
        side = max(h, w) + 1
        # Zero padding contributes nothing, so pad implicitly by slicing the square's weights.
        before_y = (side - (h + 1)) // 2
        before_x = (side - (w + 1)) // 2
        weights = _area_weights(side, size)
        wy = weights[:, before_y : before_y + h + 1]
        wx = weights[:, before_x : before_x + w + 1]
        patch = rgb[:, y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
        crops[k] = _round_to_uint8(wy @ patch @ wx.T)
    return ObjectCrops(crops=crops, bboxes=bboxes, mask=present.astype(bool, copy=False))
