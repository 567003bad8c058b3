"""Turning a rolled-out episode into a vima_schema `Episode` (the raw VIMA format)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from vima_schema.enums import Difficulty, EndEffector, PickleNamespace, Task, View
from vima_schema.layout import ACTION_KEYS
from vima_schema.models import Actions, Episode, GenerationConfig


def encode_jpeg(chw: np.ndarray) -> bytes:
    """A frame as VIMA-Bench stores it: Pillow's default JPEG (quality 75, 4:2:0)."""
    return _encode(chw, "JPEG")


def encode_png(chw: np.ndarray) -> bytes:
    """A frame without loss (the simulator's own pixels; read back like a JPEG frame)."""
    return _encode(chw, "PNG")


def _encode(chw: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)), mode="RGB").save(
        buffer, format=image_format
    )
    return buffer.getvalue()


def generation_config(meta: dict[str, Any]) -> GenerationConfig | None:
    """What made an episode, where VIMA-Data keeps its generator's config (`trajectory.pkl`'s
    `modalities` node): vima-sim and its scene options (`same_shape_bases`); None for the meta
    of another simulator (VIMA-Bench through vima-eval), which records none."""
    if "same_shape_bases" not in meta:
        return None
    values = {"simulator": "vima-sim", "modalities": list(meta["modalities"]),
              "same_shape_bases": meta["same_shape_bases"]}  # fmt: skip
    return GenerationConfig(values=values)


class EpisodeRecorder:
    """Collects observations and actions of one episode of a `VimaEnv`.

    `start(obs, info)` after `reset`, `add(action, obs, info)` after each `step`, then
    `episode(index)` returns the `Episode` (current VIMA-Bench layout: 2-D positions and
    bounds, `vima_bench` pickle namespace) that `vima_schema.writer.write_episode` writes.
    Frames are kept as VIMA-Bench stores them (JPEG), or without loss with `lossless` (what
    VIMA's own evaluation code feeds its policy; such an episode is not for writing to disk).
    """

    def __init__(self, lossless: bool = False) -> None:
        self.lossless = lossless
        self._meta: dict[str, Any] = {}
        self._info: dict[str, Any] = {}
        self._frames: dict[View, list[bytes]] = {View.front: [], View.top: []}
        self._segm: dict[View, list[np.ndarray]] = {View.front: [], View.top: []}
        self._actions: dict[str, list[np.ndarray]] = {key: [] for key in ACTION_KEYS}
        self._last: dict[str, Any] = {}

    def start(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Record the first observation and the reset info."""
        self.__init__(self.lossless)  # type: ignore[misc]
        self._info = info
        self._meta = info["meta"]
        self._last = info
        self._observe(obs)

    def add(self, action: dict[str, np.ndarray], obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Record one action and the observation after it."""
        for key in ACTION_KEYS:
            self._actions[key].append(np.asarray(action[key], dtype=np.float32))
        self._last = info
        self._observe(obs)

    def _observe(self, obs: dict[str, Any]) -> None:
        for view in (View.front, View.top):
            encode = encode_png if self.lossless else encode_jpeg
            self._frames[view].append(encode(obs["rgb"][view.value]))
            self._segm[view].append(np.asarray(obs["segm"][view.value], dtype=np.uint8))

    @property
    def steps(self) -> int:
        """Actions recorded so far."""
        return len(self._actions[ACTION_KEYS[0]])

    def episode(self, index: int) -> Episode:
        """The recorded episode as a vima_schema `Episode` with folder index `index`."""
        meta = self._meta
        steps = self.steps
        ee = EndEffector(meta["end_effector_type"])
        actions = Actions(
            **{
                key: np.stack(values).astype(np.float32)
                if values
                else np.zeros((0, 4 if key.endswith("rotation") else 2), dtype=np.float32)
                for key, values in self._actions.items()
            }
        )
        return Episode(
            task=Task.from_name(meta["task"]),
            index=index,
            pickle_namespace=PickleNamespace.vima_bench,
            end_effector_type=ee,
            n_objects=meta["n_objects"],
            difficulty=Difficulty(meta["difficulty"]),
            views=[View.front, View.top],
            modalities=list(meta["modalities"]),
            generation_config=generation_config(meta),
            seed=int(meta["seed"]) if meta["seed"] is not None else -1,
            action_bounds=meta["action_bounds"],
            robot_components=list(meta["robot_components"]),
            objects=dict(meta["obj_id_to_info"]),
            prompt=self._info["prompt"],
            prompt_assets=dict(self._info["prompt_assets"]),
            steps=steps,
            success=bool(self._last["success"]),
            failure=bool(self._last["failure"]),
            frames={view: list(frames) for view, frames in self._frames.items()},
            segm={view: np.stack(masks) for view, masks in self._segm.items()},
            ee=np.full(steps + 1, ee.token, dtype=np.int64),
            actions=actions,
        )
