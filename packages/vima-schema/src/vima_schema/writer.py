"""Writing episodes back to the raw VIMA folder layout."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from vima_schema.atomic import replace_directory, temporary_sibling
from vima_schema.enums import PlaceholderType
from vima_schema.generation_config import join_modalities
from vima_schema.layout import (
    ACTION_FILE,
    FRAME_DIRS,
    OBJ_INFO_KEY,
    OBS_FILE,
    TRAJECTORY_FILE,
    episode_folder_name,
    frame_name,
)
from vima_schema.models import Episode, FunctionRef, ObjectInfo, PromptAsset
from vima_schema.safe_pickle import dump_pickle
from vima_schema.standins import EncyclopediaFunction, PartialCall, ProfilePedia, SizeRange


def episode_pickles(episode: Episode) -> dict[str, bytes]:
    """The three pickle files of an episode, as bytes."""
    traj = {
        "end_effector_type": episode.end_effector_type.value,
        "n_objects": episode.n_objects,
        "difficulty": episode.difficulty.value,
        "views": [view.value for view in episode.views],
        "modalities": join_modalities(episode.modalities, episode.generation_config),
        "seed": episode.seed,
        "action_bounds": {"low": episode.action_bounds.low, "high": episode.action_bounds.high},
        "robot_components": list(episode.robot_components),
        "obj_id_to_info": {k: _object_dict(v) for k, v in episode.objects.items()},
        "prompt": episode.prompt,
        "prompt_assets": {k: _asset_dict(v) for k, v in episode.prompt_assets.items()},
        "steps": episode.steps,
        "success": episode.success,
        "failure": episode.failure,
    }
    obs = {"segm": {v.value: a for v, a in episode.segm.items()}, "ee": episode.ee}
    actions = episode.actions
    action = {
        "pose0_position": actions.pose0_position,
        "pose0_rotation": actions.pose0_rotation,
        "pose1_position": actions.pose1_position,
        "pose1_rotation": actions.pose1_rotation,
    }
    namespace = episode.pickle_namespace
    return {
        OBS_FILE: dump_pickle(obs, namespace),
        ACTION_FILE: dump_pickle(action, namespace),
        TRAJECTORY_FILE: dump_pickle(traj, namespace),
    }


def write_episode(
    episode: Episode, root: Path | str, *, overwrite: bool = False, durable: bool = False
) -> Path:
    """Write `episode` as `root/<task>/<NNNNNN>/` in the raw layout; return that folder.

    The folder appears atomically (built under a temporary name, then renamed). An existing
    folder raises `FileExistsError` unless `overwrite`. `durable` fsyncs its ~25 files before
    the rename; without it a crash can leave short files, which `read_episode` reports.
    """
    target = Path(root) / episode.task.name / episode_folder_name(episode.index)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: episode folder already exists")
    staging = temporary_sibling(target)
    try:
        for name, data in episode_pickles(episode).items():
            (staging / name).write_bytes(data)
        for view, frames in episode.frames.items():
            folder = staging / FRAME_DIRS[view]
            folder.mkdir()
            for i, data in enumerate(frames):
                (folder / frame_name(i)).write_bytes(data)
        replace_directory(staging, target, durable=durable)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _function(ref: FunctionRef | None) -> Any:
    if ref is None:
        return None
    function = EncyclopediaFunction(ref.name)
    if not ref.partial:
        return function
    call = PartialCall(function, *ref.args, **ref.keywords)
    return call


def _object_dict(info: ObjectInfo) -> dict[str, Any]:
    raw = {name: getattr(info, name) for name in ObjectInfo.model_fields}
    size = info.obj_size_range
    raw["obj_size_range"] = None if size is None else SizeRange(size.low, size.high)
    raw["obj_replace_fn"] = _function(info.obj_replace_fn)
    raw["obj_pose_transform_fn"] = _function(info.obj_pose_transform_fn)
    if info.obj_profile is not None:
        raw["obj_profile"] = ProfilePedia(info.obj_profile)
    return raw


def _asset_dict(asset: PromptAsset) -> dict[str, Any]:
    infos = [item.model_dump() for item in asset.obj_info]
    segm: dict[str, Any] = {view.value: array for view, array in asset.segm.items()}
    segm[OBJ_INFO_KEY] = infos[0] if asset.placeholder_type is PlaceholderType.object else infos
    return {
        "rgb": {view.value: array for view, array in asset.rgb.items()},
        "segm": segm,
        "placeholder_type": asset.placeholder_type.value,
    }
