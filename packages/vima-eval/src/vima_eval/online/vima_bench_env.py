"""`VimaBenchEnv`: the real VIMA-Bench behind vima-sim's `VimaEnv` interface.

VIMA-Bench needs gym 0.26 and numpy < 2, so it runs in a child process started with its own
interpreter (`--env-python`), executing `vima_bench_server.py` (protocol documented there).
Answers are turned into what `VimaEnv` returns (observation dicts, `info` with `prompt`,
`prompt_assets` as vima_schema `PromptAsset`, `meta` with `ObjectInfo`), so the recorder,
tokenization and agents are the same for both simulators.

The child can never hang the caller. Every request has a deadline (`Timeouts`); the child's
stdout is read without blocking past it; a child that exits, stalls past the deadline or
answers something that is not a well-formed answer is killed and a `VimaBenchError` names what
happened, with the last lines the child wrote to stderr (kept in a ring buffer).
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from vima_schema.enums import PlaceholderType, View
from vima_schema.models import ActionBounds, AssetObject, ObjectInfo, PromptAsset
from vima_sim import SceneSamplingError

from vima_eval.online import vima_bench_server
from vima_eval.online.vima_bench_server import VIEWS, ProtocolError, decode_frame, write_frame

SERVER = Path(vima_bench_server.__file__)
POSITION_BOUNDS = ActionBounds(
    low=np.array([0.25, -0.5], dtype=np.float32), high=np.array([0.75, 0.5], dtype=np.float32)
)
#: Environment variable overriding the per-request time unit (seconds).
TIMEOUT_VARIABLE = "VIMA_EVAL_ENV_TIMEOUT"
#: Lines of the child's stderr kept for error messages.
STDERR_LINES = 20
#: Observation arrays every reset and step answer must carry, with their shapes.
OBS_SHAPES = {
    **{f"obs/rgb/{view}": (3, 128, 256) for view in VIEWS},
    **{f"obs/segm/{view}": (128, 256) for view in VIEWS},
}


class VimaBenchError(RuntimeError):
    """The VIMA-Bench worker failed a request, died, stalled or answered garbage."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds a request may take before the worker is declared stalled and killed.

    Derived from the step budget of VIMA-Bench itself: one primitive (a step) runs at most a
    few arm motions, each of which VIMA-Bench abandons after 5 s of wall clock, then settles
    for at most 1000 physics ticks; measured steps take 0.6-1.4 s and resets 0.3-2.7 s on 2
    cores. A step or reset gets `unit` seconds (default 60, 12 motions' worth), the first reset
    also covers the interpreter start and `import vima_bench` (torch, pybullet: seconds) and
    gets `3 * unit`; an oracle query or close gets `unit / 2`. `VIMA_EVAL_ENV_TIMEOUT` sets
    `unit` (a heavily loaded machine may need more).
    """

    unit: float = 60.0

    @classmethod
    def from_environment(cls) -> Timeouts:
        """`unit` from `VIMA_EVAL_ENV_TIMEOUT` (ValueError if not a positive number)."""
        text = os.environ.get(TIMEOUT_VARIABLE)
        if not text:
            return cls()
        try:
            unit = float(text)
        except ValueError:
            unit = 0.0
        if not unit > 0:
            raise ValueError(f"{TIMEOUT_VARIABLE}={text!r}: expected a positive number of seconds")
        return cls(unit)

    def of(self, op: str, first: bool) -> float:
        """The deadline of one request."""
        if op == "reset":
            return self.unit * (3 if first else 1)
        if op == "step":
            return self.unit
        return self.unit / 2


def _object_info(fields: dict[str, Any]) -> ObjectInfo:
    names = ObjectInfo.model_fields
    plain = {key: fields.get(key) for key in names}
    for key in ("obj_size_range", "obj_replace_fn", "obj_pose_transform_fn"):
        plain[key] = None
    plain["obj_name"] = str(fields["obj_name"])
    plain["obj_assets"] = str(fields.get("obj_assets") or "")
    plain["texture_name"] = str(fields["texture_name"])
    return ObjectInfo.model_validate(plain)


class _StderrTail:
    """Keeps the last lines a stream produces (a daemon thread drains it)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: deque[str] = deque(maxlen=STDERR_LINES)
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                self.lines.append(line.decode(errors="replace").rstrip())

    def text(self, wait: float = 0.5) -> str:
        """The kept lines, indented, or a note that there were none (after up to `wait` s for
        the last lines to arrive)."""
        self.thread.join(wait)
        if not self.lines:
            return "  (nothing on stderr)"
        return "\n".join(f"  | {line}" for line in self.lines)


def _deadline_reader(fd: int, deadline: float) -> Callable[[int], bytes]:
    """`read_exact(n)` on a pipe that raises TimeoutError at `deadline` (monotonic)."""

    def read_exact(size: int) -> bytes:
        parts: list[bytes] = []
        left = size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("the worker closed its stdout")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    return read_exact


class VimaBenchEnv:
    """One VIMA-Bench task at a partition and difficulty, in a child process."""

    def __init__(
        self,
        python: str,
        task: str,
        partition: str,
        difficulty: str,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.task, self.partition, self.difficulty = task, partition, difficulty
        self.timeouts = timeouts or Timeouts.from_environment()
        self.proc = subprocess.Popen(
            [python, str(SERVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        self.stderr = _StderrTail(self.proc.stderr)
        self.answered = 0
        self.max_steps = 0
        self._ee = 0
        self._prompt = ""
        self._oracle_action: dict[str, np.ndarray] | None = None

    def _fail(self, problem: str) -> VimaBenchError:
        """Kill the child; the error names `problem`, the exit status and the stderr tail."""
        self.kill()
        return VimaBenchError(
            f"VIMA-Bench worker {problem} (exit code {self.proc.returncode}); "
            f"its last stderr lines:\n{self.stderr.text()}"
        )

    def _call(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        op = request["op"]
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.proc.poll() is not None:
            raise self._fail(f"is gone before {op}")
        seconds = self.timeouts.of(op, first=self.answered == 0)
        try:
            write_frame(self.proc.stdin, request, {})  # type: ignore[arg-type]
            reader = _deadline_reader(self.proc.stdout.fileno(), time.monotonic() + seconds)
            header, arrays = decode_frame(reader)
        except TimeoutError:
            raise self._fail(f"gave no answer to {op} within {seconds:g} s") from None
        except (EOFError, BrokenPipeError, OSError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2)
            raise self._fail(f"died during {op}") from None
        except ProtocolError as error:
            raise self._fail(f"answered {op} with garbage: {error}") from None
        self.answered += 1
        if header.get("ok") is not True:
            if header.get("ok") is False and "error" in header:
                if header.get("sampling"):
                    raise SceneSamplingError(str(header["error"]))
                raise VimaBenchError(  # its traceback, printed before answering, is on its way
                    f"VIMA-Bench {op}: {header['error']}; its last stderr lines:\n"
                    f"{self.stderr.text(wait=0.2)}"
                )
            raise self._fail(f"answered {op} without 'ok': {str(header)[:80]}")
        return header, arrays

    def _obs(self, op: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        for name, shape in OBS_SHAPES.items():
            array = arrays.get(name)
            if array is None or array.shape != shape or array.dtype != np.uint8:
                got = "nothing" if array is None else f"{array.dtype} {array.shape}"
                raise self._fail(f"answered {op} with garbage: {name} is {got}, not uint8 {shape}")
        return {
            "rgb": {view: arrays[f"obs/rgb/{view}"] for view in VIEWS},
            "segm": {view: arrays[f"obs/segm/{view}"] for view in VIEWS},
            "ee": self._ee,
        }

    def reset(self, *, seed: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new scene for `seed`: (observation, info) as `VimaEnv.reset` returns them."""
        header, arrays = self._call(
            {"op": "reset", "task": self.task, "partition": self.partition,
             "difficulty": self.difficulty, "seed": seed}
        )  # fmt: skip
        try:
            meta = dict(header["meta"])
            meta["obj_id_to_info"] = {
                int(obj_id): _object_info(fields)
                for obj_id, fields in meta["obj_id_to_info"].items()
            }
            assets = {
                name: PromptAsset(
                    placeholder_type=PlaceholderType(asset["placeholder_type"]),
                    rgb={View(v): arrays[f"asset/{name}/rgb/{v}"] for v in VIEWS},
                    segm={View(v): arrays[f"asset/{name}/segm/{v}"] for v in VIEWS},
                    obj_info=[AssetObject(**item) for item in asset["obj_info"]],
                )
                for name, asset in header["assets"].items()
            }
            self._ee = 0 if meta["end_effector_type"] == "suction" else 1
            self.max_steps = int(meta["oracle_max_steps"]) + 2
            prompt = str(header["prompt"])
        except (KeyError, TypeError, ValueError) as error:
            problem = f"answered reset with garbage: {type(error).__name__}: {error}"
            raise self._fail(problem) from None
        meta.update(
            task=self.task,
            partition=self.partition,
            views=list(VIEWS),
            modalities=["rgb", "segm"],
            action_bounds=POSITION_BOUNDS,
            robot_components=[2, 3, 4] if self._ee == 0 else [2, 3],
        )
        obs = self._obs("reset", arrays)
        self._prompt = prompt
        info = {
            "prompt": prompt,
            "success": bool(header.get("success")),
            "failure": bool(header.get("failure")),
            "prompt_assets": assets,
            "meta": meta,
            "max_steps": self.max_steps,
        }
        return obs, info

    def step(
        self, action: dict[str, np.ndarray]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """One primitive in VIMA-Bench (as the oracle steps when `action` is the oracle's)."""
        plain = {key: np.asarray(value, np.float64).tolist() for key, value in action.items()}
        oracle = action is self._oracle_action  # VIMA-Bench's oracle steps with skip_oracle=False
        header, arrays = self._call({"op": "step", "action": plain, "oracle": oracle})
        obs = self._obs("step", arrays)
        info = {
            "prompt": self._prompt,
            "success": bool(header.get("success")),
            "failure": bool(header.get("failure")),
            "timeout": bool(header.get("truncated")),  # no TimeLimit wrapper: an arm timeout
        }
        return obs, 0.0, bool(header.get("done")), info["timeout"], info

    def oracle_action(self) -> dict[str, np.ndarray] | None:
        """VIMA-Bench's scripted oracle's next action."""
        header, _ = self._call({"op": "oracle"})
        action = header.get("action")
        if action is None:
            return None
        try:
            self._oracle_action = {k: np.asarray(v, np.float32) for k, v in action.items()}
        except (AttributeError, TypeError, ValueError):
            raise self._fail(f"answered oracle with garbage: {str(action)[:80]}") from None
        return self._oracle_action

    def kill(self) -> None:
        """Stop the child at once (and reap it)."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def close(self) -> None:
        """Ask the child to exit; kill it if it does not within the close deadline."""
        if self.proc.poll() is None:
            with contextlib.suppress(VimaBenchError, SceneSamplingError):
                self._call({"op": "close"})
            try:
                self.proc.wait(self.timeouts.of("close", first=False))
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
