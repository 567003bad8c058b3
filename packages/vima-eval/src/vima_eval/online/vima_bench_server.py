"""A VIMA-Bench worker speaking vima-eval's online protocol on stdin/stdout (standalone).

Run by `VimaBenchEnv` with VIMA-Bench's own interpreter (`--env-python`; VIMA-Bench needs gym
0.26 and numpy < 2), so this file imports only the standard library, numpy and `vima_bench`.

Protocol. Every message, both ways, is one frame: a 4-byte big-endian length N, N bytes of UTF-8
JSON (the header), then the raw bytes of the arrays the header lists under `"arrays"` as
`[name, dtype, shape]` in order (C order, little-endian). Requests (`"op"`):

- `reset` {task, partition, difficulty, seed}: a new task object (`env.seed(seed)`,
  `env.set_task(task, PARTITION_TO_SPECS["test"][partition][task])`, `task.set_difficulty`,
  `env.seed(seed)` again for tasks without kwargs), `reset()`, first observation from
  `reset()` (upstream) or `step(None)` (CoGeLoT's vendored copy). Answer: `prompt`, `success`,
  `failure`, `meta` (end_effector_type, n_objects, difficulty, seed, oracle_max_steps,
  minimum_steps, obj_id_to_info with the plain-data fields), `assets` (per placeholder:
  placeholder_type and obj_info) and the arrays `obs/rgb/<view>` (3x128x256 uint8),
  `obs/segm/<view>` (128x256 uint8) and `asset/<name>/rgb|segm/<view>`.
- `step` {action: {pose0_position: [x, y], pose0_rotation: [x, y, z, w], pose1_...}}: answer
  `success`, `failure`, `done`, `truncated` and the observation arrays.
- `oracle`: answer `action` (the scripted oracle's next action clipped to the action space, as
  VIMA-Bench's examples do) or null.
- `close`: answer `{}` and exit.

Every answer has `ok`; a failed request answers `ok: false`, `error` (type and message) and
`sampling: true` when the scene could not be sampled (the client then tries the next seed).
"""

from __future__ import annotations

import json
import struct
import sys
import traceback
from typing import Any, BinaryIO

import numpy as np

VIEWS = ("front", "top")
_HEADER = struct.Struct(">I")


def write_frame(stream: BinaryIO, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write one frame: header JSON (with the array list) then the array bytes."""
    listed = []
    payload = []
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        listed.append([name, dtype.str, list(array.shape)])
        payload.append(array.astype(dtype, copy=False).tobytes())
    data = json.dumps({**header, "arrays": listed}).encode()
    stream.write(_HEADER.pack(len(data)) + data + b"".join(payload))
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the other side closed the stream")
        data += chunk
    return data


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame: the header dict and its arrays by name."""
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    header = json.loads(_read_exact(stream, size))
    arrays = {}
    for name, dtype, shape in header.pop("arrays", []):
        kind = np.dtype(dtype)
        count = int(np.prod(shape)) if shape else 1
        raw = _read_exact(stream, kind.itemsize * count)
        arrays[name] = np.frombuffer(raw, dtype=kind).reshape(shape).copy()
    return header, arrays


def _plain(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float | np.generic) for v in value
    ):
        return [_plain(v) for v in value]
    return None


class Server:
    """Holds one VIMA-Bench env and answers requests."""

    def __init__(self) -> None:
        self.env: Any = None
        self.obs: Any = None
        self.oracle_fn: Any = None

    def _observation(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        arrays = {}
        for view in VIEWS:
            arrays[f"obs/rgb/{view}"] = np.asarray(obs["rgb"][view], dtype=np.uint8)
            arrays[f"obs/segm/{view}"] = np.asarray(obs["segm"][view], dtype=np.uint8)
        return arrays

    def reset(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        import vima_bench

        task, partition = request["task"], request["partition"]
        seed = int(request["seed"])
        kwargs = vima_bench.PARTITION_TO_SPECS["test"][partition][task]
        if self.env is None:
            self.env = vima_bench.make(
                task, task_kwargs=kwargs, modalities=["segm", "rgb"], seed=seed,
                hide_arm_rgb=True, display_debug_window=False, render_prompt=False,
            )  # fmt: skip
        env = self.env
        env.seed(seed)
        env.set_task(task, kwargs)
        env.task.set_difficulty(request["difficulty"])
        env.seed(seed)
        obs = env.reset()
        info: dict[str, Any] = {"success": False, "failure": False}
        if obs is None:  # CoGeLoT's vendored copy: the first observation comes from step(None)
            obs, _, _, _, info = env.step(None)
        self.obs, self.oracle_fn = obs, None
        meta = env.meta_info
        objects = {
            str(obj_id): {key: _plain(value) for key, value in fields.items()}
            for obj_id, fields in meta["obj_id_to_info"].items()
        }
        arrays = self._observation(obs)
        assets = {}
        for name, asset in env.prompt_assets.items():
            info_items = asset["segm"]["obj_info"]
            items = info_items if isinstance(info_items, list) else [info_items]
            assets[name] = {
                "placeholder_type": asset["placeholder_type"],
                "obj_info": [{k: _plain(v) for k, v in item.items()} for item in items],
            }
            for view in VIEWS:
                arrays[f"asset/{name}/rgb/{view}"] = np.asarray(asset["rgb"][view], np.uint8)
                arrays[f"asset/{name}/segm/{view}"] = np.asarray(asset["segm"][view], np.uint8)
        header = {
            "prompt": env.prompt,
            "success": bool(info.get("success", False)),
            "failure": bool(info.get("failure", False)),
            "assets": assets,
            "meta": {
                "end_effector_type": meta["end_effector_type"],
                "n_objects": int(meta["n_objects"]),
                "difficulty": request["difficulty"],
                "seed": seed,
                "oracle_max_steps": int(env.task.oracle_max_steps),
                "minimum_steps": int(env.task.task_meta["minimum_steps"]),
                "obj_id_to_info": objects,
            },
        }
        return header, arrays

    def step(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        action = {k: np.asarray(v, dtype=np.float32) for k, v in request["action"].items()}
        obs, _, done, truncated, info = self.env.step(action)
        self.obs = obs
        header = {"success": bool(info["success"]), "failure": bool(info["failure"]),
                  "done": bool(done), "truncated": bool(truncated)}  # fmt: skip
        return header, self._observation(obs)

    def oracle(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        env = self.env
        if self.oracle_fn is None:
            self.oracle_fn = env.task.oracle(env)
        action = self.oracle_fn.act(self.obs)
        if action is None:
            return {"action": None}, {}
        space = env.action_space
        clipped = {
            key: np.clip(np.asarray(value, np.float64), space[key].low, space[key].high).tolist()
            for key, value in action.items()
        }
        return {"action": clipped}, {}


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer requests until `close` or the end of input."""
    server = Server()
    while True:
        try:
            request, _ = read_frame(stdin)
        except EOFError:
            return
        op = request.get("op")
        try:
            if op == "reset":
                header, arrays = server.reset(request)
            elif op == "step":
                header, arrays = server.step(request)
            elif op == "oracle":
                header, arrays = server.oracle()
            elif op == "close":
                write_frame(stdout, {"ok": True}, {})
                return
            else:
                raise ValueError(f"unknown op {op!r}")
            write_frame(stdout, {"ok": True, **header}, arrays)
        except Exception as error:
            sampling = "sampl" in str(error).lower()
            traceback.print_exc(file=sys.stderr)
            write_frame(stdout, {"ok": False, "error": f"{type(error).__name__}: {error}",
                                 "sampling": sampling}, {})  # fmt: skip


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
