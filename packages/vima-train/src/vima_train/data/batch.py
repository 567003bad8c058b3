"""Batches: rows of `vima_tokenize.preprocessed.load_arrays` padded into tensors with masks.

Pixels stay uint8 and bounding boxes int16 until they reach the model (4x less to copy to the
accelerator); the model converts them. Views are stacked on their own axis (front, top).
Padding: masks are False, ids 0, token types -1, action bins -100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch.utils.data import get_worker_info
from vima_tokenize.actions import AXIS_BINS, NUM_AXES
from vima_tokenize.preprocessed import VIEW_NAMES, load_arrays

IGNORE_INDEX = -100
#: Keys `row_arrays` adds to `load_arrays`'s output.
ROW_SCALARS = ("end_effector", "task", "index", "steps")


def row_arrays(row: Mapping[str, Any]) -> dict[str, Any]:
    """`load_arrays(row)` plus the scalars collation needs (end effector, task, index, steps)
    and `variant` (the position of the row's dataset variant in a mix; 0 when absent)."""
    arrays: dict[str, Any] = load_arrays(dict(row))
    for key in ROW_SCALARS:
        arrays[key] = int(row[key])
    arrays["variant"] = int(row.get("variant", 0))
    return arrays


@dataclass
class Prompt:
    """Padded prompts. I = most images, K = most objects per image, V = 2 views."""

    token_types: torch.Tensor  # [B, L_tok] int64: 0 word, 1 image, -1 padding
    word_ids: torch.Tensor  # [B, W] int64, 0 = padding
    word_mask: torch.Tensor  # [B, W] bool
    image_mask: torch.Tensor  # [B, I] bool
    crops: torch.Tensor | None  # [B, I, V, K, 3, 32, 32] uint8
    bbox: torch.Tensor | None  # [B, I, V, K, 4] int16
    object_mask: torch.Tensor  # [B, I, V, K] bool
    frames: torch.Tensor | None  # [B, I, V, 3, 64, 128] uint8


@dataclass
class Observations:
    """Padded observations. O = most observations, N = most objects."""

    step_mask: torch.Tensor  # [B, O] bool
    end_effector: torch.Tensor  # [B, O] int64
    crops: torch.Tensor | None  # [B, O, V, N, 3, 32, 32] uint8
    bbox: torch.Tensor | None  # [B, O, V, N, 4] int16
    object_mask: torch.Tensor  # [B, O, V, N] bool
    frames: torch.Tensor | None  # [B, O, V, 3, 64, 128] uint8

    def top_view(self, steps: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Boxes [B, steps, N, 4] and mask [B, steps, N] of the top view's objects in the first
        `steps` observations (None without boxes)."""
        if self.bbox is None:
            return None
        return self.bbox[:, :steps, -1], self.object_mask[:, :steps, -1]


@dataclass
class Batch:
    """A collated batch; `actions`/`action_bins` cover T = most steps (T <= O)."""

    prompt: Prompt
    observations: Observations
    actions: torch.Tensor  # [B, T, 14] float32, 0 where padded
    action_bins: torch.Tensor  # [B, T, 14] int64, IGNORE_INDEX where padded
    step_mask: torch.Tensor  # [B, T] bool
    task: torch.Tensor  # [B] int64 (vima_schema Task value; -1 unknown)
    index: torch.Tensor  # [B] int64 (episode index; -1 unknown)
    variant: torch.Tensor  # [B] int64 (position of the dataset variant; 0 if one)

    @property
    def size(self) -> int:
        """Number of episodes."""
        return int(self.step_mask.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """A copy with every tensor on `device`."""
        return _apply(self, lambda t: t.to(device, non_blocking=True))


def _apply(obj: Any, func: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return func(obj)
    if obj is None or not hasattr(obj, "__dataclass_fields__"):
        return obj
    return type(obj)(**{f.name: _apply(getattr(obj, f.name), func) for f in fields(obj)})


def _full(shape: tuple[int, ...], fill: Any, dtype: Any) -> tuple[torch.Tensor, np.ndarray]:
    """A tensor filled with `fill` and a numpy view of it."""
    array = np.full(shape, fill, dtype=dtype)
    return torch.from_numpy(array), array


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if obj is None or not hasattr(obj, "__dataclass_fields__"):
        return []
    return [t for f in fields(obj) for t in _tensors(getattr(obj, f.name))]


def pack_shared(batch: Batch) -> Batch:
    """The batch with every tensor a view of one shared-memory buffer.

    A DataLoader worker sends each tensor through its own shared-memory segment and file
    descriptor; with ~20 tensors per batch that costs more than reading and collating the
    episodes. One buffer is one segment (measured in docs/PERFORMANCE.md).
    """
    tensors = _tensors(batch)
    offsets, total = [], 0
    for tensor in tensors:
        offsets.append(total)
        total += -(-tensor.numel() * tensor.element_size() // 64) * 64
    buffer = torch.empty(total, dtype=torch.uint8).share_memory_()
    views: dict[int, torch.Tensor] = {}
    for tensor, offset in zip(tensors, offsets, strict=True):
        size = tensor.numel() * tensor.element_size()
        view = buffer[offset : offset + size].view(tensor.dtype).view(tensor.shape)
        view.copy_(tensor)
        views[id(tensor)] = view
    return _apply(batch, lambda t: views[id(t)])


def _pad(arrays: Sequence[np.ndarray], fill: Any, dtype: Any, rank: int) -> torch.Tensor:
    """Stack arrays whose first `rank` dims vary, padding each of them to the maximum."""
    shape = [len(arrays)]
    for axis in range(rank):
        shape.append(max((a.shape[axis] for a in arrays), default=0))
    trailing = next((a.shape[rank:] for a in arrays), ())
    tensor, out = _full((*shape, *trailing), fill, dtype)
    for i, array in enumerate(arrays):
        out[(i, *(slice(0, n) for n in array.shape[:rank]))] = array  # type: ignore[index]
    return tensor


def _views(
    rows: Sequence[Mapping[str, Any]], stem: str, fill: Any, dtype: Any, rank: int
) -> torch.Tensor:
    """Per-view arrays `<stem>_<view>` ([lead0, lead1.., trailing], `rank` leading dims) padded
    to the batch maximum as [B, lead0, V, lead1.., trailing]."""
    arrays = [[row[f"{stem}_{view}"] for view in VIEW_NAMES] for row in rows]
    leads = [max((a.shape[d] for pair in arrays for a in pair), default=0) for d in range(rank)]
    trailing = arrays[0][0].shape[rank:]
    shape = (len(rows), leads[0], len(VIEW_NAMES), *leads[1:], *trailing)
    tensor, out = _full(shape, fill, dtype)
    for i, pair in enumerate(arrays):
        for v, array in enumerate(pair):
            out[(i, slice(0, array.shape[0]), v, *(slice(0, n) for n in array.shape[1:rank]))] = (  # type: ignore[index]
                array
            )
    return tensor


def _require(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    for i, row in enumerate(rows):
        missing = [key for key in keys if key not in row]
        if missing:
            raise KeyError(
                f"row {i} lacks {missing}: collate takes vima_train.data.row_arrays(row) "
                "(load_arrays plus end_effector)"
            )


def collate_prompts(
    rows: Sequence[Mapping[str, Any]], *, crops: bool = True, frames: bool = True
) -> Prompt:
    """Pad the prompt part of `row_arrays` rows (`crops`/`frames`: include those pixels)."""
    _require(rows, ["token_types", "word_ids", "prompt_mask_front"])
    words = [np.asarray(row["word_ids"], dtype=np.int64) for row in rows]
    images = [np.ones(row["prompt_mask_front"].shape[0], bool) for row in rows]
    for i, (row, w, n) in enumerate(zip(rows, words, images, strict=True)):
        types = np.asarray(row["token_types"])
        if int((types == 0).sum()) != len(w) or int((types == 1).sum()) != len(n):
            raise ValueError(
                f"row {i}: token_types has {int((types == 0).sum())} words and "
                f"{int((types == 1).sum())} images, the row {len(w)} and {len(n)}"
            )
    return Prompt(
        token_types=_pad([np.asarray(r["token_types"], np.int64) for r in rows], -1, np.int64, 1),
        word_ids=_pad(words, 0, np.int64, 1),
        word_mask=_pad([np.ones(len(w), bool) for w in words], False, bool, 1),
        image_mask=_pad(images, False, bool, 1),
        crops=_views(rows, "prompt_crops", 0, np.uint8, 2) if crops else None,
        bbox=_views(rows, "prompt_bbox", 0, np.int16, 2) if crops else None,
        object_mask=_views(rows, "prompt_mask", False, bool, 2),
        frames=_views(rows, "prompt_frames", 0, np.uint8, 1) if frames else None,
    )


def collate_observations(
    rows: Sequence[Mapping[str, Any]], *, crops: bool = True, frames: bool = True
) -> Observations:
    """Pad the observation part of rows (`obs_*` arrays and `end_effector`)."""
    _require(rows, ["obs_mask_front", "end_effector"])
    counts = [row["obs_mask_front"].shape[0] for row in rows]
    steps = _pad([np.ones(n, bool) for n in counts], False, bool, 1)
    effector = np.asarray([int(row["end_effector"]) for row in rows], np.int64)
    return Observations(
        step_mask=steps,
        end_effector=_t(np.where(steps.numpy(), effector[:, None], 0)),
        crops=_views(rows, "obs_crops", 0, np.uint8, 2) if crops else None,
        bbox=_views(rows, "obs_bbox", 0, np.int16, 2) if crops else None,
        object_mask=_views(rows, "obs_mask", False, bool, 2),
        frames=_views(rows, "obs_frames", 0, np.uint8, 1) if frames else None,
    )


def collate(rows: Sequence[Mapping[str, Any]], *, crops: bool = True, frames: bool = True) -> Batch:
    """Collate `row_arrays` dicts into a `Batch` (every ragged axis padded, with masks).

    Raises ValueError when an action bin is outside its axis's range (the reference's
    out-of-range class `n` cannot reach the loss here).
    """
    if not rows:
        raise ValueError("collate needs at least one row")
    _require(rows, ["actions", "action_bins"])
    bins = [np.asarray(row["action_bins"], np.int64) for row in rows]
    limits = np.asarray(AXIS_BINS, np.int64)
    for i, b in enumerate(bins):
        if b.ndim != 2 or b.shape[1] != NUM_AXES or (b.size and (b >= limits).any()):
            raise ValueError(f"row {i}: action_bins must be (T, 14) within {list(AXIS_BINS)}")
    batch = Batch(
        prompt=collate_prompts(rows, crops=crops, frames=frames),
        observations=collate_observations(rows, crops=crops, frames=frames),
        actions=_pad([np.asarray(r["actions"], np.float32) for r in rows], 0, np.float32, 1),
        action_bins=_pad(bins, IGNORE_INDEX, np.int64, 1),
        step_mask=_pad([np.ones(len(b), bool) for b in bins], False, bool, 1),
        task=torch.tensor([int(r.get("task", -1)) for r in rows], dtype=torch.int64),
        index=torch.tensor([int(r.get("index", -1)) for r in rows], dtype=torch.int64),
        variant=torch.tensor([int(r.get("variant", 0)) for r in rows], dtype=torch.int64),
    )
    return pack_shared(batch) if get_worker_info() is not None else batch


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))
