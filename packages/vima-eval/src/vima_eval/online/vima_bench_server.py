"""A VIMA-Bench worker speaking vima-eval's online protocol on stdin/stdout (standalone).

Run by `VimaBenchEnv` with VIMA-Bench's own interpreter (`--env-python`; VIMA-Bench needs gym
0.26 and numpy < 2), so this file imports only the standard library, numpy and `vima_bench`.
Before anything else it moves the protocol to a private copy of stdout and points file
descriptor 1 at stderr, so what VIMA-Bench and pybullet print (`[INFO] 17 tasks loaded`,
`pybullet build time`, movej warnings) can never corrupt the stream.

Protocol. Every message, both ways, is one frame: a 4-byte big-endian length N (at most
`MAX_HEADER`), N bytes of UTF-8 JSON (the header, an object), then the raw bytes of the arrays
the header lists under `"arrays"` as `[name, dtype, shape]` in order (C order, little-endian,
at most `MAX_ARRAY` bytes each). Requests (`"op"`):

- `reset` {task, partition, difficulty, seed}: the first reset makes the env and one task
  object for (task, partition) with the partition's test kwargs and sets its difficulty once;
  every reset seeds it anew (`env.seed(seed)`, which re-seeds the task's generator) and resets.
  The first observation comes from `reset()` (upstream) or `step(None)` (CoGeLoT's copy).
  Answer: `prompt`, `success`, `failure`, `meta` (end_effector_type, n_objects, difficulty,
  seed, oracle_max_steps, minimum_steps, obj_id_to_info with the plain-data fields), `assets`
  (per placeholder: placeholder_type and obj_info), `layout`, and the arrays `obs/rgb/<view>`
  (3x128x256 uint8), `obs/segm/<view>` (128x256 uint8) and `asset/<name>/rgb|segm/<view>`.
- `step` {action: {pose0_position: [x, y], pose0_rotation: [x, y, z, w], pose1_...}, oracle}:
  answer `success`, `failure`, `done`, `truncated` and the observation arrays. `oracle: true`
  (the action is the one the oracle just gave) steps with `skip_oracle=False`, as VIMA-Bench's
  own oracle scripts do, so oracle-only goals (rearrange: first move a distractor that sits on
  a target) are checked and dropped when met; a policy's actions step with the default
  (`skip_oracle=True`), as in VIMA-Bench's evaluation.
- `oracle`: answer `action` (the scripted oracle's next action clipped to the action space, as
  VIMA-Bench's examples do) or null.
- `close`: answer `{}` and exit.

Every answer has `ok`; a failed request answers `ok: false`, `error` (type and message) and
`sampling: true` when `reset()` raised (VIMA-Bench's scene samplers fail with assorted errors,
e.g. CoGeLoT's same_shape with `'NoneType' object has no attribute 'profile'` when no scaled base
fits; its `ResetFaultTolerance` wrapper retries with another seed, and the client then tries
vima-sim's next seed). The reset answer's `failure` is always false: VIMA-Bench's evaluations
never read a failure before the first action, and CoGeLoT's `step(None)` runs follow_order's
"this step achieved nothing" check, which flags one.

The two VIMA-Bench layouts in use (detected, not assumed):
- upstream (vimalabs/VIMABench): `vima_bench.PARTITION_TO_SPECS`; `set_task` sets difficulty
  "easy" itself (so only "easy" can be run: the difficulty may be set once per task object);
  `reset()` returns the first observation; `step` returns (obs, reward, done, info).
- CoGeLoT's vendored copy: `vima_bench.tasks.get_partition_to_specs()`; the caller sets the
  difficulty; `reset()` returns None; `step` returns (obs, reward, done, truncated, info).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

VIEWS = ("front", "top")
_LENGTH = struct.Struct(">I")
#: Largest header and largest array a frame may carry (anything longer is garbage).
MAX_HEADER = 16 * 2**20
MAX_ARRAY = 64 * 2**20


class ProtocolError(ValueError):
    """The stream holds something that is not a frame of this protocol."""


class ResetFailed(RuntimeError):
    """VIMA-Bench's reset raised: the scene of this seed cannot be made (try another seed)."""


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
    stream.write(_LENGTH.pack(len(data)) + data + b"".join(payload))
    stream.flush()


def stream_reader(stream: BinaryIO) -> Callable[[int], bytes]:
    """`read_exact(n)` over a blocking stream (EOFError at its end)."""

    def read_exact(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = stream.read(size - len(data))
            if not chunk:
                raise EOFError("the other side closed the stream")
            data += chunk
        return data

    return read_exact


def decode_frame(
    read_exact: Callable[[int], bytes],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame with `read_exact(n)`: the header dict and its arrays by name.
    ProtocolError when the bytes are not a frame (the start is quoted)."""
    raw_length = read_exact(_LENGTH.size)
    (size,) = _LENGTH.unpack(raw_length)
    if size > MAX_HEADER:
        raise ProtocolError(f"not a frame: the stream starts with {raw_length!r}")
    raw = read_exact(size)
    try:
        header = json.loads(raw)
    except ValueError:
        raise ProtocolError(f"not a frame: header {raw[:60]!r} is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"not a frame: header {raw[:60]!r} is not a JSON object")
    arrays = {}
    for entry in header.pop("arrays", []):
        try:
            name, dtype, shape = entry
            kind = np.dtype(dtype)
            count = int(np.prod(shape)) if shape else 1
        except (TypeError, ValueError):
            raise ProtocolError(f"not a frame: bad array entry {entry!r}") from None
        if kind.hasobject or count < 0 or kind.itemsize * count > MAX_ARRAY:
            raise ProtocolError(f"not a frame: bad array entry {entry!r}")
        data = read_exact(kind.itemsize * count)
        arrays[name] = np.frombuffer(data, dtype=kind).reshape(shape).copy()
    return header, arrays


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame from a blocking stream."""
    return decode_frame(stream_reader(stream))


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


def _minimum_steps(task: Any) -> int | None:
    """`task_meta["minimum_steps"]` (CoGeLoT's copy); None where the task has none (upstream)."""
    value = task.task_meta.get("minimum_steps") if isinstance(task.task_meta, dict) else None
    return None if value is None else int(value)


def partition_specs(vima_bench: Any) -> tuple[str, dict[str, Any]]:
    """The layout name and the partition specs of the installed VIMA-Bench."""
    if hasattr(vima_bench, "PARTITION_TO_SPECS"):
        return "upstream", vima_bench.PARTITION_TO_SPECS
    from vima_bench.tasks import get_partition_to_specs

    return "cogelot", get_partition_to_specs()


class Server:
    """Holds one VIMA-Bench env with one task object and answers requests."""

    def __init__(self) -> None:
        self.env: Any = None
        self.key: tuple[str, str, str] | None = None
        self.layout = ""
        self.obs: Any = None
        self.oracle_fn: Any = None

    def _observation(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        arrays = {}
        for view in VIEWS:
            arrays[f"obs/rgb/{view}"] = np.asarray(obs["rgb"][view], dtype=np.uint8)
            arrays[f"obs/segm/{view}"] = np.asarray(obs["segm"][view], dtype=np.uint8)
        return arrays

    def _make(self, task: str, partition: str, difficulty: str, seed: int) -> None:
        """The env and its task object, difficulty set once (as VIMA-Bench's evaluation does)."""
        import vima_bench

        self.layout, specs = partition_specs(vima_bench)
        tasks = specs["test"].get(partition)
        if tasks is None or task not in tasks:
            raise ValueError(f"this VIMA-Bench has no task {task!r} in partition {partition!r}")
        env = vima_bench.make(
            task, task_kwargs=tasks[task], modalities=["segm", "rgb"], seed=seed,
            hide_arm_rgb=True, display_debug_window=False, render_prompt=False,
        )  # fmt: skip
        current = getattr(env.task, "difficulty_level", None)
        if current is None:
            env.task.set_difficulty(difficulty)
        elif current != difficulty:
            env.close()
            raise ValueError(
                f"this VIMA-Bench ({self.layout}) sets difficulty {current!r} when it makes the "
                f"task and allows one difficulty per task object, so {difficulty!r} cannot be run"
            )
        self.env, self.key = env, (task, partition, difficulty)

    def reset(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        task, partition, difficulty = request["task"], request["partition"], request["difficulty"]
        seed = int(request["seed"])
        if self.env is None:
            self._make(task, partition, difficulty, seed)
        elif self.key != (task, partition, difficulty):
            raise ValueError(f"this worker serves {self.key}, not {(task, partition, difficulty)}")
        env = self.env
        env.seed(seed)
        try:
            obs = env.reset()
        except Exception as error:  # VIMA-Bench's own wrapper retries any reset with a new seed
            raise ResetFailed(f"{type(error).__name__}: {error}") from error
        info: dict[str, Any] = {"success": False}
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
            "failure": False,  # step(None) runs follow_order's "no progress" check: not a failure
            "layout": self.layout,
            "assets": assets,
            "meta": {
                "end_effector_type": meta["end_effector_type"],
                "n_objects": int(meta["n_objects"]),
                "difficulty": difficulty,
                "seed": seed,
                "oracle_max_steps": int(env.task.oracle_max_steps),
                "minimum_steps": _minimum_steps(env.task),
                "obj_id_to_info": objects,
            },
        }
        return header, arrays

    def step(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.obs is None:
            raise ValueError("step before reset")
        action = {k: np.asarray(v, dtype=np.float32) for k, v in request["action"].items()}
        result = self.env.step(action, skip_oracle=not request.get("oracle", False))
        if len(result) == 5:
            obs, _, done, truncated, info = result
        else:  # upstream: (obs, reward, done, info); done without success or failure = timeout
            obs, _, done, info = result
            truncated = bool(done) and not (info["success"] or info["failure"])
        self.obs = obs
        header = {"success": bool(info["success"]), "failure": bool(info["failure"]),
                  "done": bool(done), "truncated": bool(truncated)}  # fmt: skip
        return header, self._observation(obs)

    def oracle(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.obs is None:
            raise ValueError("oracle before reset")
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

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer requests until `close` or the end of input."""
    server = Server()
    try:
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
                sampling = isinstance(error, ResetFailed) or "sampl" in str(error).lower()
                traceback.print_exc(file=sys.stderr)
                write_frame(stdout, {"ok": False, "error": f"{type(error).__name__}: {error}",
                                     "sampling": sampling}, {})  # fmt: skip
    finally:
        server.close()


def main() -> None:
    """Serve on a private copy of stdout; fd 1 and `sys.stdout` go to stderr from here on."""
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, protocol)


if __name__ == "__main__":
    main()
