"""Object-centric crops and whole-frame resizing (numpy only).

Resampling method
-----------------
Both functions use *area* (box-filter) resampling: an output pixel is the mean of the source
image over the output pixel's footprint, each source pixel weighted by the fraction of the
footprint it covers. Per axis the overlaps are integers once lengths are scaled by the output
size (output pixel i spans ``[i*in, (i+1)*in)``, source pixel j spans ``[j*out, (j+1)*out)``), so
``sum = Wy_int @ image @ Wx_int.T`` is an exact integer and the result is ``sum / (in_h * in_w)``.

* Downscaling: this is cv2 ``INTER_AREA``'s area-averaging rule; for integer factors
  (128x256 -> 64x128) it is plain block-mean pooling.
* Upscaling: the same overlap rule gives a piecewise-constant image in which output pixels that
  straddle a source pixel boundary blend the two source pixels linearly by overlap; this is the
  rule cv2 ``INTER_AREA`` uses when enlarging (taps ``1 - fx, fx``, ``fx`` the overlap fraction).
* Object crops are padded to a square, so both axes always scale the same way. (For mixed
  up/down scaling cv2 applies its upscale rule to both axes; here each axis keeps exact area
  weights.)

Rounding: results are stored as uint8, rounded half up, ``floor(sum / D + 1/2)``. The products are
computed with float32 BLAS only while every partial sum stays an integer below 2**24 (exact), else
float64, so the rounding is exact and ties always go up. The reference (CoGeLoT) stores cv2's
float32 output instead; uint8 storage differs from the exact mean by at most 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "CROP_RESAMPLINGS",
    "CROP_SIZE",
    "RESIZED_HEIGHT",
    "RESIZED_WIDTH",
    "ObjectCrops",
    "area_crop",
    "area_crops",
    "object_crops",
    "resize_frame",
]

CROP_SIZE = 32
#: Size of the whole frames stored next to the crops: the 128x256 camera frames (the schema's
#: FRAME_HEIGHT x FRAME_WIDTH) area-resized by half.
RESIZED_HEIGHT = 64
RESIZED_WIDTH = 128

_FLOAT32_EXACT = 2**24  # integers below this are exact in float32
#: How object crops are made: `area` (exact area mean, rounded half up; the default), `cv2`
#: (`cv2.resize(..., INTER_AREA)` itself, what VIMA's evaluation code runs: float32 arithmetic,
#: so about 4 % of values differ from `area` by one level; needs the cv2 extra) or `cogelot`
#: (CoGeLoT's preparation: `area`'s values, the nearest integers of the float32 crops CoGeLoT
#: keeps, of the objects CoGeLoT crops; `vima_tokenize.preprocess.object_selection`).
CROP_RESAMPLINGS = ("area", "cv2", "cogelot")


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


@lru_cache(maxsize=1024)
def _area_weights(in_size: int, out_size: int, dtype: type = np.float32) -> np.ndarray:
    """Integer area-overlap weights, shape (out_size, in_size), each row summing to ``in_size``."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got in={in_size}, out={out_size}")
    i = np.arange(out_size, dtype=np.int64)[:, None]
    j = np.arange(in_size, dtype=np.int64)[None, :]
    lo = np.maximum(i * in_size, j * out_size)
    hi = np.minimum((i + 1) * in_size, (j + 1) * out_size)
    weights = np.maximum(hi - lo, 0).astype(dtype)
    weights.flags.writeable = False
    return weights


def _exact_dtype(denominator: int) -> type:
    return np.float32 if 255 * denominator < _FLOAT32_EXACT else np.float64


def _check_uint8_chw(rgb: np.ndarray, name: str) -> None:
    if rgb.ndim != 3:
        raise ValueError(f"{name} must be (C, H, W), got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {rgb.dtype}")


def resize_frame(
    rgb: np.ndarray, height: int = RESIZED_HEIGHT, width: int = RESIZED_WIDTH
) -> np.ndarray:
    """Area-resize a uint8 (C, H, W) frame (default 3x128x256) to uint8 (C, height, width).

    Integer factors (128x256 -> 64x128) use exact block-mean pooling in integer arithmetic,
    rounded half up: ``(2 * sum + k) // (2 * k)`` with ``k`` pixels per block. Other sizes use the
    exact area weights described in the module docstring.
    """
    _check_uint8_chw(rgb, "rgb")
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    channels, in_h, in_w = rgb.shape
    if in_h % height == 0 and in_w % width == 0:
        kh, kw = in_h // height, in_w // width
        k = kh * kw
        acc_dtype = np.uint16 if (2 * 255 + 1) * k < 2**16 else np.uint32
        acc = np.zeros((channels, height, width), dtype=acc_dtype)
        for dy in range(kh):
            rows = rgb[:, dy::kh]
            for dx in range(kw):
                acc += rows[:, :, dx::kw]
        return ((2 * acc + k) // (2 * k)).astype(np.uint8)
    denominator = in_h * in_w
    dtype = _exact_dtype(denominator)
    wy = _area_weights(in_h, height, dtype)
    wx = _area_weights(in_w, width, dtype)
    total = (wy @ rgb.astype(dtype) @ wx.T).astype(np.float64)
    return np.floor((total + 0.5 * denominator) / denominator).astype(np.uint8)


def _bbox_extents(
    segm: np.ndarray, object_ids: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (present, ymin, ymax, xmin, xmax) for every id from one batched comparison.

    ``present`` is True when the id has at least 2 pixels.
    """
    height, width = segm.shape
    ids = np.asarray(object_ids, dtype=np.int64).reshape(-1)
    n = ids.size
    if np.issubdtype(segm.dtype, np.integer):
        info = np.iinfo(segm.dtype)
        valid = (ids >= info.min) & (ids <= info.max)  # other ids cannot occur in segm
        probe = np.where(valid, ids, 0).astype(segm.dtype)
    else:
        valid = np.ones(n, dtype=bool)
        probe = ids.astype(segm.dtype)
    eq = segm[None, :, :] == probe[:, None, None]  # (N, H, W) bool, C-contiguous
    if width % 8 == 0 and height < 256 and width // 8 < 256:
        # Sum 8 booleans per uint64 word: each byte lane counts at most 255 ones, so no carry
        # crosses lanes; a row (column) is occupied iff its lane/word sum is non-zero.
        words = eq.view(np.uint64).reshape(n, height, width // 8)
        rows = words.sum(axis=2) != 0
        cols = words.sum(axis=1).view(np.uint8) != 0
    else:
        rows = eq.any(axis=2)
        cols = eq.any(axis=1)
    present = rows.any(axis=1) & valid
    ymin = rows.argmax(axis=1)
    ymax = height - 1 - rows[:, ::-1].argmax(axis=1)
    xmin = cols.argmax(axis=1)
    xmax = width - 1 - cols[:, ::-1].argmax(axis=1)
    # A single-pixel bbox holds exactly one pixel; any larger bbox holds at least two.
    present &= (ymax > ymin) | (xmax > xmin)
    return present, ymin, ymax, xmin, xmax


def check_resampling(resampling: str) -> None:
    """ValueError unless `resampling` is one of `CROP_RESAMPLINGS` and usable here."""
    if resampling not in CROP_RESAMPLINGS:
        raise ValueError(f"crop resampling must be one of {CROP_RESAMPLINGS}, got {resampling!r}")
    if resampling == "cv2":
        try:
            import cv2  # noqa: F401
        except ImportError as error:
            raise ValueError(
                "crop resampling 'cv2' needs OpenCV: install the cv2 extra "
                "(uv sync --all-packages --extra cv2, or pip install 'vima-tokenize[cv2]')"
            ) from error


def _cv2_crop(patch: np.ndarray, size: int) -> np.ndarray:
    """`patch` (C, h, w) zero-padded to a centred square and resized by cv2's INTER_AREA."""
    import cv2

    channels, height, width = patch.shape
    side = max(height, width)
    square = np.zeros((side, side, channels), dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = patch.transpose(1, 2, 0)
    resized = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return resized.reshape(size, size, channels).transpose(2, 0, 1)


def _area_crops(rgb: np.ndarray, extents: list[tuple[int, int, int, int]], size: int) -> np.ndarray:
    """Rounded area-resized crops, (len(extents), C, size, size) floats holding integers, of the
    patches `rgb[:, y0:y1+1, x0:x1+1]` for each `(y0, y1, x0, x1)`, zero-padded to centred
    squares."""
    channels = rgb.shape[0]
    # Per object: sums as (size, C*size) so each crop is two plain 2-D GEMMs; padding is
    # implicit (zero rows/cols contribute nothing), so only the real patch is multiplied.
    # One dtype per call: float32 is exact whenever the largest possible square fits.
    dtype = _exact_dtype(max(rgb.shape[1:]) ** 2)
    totals = np.empty((len(extents), size, channels * size), dtype=dtype)
    denominators = np.empty((len(extents), 1, 1), dtype=np.float64)
    for j, (y0, y1, x0, x1) in enumerate(extents):
        ph, pw = y1 - y0 + 1, x1 - x0 + 1
        side = max(ph, pw)
        before_y, before_x = (side - ph) // 2, (side - pw) // 2
        weights = _area_weights(side, size, dtype)
        patch: np.ndarray = rgb[:, y0 : y1 + 1, x0 : x1 + 1].astype(dtype)
        cols = patch.reshape(channels * ph, pw) @ weights[:, before_x : before_x + pw].T
        cols = cols.reshape(channels, ph, size).transpose(1, 0, 2).reshape(ph, channels * size)
        np.matmul(weights[:, before_y : before_y + ph], cols, out=totals[j])
        denominators[j] = side * side
    rounded = np.floor((totals + 0.5 * denominators) / denominators)
    return rounded.reshape(len(extents), size, channels, size).transpose(0, 2, 1, 3)


def area_crop(patch: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """uint8 (C, size, size) crop of a whole uint8 (C, h, w) patch: zero-padded to a centred
    square and area-resized, exactly as `object_crops` (`area`) crops that patch of a frame."""
    _check_uint8_chw(patch, "patch")
    _, height, width = patch.shape
    return _area_crops(patch, [(0, height - 1, 0, width - 1)], size)[0].astype(np.uint8)


def area_crops(
    patches: np.ndarray, shapes: Sequence[tuple[int, int]], size: int = CROP_SIZE
) -> np.ndarray:
    """`area_crop` of each patch `patches[i, :, :h, :w]`, `(h, w) = shapes[i]`: uint8
    (N, C, size, size) from uint8 (N, C, H, W)."""
    crops = np.zeros((len(shapes), patches.shape[1], size, size), np.uint8)
    for i, (height, width) in enumerate(shapes):
        crops[i] = area_crop(patches[i, :, :height, :width], size)
    return crops


def object_crops(
    rgb: np.ndarray,
    segm: np.ndarray,
    object_ids: Sequence[int],
    size: int = CROP_SIZE,
    resampling: str = "area",
) -> ObjectCrops:
    """Crop each requested object of one view of one frame (model reference section 3.1).

    Args:
        rgb: uint8 (3, H, W) frame, channels first (H, W = 128, 256 in VIMA).
        segm: (H, W) integer segmentation map of the same view.
        object_ids: ids to crop, in output order (not reordered). Object placeholders use id 0
            (the object; 255 is the background), scene placeholders 2, 3, ..., observations the
            ``obj_id_to_info`` keys.
        size: side of the square output crops.

    Returns:
        `ObjectCrops` with one slot per requested id. An id with fewer than 2 pixels is absent:
        mask False, zero crop, zero bbox. Otherwise the bbox is ``[xc, yc, h, w]`` with
        ``xc = (xmin + xmax) // 2``, ``yc = (ymin + ymax) // 2``, ``h = ymax - ymin``,
        ``w = xmax - xmin``, and the crop is ``rgb[:, ymin:ymax+1, xmin:xmax+1]`` zero-padded to
        a centred square (``diff // 2`` before) and area-resized to ``size x size``.
        `resampling` is one of `CROP_RESAMPLINGS`.
    """
    _check_uint8_chw(rgb, "rgb")
    if segm.ndim != 2 or rgb.shape[1:] != segm.shape:
        raise ValueError(f"segm must be (H, W) matching rgb {rgb.shape}, got {segm.shape}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    n = len(object_ids)
    channels = rgb.shape[0]
    crops = np.zeros((n, channels, size, size), dtype=np.uint8)
    if n == 0:
        return ObjectCrops(crops, np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=bool))

    present, ymin, ymax, xmin, xmax = _bbox_extents(segm, object_ids)
    bboxes = np.stack([(xmin + xmax) // 2, (ymin + ymax) // 2, ymax - ymin, xmax - xmin], axis=1)
    bboxes = bboxes.astype(np.int64, copy=False)
    bboxes[~present] = 0

    idx = np.flatnonzero(present)
    check_resampling(resampling)
    if resampling == "cv2":
        for j in idx.tolist():
            patch = rgb[:, ymin[j] : ymax[j] + 1, xmin[j] : xmax[j] + 1]
            crops[j] = _cv2_crop(patch, size)
    elif idx.size:
        extents = zip(
            ymin[idx].tolist(),
            ymax[idx].tolist(),
            xmin[idx].tolist(),
            xmax[idx].tolist(),
            strict=True,
        )
        crops[idx] = _area_crops(rgb, list(extents), size)
    return ObjectCrops(crops=crops, bboxes=bboxes, mask=present)
