"""Reading and validating raw VIMA episode folders (both format variants)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from vima_schema.enums import VIEWS, EndEffector, PickleNamespace, PlaceholderType, Task, View
from vima_schema.generation_config import split_modalities
from vima_schema.jpeg import jpeg_decode_problem, jpeg_problem
from vima_schema.layout import (
    ACTION_FILE,
    ACTION_KEYS,
    ASSET_KEYS,
    FRAME_DIRS,
    OBJ_INFO_KEY,
    OBS_FILE,
    OBS_KEYS,
    PICKLE_FILES,
    TRAJECTORY_FILE,
    TRAJECTORY_KEYS,
    frame_name,
    placeholders,
)
from vima_schema.models import FRAME_HEIGHT, FRAME_WIDTH, Episode, ObjectInfo
from vima_schema.safe_pickle import PickleLoadError, load_pickle
from vima_schema.standins import EncyclopediaFunction, PartialCall, ProfilePedia, SizeRange

_OBJECT_KEYS = tuple(ObjectInfo.model_fields)
_FIELD_FILES = {"frames": "rgb_<view>", "segm": OBS_FILE, "ee": OBS_FILE, "actions": ACTION_FILE}


class EpisodeError(ValueError):
    """An episode folder breaks the format; `problems` lists every problem found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__(f"{self.path}: " + "; ".join(problems))


def read_episode(
    path: Path | str, *, deep: bool = False, task: Task | None = None, index: int | None = None
) -> Episode:
    """Read and validate one raw episode folder `<task>/<NNNNNN>/`.

    Task and index come from the folder names unless given. JPEG frames are kept as stored
    bytes and only their headers are checked, unless `deep` decodes every frame.
    Raises `EpisodeError` listing every problem, each in words naming the file concerned.
    """
    path = Path(path)
    if not path.is_dir():
        raise EpisodeError(path, ["not an episode folder (does not exist or is not a directory)"])
    problems: list[str] = []
    if task is None:
        try:
            task = Task.from_name(path.parent.name)
        except ValueError:
            problems.append(f"parent folder {path.parent.name!r} is not a VIMA task name")
    if index is None:
        if path.name.isdigit():
            index = int(path.name)
        else:
            problems.append(f"folder name {path.name!r} is not an episode index (digits)")
    entries = {entry.name: entry.is_dir() for entry in os.scandir(path)}
    for name in PICKLE_FILES:
        if name not in entries:
            problems.append(f"missing file {name}")
    for folder in FRAME_DIRS.values():
        if not entries.get(folder, False):
            problems.append(f"missing folder {folder}/")
    expected = set(PICKLE_FILES) | set(FRAME_DIRS.values())
    extra = [f"unexpected entry {name!r}" for name in sorted(set(entries) - expected)]
    loaded: dict[str, Any] = {}
    namespaces: set[PickleNamespace] = set()
    for name in PICKLE_FILES:
        if name in entries:
            try:
                loaded[name], found = load_pickle(path / name)
                namespaces |= found
            except PickleLoadError as error:
                problems.append(str(error).replace(f"{path / name}: ", f"{name}: "))
    if problems:
        raise EpisodeError(path, problems + extra)
    assert task is not None and index is not None
    raw = _RawEpisode(path, loaded[OBS_FILE], loaded[ACTION_FILE], loaded[TRAJECTORY_FILE])
    episode = raw.to_episode(task, index, namespaces, deep)
    if raw.problems or extra:
        raise EpisodeError(path, extra + raw.problems)
    assert episode is not None
    return episode


class _RawEpisode:
    """Checks the loaded pickles and frames and assembles the `Episode`."""

    def __init__(self, path: Path, obs: Any, action: Any, trajectory: Any) -> None:
        self.path = path
        self.obs = obs
        self.action = action
        self.trajectory = trajectory
        self.problems: list[str] = []

    def _keys(self, value: Any, expected: tuple[str, ...], where: str) -> bool:
        if not isinstance(value, dict):
            self.problems.append(f"{where} is a {type(value).__name__}, expected a dict")
            return False
        missing = [k for k in expected if k not in value]
        extra = [k for k in value if k not in expected]
        if missing:
            self.problems.append(f"{where} lacks key(s) {', '.join(map(repr, missing))}")
        if extra:
            self.problems.append(f"{where} has unexpected key(s) {', '.join(map(repr, extra))}")
        return not missing

    def to_episode(
        self, task: Task, index: int, namespaces: set[PickleNamespace], deep: bool
    ) -> Episode | None:
        ok = self._keys(self.obs, OBS_KEYS, OBS_FILE)
        ok &= self._keys(self.action, ACTION_KEYS, ACTION_FILE)
        ok &= self._keys(self.trajectory, TRAJECTORY_KEYS, TRAJECTORY_FILE)
        if ok:
            ok = self._keys(self.obs["segm"], tuple(v.value for v in VIEWS), f"{OBS_FILE} 'segm'")
        if not ok:
            return None
        traj = self.trajectory
        steps = traj["steps"]
        if not isinstance(steps, int) or steps < 1:
            self.problems.append(f"{TRAJECTORY_FILE}: 'steps' is {steps!r}, expected an int >= 1")
            return None
        self._check_lengths(steps)
        frames = {view: self._read_frames(view, steps + 1, deep) for view in VIEWS}
        self._check_prompt(traj["prompt"], traj["prompt_assets"])
        self._check_consistency(traj)
        if len(namespaces) > 1:
            self.problems.append(f"{TRAJECTORY_FILE} mixes 'vimasim' and 'vima_bench' classes")
        if self.problems:
            return None
        try:
            modalities, config = split_modalities(traj["modalities"])
            return Episode(
                task=task,
                index=index,
                pickle_namespace=next(iter(namespaces), PickleNamespace.vimasim),
                end_effector_type=traj["end_effector_type"],
                n_objects=traj["n_objects"],
                difficulty=traj["difficulty"],
                views=traj["views"],
                modalities=modalities,
                generation_config=config,
                seed=traj["seed"],
                action_bounds=traj["action_bounds"],
                robot_components=traj["robot_components"],
                objects={k: _object_info(v) for k, v in traj["obj_id_to_info"].items()},
                prompt=traj["prompt"],
                prompt_assets={k: _prompt_asset(v) for k, v in traj["prompt_assets"].items()},
                steps=steps,
                success=traj["success"],
                failure=traj["failure"],
                frames=frames,
                segm=self.obs["segm"],
                ee=self.obs["ee"],
                actions=self.action,
            )
        except ValidationError as error:
            self.problems += [_describe(e) for e in error.errors()]
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            self.problems.append(f"{TRAJECTORY_FILE}: {error}")
        return None

    def _check_lengths(self, steps: int) -> None:
        for key in ACTION_KEYS:
            value = self.action[key]
            length = value.shape[0] if isinstance(value, np.ndarray) and value.ndim else None
            if length != steps:
                self.problems.append(
                    f"{ACTION_FILE} '{key}' has {length} actions but 'steps' is {steps}"
                )
        for view in VIEWS:
            value = self.obs["segm"][view.value]
            length = value.shape[0] if isinstance(value, np.ndarray) and value.ndim else None
            if length != steps + 1:
                self.problems.append(
                    f"{OBS_FILE} segm '{view.value}' has {length} frames, expected steps+1 = "
                    f"{steps + 1}"
                )
        ee = self.obs["ee"]
        length = ee.shape[0] if isinstance(ee, np.ndarray) and ee.ndim else None
        if length != steps + 1:
            self.problems.append(f"{OBS_FILE} 'ee' has {length} entries, expected {steps + 1}")

    def _read_frames(self, view: View, count: int, deep: bool) -> list[bytes]:
        folder = self.path / FRAME_DIRS[view]
        names = set(os.listdir(folder))
        wanted = [frame_name(i) for i in range(count)]
        missing = [n for n in wanted if n not in names]
        extra = sorted(names - set(wanted))
        where = FRAME_DIRS[view]
        if missing:
            self.problems.append(
                f"{where}/ lacks frame(s) {', '.join(missing)} (steps+1 = {count} frames expected)"
            )
        if extra:
            self.problems.append(f"{where}/ has unexpected file(s) {', '.join(extra)}")
        frames: list[bytes] = []
        for name in wanted:
            if name in names:
                data = (folder / name).read_bytes()
                check = jpeg_decode_problem if deep else jpeg_problem
                problem = check(data, FRAME_WIDTH, FRAME_HEIGHT)
                if problem:
                    self.problems.append(f"{where}/{name} {problem}")
                frames.append(data)
        return frames

    def _check_prompt(self, prompt: Any, assets: Any) -> None:
        if not isinstance(prompt, str) or not isinstance(assets, dict):
            self.problems.append(f"{TRAJECTORY_FILE}: 'prompt' must be str, 'prompt_assets' dict")
            return
        used = set(placeholders(prompt))
        for name in sorted(used - set(assets)):
            self.problems.append(f"prompt placeholder {{{name}}} has no prompt asset")
        for name in sorted(set(assets) - used):
            self.problems.append(f"prompt asset {name!r} is not used by any placeholder")
        for name, asset in assets.items():
            self._keys(asset, ASSET_KEYS, f"prompt asset {name!r}")

    def _check_consistency(self, traj: dict[str, Any]) -> None:
        objects = traj["obj_id_to_info"]
        if isinstance(objects, dict) and traj["n_objects"] != len(objects):
            self.problems.append(
                f"'n_objects' is {traj['n_objects']} but obj_id_to_info has {len(objects)} objects"
            )
        ee, effector = self.obs["ee"], traj["end_effector_type"]
        if isinstance(ee, np.ndarray) and effector in EndEffector.__members__ and ee.size:
            token = EndEffector(effector).token
            if not np.all(ee == token):
                self.problems.append(
                    f"{OBS_FILE} 'ee' is not constantly {token} for end effector {effector!r}"
                )
        bounds = traj["action_bounds"]
        position = self.action["pose0_position"]
        if isinstance(bounds, dict) and isinstance(position, np.ndarray) and position.ndim == 2:
            width = position.shape[1]
            for side, value in bounds.items():
                if isinstance(value, np.ndarray) and value.shape != (width,):
                    self.problems.append(
                        f"action_bounds '{side}' has shape {value.shape} but positions are "
                        f"{width}-D"
                    )


def _function_ref(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, EncyclopediaFunction):
        return {"name": value.name}
    if isinstance(value, PartialCall) and isinstance(value.func, EncyclopediaFunction):
        if value.extra:
            raise ValueError("functools.partial with instance attributes is not supported")
        return {
            "name": value.func.name,
            "partial": True,
            "args": value.args,
            "keywords": value.keywords,
        }
    raise ValueError(f"unsupported function value {value!r} in obj_id_to_info")


def _object_info(info: Any) -> Any:
    if not isinstance(info, dict):
        return info
    converted = dict(info)
    size = info.get("obj_size_range")
    if isinstance(size, SizeRange):
        converted["obj_size_range"] = {"low": size.low, "high": size.high}
    for key in ("obj_replace_fn", "obj_pose_transform_fn"):
        if key in info:
            converted[key] = _function_ref(info[key])
    if isinstance(info.get("obj_profile"), ProfilePedia):
        converted["obj_profile"] = int(info["obj_profile"])
    return converted


def _prompt_asset(asset: dict[str, Any]) -> Any:
    segm = dict(asset["segm"])
    info = segm.pop(OBJ_INFO_KEY, None)
    kind = asset["placeholder_type"]
    if kind == PlaceholderType.object.value and not isinstance(info, dict):
        raise ValueError("an 'object' prompt asset must have one obj_info dict")
    if kind == PlaceholderType.scene.value and not isinstance(info, list):
        raise ValueError("a 'scene' prompt asset must have a list of obj_info dicts")
    return {
        "placeholder_type": kind,
        "rgb": asset["rgb"],
        "segm": segm,
        "obj_info": [info] if isinstance(info, dict) else info,
    }


def _describe(error: Any) -> str:
    loc = list(error["loc"])
    field = str(loc[0]) if loc else ""
    if field == "objects":
        loc[0] = "obj_id_to_info"
    where = _FIELD_FILES.get(field, TRAJECTORY_FILE)
    path = ".".join(str(p) for p in loc)
    return f"{where}: {path}: {error['msg']}"
