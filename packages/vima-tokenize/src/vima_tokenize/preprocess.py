"""One parsed episode row -> one preprocessed (tokenized) row."""

from __future__ import annotations

from typing import Any

import numpy as np
from tokenizers import Tokenizer
from vima_schema.enums import EndEffector
from vima_schema.jpeg import decode_jpeg
from vima_schema.layout import ACTION_KEYS, placeholders
from vima_schema.record import asset_rgb, asset_segm, pose_array, segm_frames

from vima_tokenize.actions import discretize, pad_positions
from vima_tokenize.crops import (
    CROP_SIZE,
    RESIZED_HEIGHT,
    RESIZED_WIDTH,
    object_crops,
    resize_frame,
)
from vima_tokenize.preprocessed import VIEW_NAMES, encode_arrays
from vima_tokenize.text import encode_prompt


def _stack_crops(
    images: list[tuple[np.ndarray, np.ndarray]],
    ids: list[list[int]],
    slots: int,
    resampling: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    crops = np.zeros((len(images), slots, 3, CROP_SIZE, CROP_SIZE), np.uint8)
    boxes = np.zeros((len(images), slots, 4), np.int16)
    mask = np.zeros((len(images), slots), bool)
    for i, ((rgb, segm), wanted) in enumerate(zip(images, ids, strict=True)):
        if not wanted:
            continue
        found = object_crops(rgb, segm, wanted, resampling=resampling)
        crops[i, : len(wanted)] = found.crops
        boxes[i, : len(wanted)] = found.bboxes
        mask[i, : len(wanted)] = found.mask
    return crops, boxes, mask


def _prompt_view(
    view: str,
    assets: dict[str, dict[str, Any]],
    order: list[str],
    image_ids: list[list[int]],
    slots: int,
    resampling: str,
) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The `prompt_*_{view}` arrays (crops, boxes, mask and resized frame of each prompt image)
    and the images the crops were cut from."""
    images = [
        (asset_rgb(assets[n][f"rgb_{view}"]), asset_segm(assets[n][f"segm_{view}"])) for n in order
    ]
    crops, boxes, mask = _stack_crops(images, image_ids, slots, resampling)
    frames = [resize_frame(rgb) for rgb, _ in images]
    arrays = {
        f"prompt_crops_{view}": crops,
        f"prompt_bbox_{view}": boxes,
        f"prompt_mask_{view}": mask,
        f"prompt_frames_{view}": np.stack(frames)
        if frames
        else np.zeros((0, 3, RESIZED_HEIGHT, RESIZED_WIDTH), np.uint8),
    }
    return arrays, [rgb for rgb, _ in images]


def _observation_view(
    row: dict[str, Any],
    view: str,
    object_ids: list[int],
    frames: int,
    stored: int,
    resampling: str,
) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The `obs_*_{view}` arrays of the first `frames` of the `stored` observations and the
    frames the crops were cut from."""
    rgbs = [decode_jpeg(data) for data in row[f"frames_{view}"][:frames]]
    segms = segm_frames(row[f"segm_{view}"], stored)[:frames]
    crops, boxes, mask = _stack_crops(
        list(zip(rgbs, segms, strict=True)),
        [object_ids] * frames,
        len(object_ids),
        resampling,
    )
    arrays = {
        f"obs_crops_{view}": crops,
        f"obs_bbox_{view}": boxes,
        f"obs_mask_{view}": mask,
        f"obs_frames_{view}": np.stack([resize_frame(rgb) for rgb in rgbs]),
    }
    return arrays, rgbs


def _action_arrays(row: dict[str, Any]) -> tuple[bool, dict[str, np.ndarray]]:
    """`position_is_2d`, the continuous `actions` and their `action_bins` (2-D positions
    padded)."""
    poses = {key: pose_array(row[key], key) for key in ACTION_KEYS}
    is_2d = False
    for key in ("pose0_position", "pose1_position"):
        poses[key], is_2d = pad_positions(poses[key])
    bins = discretize(poses)
    return is_2d, {
        "actions": np.concatenate([poses[k] for k in ACTION_KEYS], axis=1),
        "action_bins": np.concatenate([bins[k] for k in ACTION_KEYS], axis=1).astype(np.uint8),
    }


def object_selection(
    row: dict[str, Any], assets: dict[str, dict[str, Any]], order: list[str], resampling: str
) -> tuple[list[list[int]], list[int]]:
    """The object ids each prompt image crops and the observations' object ids, in slot order.

    VIMA's (every resampling but `cogelot`): an image's `obj_info` ids, the episode's objects
    in `obj_id_to_info` order. CoGeLoT's (`cogelot`, its InstancePreprocessor): every image
    crops the union over the episode's assets of their segmentation ids less {0, 1}, so an
    object placeholder (object 0, background 255) crops its background; the objects come in
    Python's iteration order of the id set ({5, 6, 7, 8} gives 8, 5, 6, 7). The sets are built
    as CoGeLoT builds them, so the order is the one CoGeLoT's data and evaluation have.
    """
    objects = [o["obj_id"] for o in row["objects"]]
    if resampling != "cogelot":
        return [[o["obj_id"] for o in assets[name]["obj_info"]] for name in order], objects
    per_asset = [
        set(np.unique([asset_segm(a["segm_front"]), asset_segm(a["segm_top"])]).tolist()) - {0, 1}
        for a in assets.values()
    ]
    union = list(set.union(*per_asset)) if per_asset else []
    return [list(union) for _ in order], list({int(i) for i in objects})


def _image_arrays(
    row: dict[str, Any],
    assets: dict[str, dict[str, Any]],
    order: list[str],
    prompt_ids: tuple[list[list[int]], int],
    object_ids: list[int],
    frames: int,
    resampling: str,
) -> tuple[dict[str, np.ndarray], dict[str, list[np.ndarray]]]:
    """The prompt and observation arrays of both views, and the images each crops array was
    cut from (`encode_arrays`' sources)."""
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, list[np.ndarray]] = {}
    for view in VIEW_NAMES:
        prompt, prompt_images = _prompt_view(view, assets, order, *prompt_ids, resampling)
        stored = len(row["frames_front"])
        observed, observed_frames = _observation_view(
            row, view, object_ids, frames, stored, resampling
        )
        arrays.update(prompt, **observed)
        sources[f"prompt_crops_{view}"] = prompt_images
        sources[f"obs_crops_{view}"] = observed_frames
    return arrays, sources


def preprocess_row(
    row: dict[str, Any],
    tokenizer: Tokenizer,
    *,
    keep_final_observation: bool = False,
    crop_resampling: str = "area",
) -> dict[str, Any]:
    """Tokenize one parsed row (see `vima_tokenize.preprocessed` for the output columns).

    Prompt images follow the placeholder order of the prompt (a placeholder used twice gives
    two images); their object ids come from the asset's `obj_info` (the object itself for object
    placeholders, scene ids from 2). Observations have one slot per episode object in
    `obj_id_to_info` order; like the reference, the final observation (after the last action)
    is dropped, so there are T observations for T actions, unless `keep_final_observation`.
    Object crops are resized by `crop_resampling` (`vima_tokenize.crops.CROP_RESAMPLINGS`);
    `cogelot` also selects and orders objects as CoGeLoT does (`object_selection`).
    """
    encoded = encode_prompt(tokenizer, row["prompt"])
    order = placeholders(row["prompt"])
    if encoded.placeholders != order:
        raise ValueError(
            f"tokenizer split placeholders {encoded.placeholders} but the prompt has {order}"
        )
    assets = {asset["name"]: asset for asset in row["prompt_assets"]}
    missing = [name for name in order if name not in assets]
    if missing:
        raise ValueError(f"prompt placeholder(s) without asset: {missing}")
    image_ids, object_ids = object_selection(row, assets, order, crop_resampling)
    slots = max((len(ids) for ids in image_ids), default=0)
    out: dict[str, Any] = {
        "task": row["task"],
        "index": row["index"],
        "prompt": row["prompt"],
        "token_types": encoded.token_types.tolist(),
        "word_ids": encoded.word_ids.astype(np.int32).tolist(),
        "num_images": len(order),
        "prompt_objects": slots,
        "prompt_object_ids": [i for ids in image_ids for i in ids + [-1] * (slots - len(ids))],
    }
    stored = len(row["frames_front"])
    steps = int(row["steps"])
    frames = stored if keep_final_observation else steps
    arrays, sources = _image_arrays(
        row, assets, order, (image_ids, slots), object_ids, frames, crop_resampling
    )
    is_2d, actions = _action_arrays(row)
    arrays.update(actions)
    out.update(
        num_observations=frames,
        num_objects=len(object_ids),
        object_ids=object_ids,
        end_effector=EndEffector(row["end_effector_type"]).token,
        steps=steps,
        position_is_2d=is_2d,
        actions=actions["actions"].tobytes(),
        arrays=encode_arrays(arrays, sources),
    )
    return out
