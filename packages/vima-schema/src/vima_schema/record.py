"""The parsed-dataset record: one row per episode, lossless and compact.

JPEG frames are kept as the stored bytes, segmentation and prompt-asset images as raw uint8
bytes (parquet's zstd compresses them), every metadata field is kept. `docs/FORMAT.md`
documents each column.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from vima_schema.enums import VIEWS, PlaceholderType, Task, View
from vima_schema.hf_features import task_features, task_schema
from vima_schema.layout import ACTION_KEYS

if TYPE_CHECKING:
    import datasets

from vima_schema.models import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    ActionBounds,
    Actions,
    AssetObject,
    Episode,
    GenerationConfig,
    ObjectInfo,
    PromptAsset,
)

#: Object fields stored as typed columns; the other encyclopedia fields go to `details` (JSON).
OBJECT_COLUMNS = ("obj_name", "obj_assets", "texture_name")
OBJECT_DETAILS = tuple(f for f in ObjectInfo.model_fields if f not in OBJECT_COLUMNS)


def _struct(**fields: pa.DataType) -> pa.DataType:
    return pa.struct([pa.field(name, kind) for name, kind in fields.items()])


_floats = pa.list_(pa.float32())

_FIELDS: dict[str, pa.DataType] = {
    "task": pa.int64(),
    "index": pa.int64(),
    "pickle_namespace": pa.string(),
    "end_effector_type": pa.string(),
    "n_objects": pa.int64(),
    "difficulty": pa.string(),
    "views": pa.list_(pa.string()),
    "modalities": pa.list_(pa.string()),
    "generation_config": pa.string(),
    "seed": pa.int64(),
    "action_bounds_low": _floats,
    "action_bounds_high": _floats,
    "robot_components": pa.list_(pa.int64()),
    "objects": pa.list_(
        _struct(
            obj_id=pa.int64(),
            obj_name=pa.string(),
            obj_assets=pa.string(),
            texture_name=pa.string(),
            details=pa.string(),
        )
    ),
    "prompt": pa.string(),
    "prompt_assets": pa.list_(
        _struct(
            name=pa.string(),
            placeholder_type=pa.string(),
            view_order=pa.list_(pa.string()),
            rgb_front=pa.binary(),
            rgb_top=pa.binary(),
            segm_front=pa.binary(),
            segm_top=pa.binary(),
            obj_info=pa.list_(
                _struct(obj_id=pa.int64(), obj_name=pa.string(), obj_color=pa.string())
            ),
        )
    ),
    "steps": pa.int64(),
    "success": pa.bool_(),
    "failure": pa.bool_(),
    "frames_front": pa.list_(pa.binary()),
    "frames_top": pa.list_(pa.binary()),
    "segm_front": pa.binary(),
    "segm_top": pa.binary(),
    "ee": pa.list_(pa.int64()),
    **{key: pa.list_(_floats) for key in ACTION_KEYS},
}
#: The record schema in pyarrow (no Hugging Face metadata; see `features()` for that).
SCHEMA: pa.Schema = pa.schema(_FIELDS)


@functools.cache
def features() -> datasets.Features:
    """The record schema as `datasets.Features` (`task` is a ClassLabel of the 17 tasks)."""
    return task_features(SCHEMA)


@functools.cache
def hf_schema() -> pa.Schema:
    """`SCHEMA` with the Hugging Face features embedded, for parquet shards."""
    return task_schema(SCHEMA)


def record_layout() -> dict[str, dict[str, Any]]:
    """How the byte and nested array columns decode (for `meta/info.json`): dtype and shape,
    with `steps` = T actions and `steps+1` frames; `[]` marks a list per asset."""
    image = [3, FRAME_HEIGHT, FRAME_WIDTH]
    layout: dict[str, dict[str, Any]] = {}
    for view in VIEWS:
        name = view.value
        layout[f"frames_{name}"] = {"encoding": "jpeg", "shape": ["steps+1", *image]}
        layout[f"segm_{name}"] = {
            "dtype": "uint8",
            "shape": ["steps+1", FRAME_HEIGHT, FRAME_WIDTH],
        }
        layout[f"prompt_assets[].rgb_{name}"] = {"dtype": "uint8", "shape": image}
        layout[f"prompt_assets[].segm_{name}"] = {
            "dtype": "uint8",
            "shape": [FRAME_HEIGHT, FRAME_WIDTH],
        }
    for key in ACTION_KEYS:
        components = [3, 2] if key.endswith("position") else [4]
        layout[key] = {"dtype": "float32", "shape": ["steps", components]}
    return layout


def episode_to_record(episode: Episode) -> dict[str, Any]:
    """One dataset row for an episode (plain python values and bytes)."""
    return {
        "task": int(episode.task),
        "index": episode.index,
        "pickle_namespace": episode.pickle_namespace.value,
        "end_effector_type": episode.end_effector_type.value,
        "n_objects": episode.n_objects,
        "difficulty": episode.difficulty.value,
        "views": [view.value for view in episode.views],
        "modalities": list(episode.modalities),
        "generation_config": (
            None
            if episode.generation_config is None
            else json.dumps(episode.generation_config.model_dump(mode="python"))
        ),
        "seed": episode.seed,
        "action_bounds_low": episode.action_bounds.low.tolist(),
        "action_bounds_high": episode.action_bounds.high.tolist(),
        "robot_components": list(episode.robot_components),
        "objects": [_object_record(obj_id, info) for obj_id, info in episode.objects.items()],
        "prompt": episode.prompt,
        "prompt_assets": [_asset_record(name, a) for name, a in episode.prompt_assets.items()],
        "steps": episode.steps,
        "success": episode.success,
        "failure": episode.failure,
        "frames_front": episode.frames[View.front],
        "frames_top": episode.frames[View.top],
        "segm_front": episode.segm[View.front].tobytes(),
        "segm_top": episode.segm[View.top].tobytes(),
        "ee": episode.ee.tolist(),
        **{key: getattr(episode.actions, key).tolist() for key in ACTION_KEYS},
    }


def record_to_episode(row: dict[str, Any]) -> Episode:
    """Rebuild the `Episode` of a dataset row (inverse of `episode_to_record`)."""
    frames = len(row["frames_front"])
    config = row["generation_config"]
    return Episode(
        task=Task(row["task"]) if isinstance(row["task"], int) else Task.from_name(row["task"]),
        index=row["index"],
        pickle_namespace=row["pickle_namespace"],
        end_effector_type=row["end_effector_type"],
        n_objects=row["n_objects"],
        difficulty=row["difficulty"],
        views=row["views"],
        modalities=row["modalities"],
        generation_config=None if config is None else _generation_config(config),
        seed=row["seed"],
        action_bounds=ActionBounds(
            low=np.asarray(row["action_bounds_low"], dtype=np.float32),
            high=np.asarray(row["action_bounds_high"], dtype=np.float32),
        ),
        robot_components=row["robot_components"],
        objects={o["obj_id"]: _object_info(o) for o in row["objects"]},
        prompt=row["prompt"],
        prompt_assets={a["name"]: _prompt_asset(a) for a in row["prompt_assets"]},
        steps=row["steps"],
        success=row["success"],
        failure=row["failure"],
        frames={View.front: list(row["frames_front"]), View.top: list(row["frames_top"])},
        segm={view: segm_frames(row[f"segm_{view.value}"], frames) for view in VIEWS},
        ee=np.asarray(row["ee"], dtype=np.int64),
        actions=Actions(**{key: pose_array(row[key], key) for key in ACTION_KEYS}),
    )


def segm_frames(data: bytes, frames: int) -> np.ndarray:
    """Segmentation bytes of a row as a uint8 array (frames, 128, 256)."""
    return np.frombuffer(data, dtype=np.uint8).reshape(frames, FRAME_HEIGHT, FRAME_WIDTH).copy()


def asset_rgb(data: bytes) -> np.ndarray:
    """Prompt-asset RGB bytes as a uint8 array (3, 128, 256)."""
    return np.frombuffer(data, dtype=np.uint8).reshape(3, FRAME_HEIGHT, FRAME_WIDTH).copy()


def asset_segm(data: bytes) -> np.ndarray:
    """Prompt-asset segmentation bytes as a uint8 array (128, 256)."""
    return np.frombuffer(data, dtype=np.uint8).reshape(FRAME_HEIGHT, FRAME_WIDTH).copy()


def pose_array(values: Any, key: str) -> np.ndarray:
    """A pose column of a row as float32 (T, width)."""
    width = 4 if key.endswith("rotation") else None
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2 and len(values) == 0:
        array = array.reshape(0, width or 3)
    return np.ascontiguousarray(array)


def _object_record(obj_id: int, info: ObjectInfo) -> dict[str, Any]:
    details = info.model_dump(mode="python", include=set(OBJECT_DETAILS))
    return {
        "obj_id": obj_id,
        **{key: getattr(info, key) for key in OBJECT_COLUMNS},
        "details": json.dumps({key: details[key] for key in OBJECT_DETAILS}),
    }


def _object_info(record: dict[str, Any]) -> ObjectInfo:
    details = json.loads(record["details"])
    return ObjectInfo(**{key: record[key] for key in OBJECT_COLUMNS}, **details)


def _asset_record(name: str, asset: PromptAsset) -> dict[str, Any]:
    return {
        "name": name,
        "placeholder_type": asset.placeholder_type.value,
        "view_order": [view.value for view in asset.rgb],
        "rgb_front": asset.rgb[View.front].tobytes(),
        "rgb_top": asset.rgb[View.top].tobytes(),
        "segm_front": asset.segm[View.front].tobytes(),
        "segm_top": asset.segm[View.top].tobytes(),
        "obj_info": [item.model_dump() for item in asset.obj_info],
    }


def _prompt_asset(record: dict[str, Any]) -> PromptAsset:
    order = [View(v) for v in record["view_order"]]
    return PromptAsset(
        placeholder_type=PlaceholderType(record["placeholder_type"]),
        rgb={view: asset_rgb(record[f"rgb_{view.value}"]) for view in order},
        segm={view: asset_segm(record[f"segm_{view.value}"]) for view in order},
        obj_info=[AssetObject(**item) for item in record["obj_info"]],
    )


def _generation_config(text: str) -> GenerationConfig:
    data = json.loads(text)
    for entry in data.get("resolver_cache", []):
        entry["args"] = tuple(entry["args"])
    return GenerationConfig.model_validate(data)
