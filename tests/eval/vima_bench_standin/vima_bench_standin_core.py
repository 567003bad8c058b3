"""What the two `vima_bench` stand-ins share: a VIMA-Bench-shaped env backed by vima-sim.

`Env` follows VIMA-Bench's API (a task object built by `set_task` from task kwargs, seeded by
`env.seed`, difficulty settable once per task object, `prompt`, `prompt_assets`, `meta_info`,
`task.oracle(env).act(obs)`); `Layout` holds the points where upstream VIMA-Bench and CoGeLoT's
vendored copy differ. Each task object draws its scenes with vima-sim's `VimaEnv` for the seed
it was given last, so a stand-in episode equals the builtin episode of the same seed.

Failure injection, by environment variable (value: an episode seed): `..._CRASH_SEED` exits the
process on reset (after a line on stderr), `..._STALL_SEED` sleeps forever on the first step,
`..._GARBAGE_SEED` answers reset with a wrong-shaped observation, `..._RAISE_SEED` raises in
reset as a VIMA-Bench scene sampler can. `VIMA_BENCH_STANDIN_LOG`
names a file that gets one JSON line per API call (make, set_task, set_difficulty, seed, reset,
step),
with the process id, so tests can check how the worker drives VIMA-Bench.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from vima_sim.env import VimaEnv
from vima_sim.tasks import available

PARTITIONS = (
    "placement_generalization",
    "combinatorial_generalization",
    "novel_object_generalization",
    "novel_task_generalization",
)


def partition_to_specs() -> dict[str, Any]:
    """{"train": ..., "test": {partition: {task: kwargs}}} as VIMA-Bench's YAML files give."""
    tasks = available()
    return {
        "train": {},
        "test": {
            part: {task: {"partition": part} for task, info in tasks.items()
                   if part in info["partitions"]}
            for part in PARTITIONS
        },
    }  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """How a VIMA-Bench version differs."""

    name: str
    difficulties: tuple[str, ...]
    set_task_sets_easy: bool  # upstream: set_task calls task.set_difficulty("easy")
    reset_returns_obs: bool  # upstream: reset() returns the first observation
    five_tuple: bool  # CoGeLoT: step returns (obs, reward, done, truncated, info)


def log(event: str, **fields: Any) -> None:
    """Append one call to the log file named by VIMA_BENCH_STANDIN_LOG (if any)."""
    path = os.environ.get("VIMA_BENCH_STANDIN_LOG")
    if path:
        with open(path, "a") as stream:
            stream.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")


def _injected(kind: str, seed: int | None) -> bool:
    return str(seed) == os.environ.get(f"VIMA_BENCH_STANDIN_{kind}_SEED")


class Oracle:
    """`task.oracle(env)`: the vima-sim oracle of the current scene."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def act(self, obs: dict[str, Any]) -> dict[str, Any] | None:
        """The next oracle action (None when it has none)."""
        assert obs is not None
        assert self.env.sim is not None
        return self.env.sim.oracle_action()


class Task:
    """A task object: kwargs, a seed, a difficulty that may be set once."""

    def __init__(self, layout: Layout, name: str, kwargs: dict[str, Any]) -> None:
        self.layout = layout
        self.name = name
        self.partition = kwargs.get("partition", PARTITIONS[0])
        self.seed: int | None = kwargs.get("seed")
        self.difficulty_level: str | None = None
        self.oracle_max_steps = 0
        self.task_meta: dict[str, Any] = {}
        self.sim: VimaEnv | None = None

    def set_difficulty(self, difficulty: str) -> None:
        """Once per task object, as VIMA-Bench asserts."""
        log("set_difficulty", task=self.name, difficulty=difficulty, task_id=id(self))
        assert difficulty in self.layout.difficulties
        assert self.difficulty_level is None, (
            "You may try to call `set_difficulty` multiple times, but this is prohibitive"
        )
        self.difficulty_level = difficulty

    def set_seed(self, seed: int | None) -> None:
        """A new generator for the next scenes."""
        self.seed = seed

    def oracle(self, env: Env) -> Oracle:
        """The scripted oracle of this task in `env`."""
        return Oracle(env)


class Env:
    """VIMA-Bench's `VIMAEnvBase`, as far as vima-eval's worker uses it."""

    def __init__(self, layout: Layout, task: str, kwargs: dict[str, Any], seed: int | None) -> None:
        log("make", task=task, kwargs=kwargs, seed=seed)
        self.layout = layout
        self._seed = seed
        self.task: Task
        self.set_task(task, kwargs)
        self._first: tuple[Any, ...] | None = None
        self.prompt = ""
        self.prompt_assets: dict[str, Any] = {}
        self.meta_info: dict[str, Any] = {}

    @property
    def sim(self) -> VimaEnv | None:
        """The vima-sim env behind the current task object."""
        return self.task.sim

    def seed(self, seed: int | None = None) -> int | None:
        """Env seed, which re-seeds the task."""
        log("seed", seed=seed, task_id=id(self.task))
        self._seed = seed
        self.task.set_seed(seed)
        return seed

    def set_task(self, task: str, kwargs: dict[str, Any] | None) -> None:
        """A new task object (upstream: with difficulty easy; CoGeLoT: with the env seed)."""
        kwargs = dict(kwargs or {})
        if not self.layout.set_task_sets_easy and kwargs:
            kwargs["seed"] = self._seed
        self.task = Task(self.layout, task, kwargs)
        log("set_task", task=task, task_id=id(self.task))
        if self.layout.set_task_sets_easy:
            self.task.set_difficulty("easy")

    @property
    def action_space(self) -> Any:
        """The action space (vima-sim's, which has VIMA-Bench's bounds)."""
        assert self.sim is not None
        return self.sim.action_space

    def reset(self) -> dict[str, Any] | None:
        """A new scene from the task's seed."""
        task = self.task
        log("reset", seed=task.seed, task_id=id(task))
        if task.difficulty_level is None:
            raise RuntimeError("set_difficulty was not called")
        if _injected("CRASH", task.seed):
            print(f"stand-in: crashing on seed {task.seed}", file=sys.stderr, flush=True)
            os._exit(3)
        if _injected("RAISE", task.seed):  # as CoGeLoT's same_shape when no base fits
            raise AttributeError("'NoneType' object has no attribute 'profile'")
        if task.sim is None:
            task.sim = VimaEnv(task.name, task.partition, task.difficulty_level)
        obs, info = task.sim.reset(seed=task.seed)
        if _injected("GARBAGE", task.seed):
            obs = {**obs, "rgb": {view: image[:, :7] for view, image in obs["rgb"].items()}}
        task.oracle_max_steps = info["meta"]["oracle_max_steps"]
        if not self.layout.reset_returns_obs:
            task.task_meta = {"minimum_steps": info["meta"]["minimum_steps"]}
        self.prompt = info["prompt"]
        self.prompt_assets = {
            name: {
                "rgb": {v.value: image for v, image in asset.rgb.items()},
                "segm": {
                    **{v.value: image for v, image in asset.segm.items()},
                    "obj_info": [o.model_dump() for o in asset.obj_info]
                    if asset.placeholder_type.value == "scene"
                    else asset.obj_info[0].model_dump(),
                },
                "placeholder_type": asset.placeholder_type.value,
            }
            for name, asset in info["prompt_assets"].items()
        }
        self.meta_info = {
            "end_effector_type": info["meta"]["end_effector_type"],
            "n_objects": info["meta"]["n_objects"],
            "obj_id_to_info": {
                obj_id: obj.model_dump(mode="python")
                for obj_id, obj in info["meta"]["obj_id_to_info"].items()
            },
        }
        step_info = {"prompt": self.prompt, "success": info["success"], "failure": info["failure"]}
        self._first = (obs, 0.0, False, False, step_info)
        if self.layout.reset_returns_obs:
            return obs
        return None

    def step(self, action: dict[str, Any] | None, skip_oracle: bool = True) -> tuple[Any, ...]:
        """One primitive; `step(None)` returns the first observation."""
        assert self.sim is not None, "reset() first"
        log("step", none=action is None, skip_oracle=skip_oracle)
        if action is None:
            assert self._first is not None
            result = self._first
        else:
            if _injected("STALL", self.task.seed):
                time.sleep(10**6)
            for key, value in action.items():
                assert np.asarray(value).dtype == np.float32, key
            obs, reward, done, truncated, info = self.sim.step(action)
            keep = {k: info[k] for k in ("prompt", "success", "failure")}
            result = (obs, reward, done, truncated, keep)
        if self.layout.five_tuple:
            return result
        obs, reward, done, _, info = result
        return obs, reward, done, info

    def close(self) -> None:
        """Release the simulator."""
        if self.sim is not None:
            self.sim.close()
            self.task.sim = None


def make(
    layout: Layout,
    task_name: str,
    task_kwargs: dict[str, Any] | None = None,
    modalities: list[str] | None = None,
    seed: int | None = None,
) -> Env:
    """`vima_bench.make` (the keyword arguments vima-eval passes are accepted and ignored)."""
    if modalities is not None and "depth" in modalities:
        raise AssertionError("depth is not supported")
    return Env(layout, task_name, task_kwargs or {}, seed)
