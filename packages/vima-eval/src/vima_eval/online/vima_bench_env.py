"""`VimaBenchEnv`: the real VIMA-Bench behind vima-sim's `VimaEnv` interface.

VIMA-Bench needs gym 0.26 and numpy < 2, so it runs in a child process started with its own
interpreter (`--env-python`), executing `vima_bench_server.py` (protocol documented there).
Answers are turned into what `VimaEnv` returns (observation dicts, `info` with `prompt`,
`prompt_assets` as vima_schema `PromptAsset`, `meta` with `ObjectInfo`), so the recorder,
tokenization and agents are the same for both simulators.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from vima_schema.enums import PlaceholderType, View
from vima_schema.models import ActionBounds, AssetObject, ObjectInfo, PromptAsset
from vima_sim.tasks import SceneSamplingError

from vima_eval.online import vima_bench_server
from vima_eval.online.vima_bench_server import VIEWS, read_frame, write_frame

SERVER = Path(vima_bench_server.__file__)
POSITION_BOUNDS = ActionBounds(
    low=np.array([0.25, -0.5], dtype=np.float32), high=np.array([0.75, 0.5], dtype=np.float32)
)


class VimaBenchError(RuntimeError):
    """The VIMA-Bench worker failed a request or died."""


def _object_info(fields: dict[str, Any]) -> ObjectInfo:
    names = ObjectInfo.model_fields
    plain = {key: fields.get(key) for key in names}
    for key in ("obj_size_range", "obj_replace_fn", "obj_pose_transform_fn"):
        plain[key] = None
    plain["obj_name"] = str(fields["obj_name"])
    plain["obj_assets"] = str(fields.get("obj_assets") or "")
    plain["texture_name"] = str(fields["texture_name"])
    return ObjectInfo.model_validate(plain)


class VimaBenchEnv:
    """One VIMA-Bench task at a partition and difficulty, in a child process."""

    def __init__(self, python: str, task: str, partition: str, difficulty: str) -> None:
        self.task, self.partition, self.difficulty = task, partition, difficulty
        self.proc = subprocess.Popen(
            [python, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.max_steps = 0

    def _call(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            write_frame(self.proc.stdin, request, {})  # type: ignore[arg-type]
            header, arrays = read_frame(self.proc.stdout)  # type: ignore[arg-type]
        except (EOFError, BrokenPipeError, OSError) as error:
            code = self.proc.poll()
            raise VimaBenchError(f"VIMA-Bench worker died (exit code {code}): {error}") from None
        if not header.get("ok"):
            if header.get("sampling"):
                raise SceneSamplingError(header["error"])
            raise VimaBenchError(f"VIMA-Bench {request['op']}: {header.get('error')}")
        return header, arrays

    @staticmethod
    def _obs(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        return {
            "rgb": {view: arrays[f"obs/rgb/{view}"] for view in VIEWS},
            "segm": {view: arrays[f"obs/segm/{view}"] for view in VIEWS},
        }

    def reset(self, *, seed: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new scene for `seed`: (observation, info) as `VimaEnv.reset` returns them."""
        header, arrays = self._call(
            {"op": "reset", "task": self.task, "partition": self.partition,
             "difficulty": self.difficulty, "seed": seed}
        )  # fmt: skip
        meta = dict(header["meta"])
        meta["obj_id_to_info"] = {
            int(obj_id): _object_info(fields) for obj_id, fields in meta["obj_id_to_info"].items()
        }
        meta.update(
            task=self.task,
            partition=self.partition,
            views=list(VIEWS),
            modalities=["rgb", "segm"],
            action_bounds=POSITION_BOUNDS,
            robot_components=[2, 3, 4] if meta["end_effector_type"] == "suction" else [2, 3],
        )
        assets = {
            name: PromptAsset(
                placeholder_type=PlaceholderType(asset["placeholder_type"]),
                rgb={View(v): arrays[f"asset/{name}/rgb/{v}"] for v in VIEWS},
                segm={View(v): arrays[f"asset/{name}/segm/{v}"] for v in VIEWS},
                obj_info=[AssetObject(**item) for item in asset["obj_info"]],
            )
            for name, asset in header["assets"].items()
        }
        self.max_steps = int(meta["oracle_max_steps"]) + 2
        obs = self._obs(arrays)
        obs["ee"] = 0 if meta["end_effector_type"] == "suction" else 1
        self._ee = obs["ee"]
        info = {
            "prompt": header["prompt"],
            "success": header["success"],
            "failure": header["failure"],
            "prompt_assets": assets,
            "meta": meta,
            "max_steps": self.max_steps,
        }
        self._prompt = header["prompt"]
        return obs, info

    def step(
        self, action: dict[str, np.ndarray]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """One primitive in VIMA-Bench."""
        plain = {key: np.asarray(value, np.float64).tolist() for key, value in action.items()}
        header, arrays = self._call({"op": "step", "action": plain})
        obs = self._obs(arrays)
        obs["ee"] = self._ee
        info = {
            "prompt": self._prompt,
            "success": header["success"],
            "failure": header["failure"],
            "timeout": header["truncated"],  # no TimeLimit wrapper: only an arm timeout
        }
        return obs, 0.0, header["done"], header["truncated"], info

    def oracle_action(self) -> dict[str, np.ndarray] | None:
        """VIMA-Bench's scripted oracle's next action."""
        header, _ = self._call({"op": "oracle"})
        if header["action"] is None:
            return None
        return {key: np.asarray(value, np.float32) for key, value in header["action"].items()}

    def close(self) -> None:
        """Stop the worker."""
        if self.proc.poll() is None:
            with contextlib.suppress(VimaBenchError, SceneSamplingError):
                self._call({"op": "close"})
            self.proc.wait(10)
