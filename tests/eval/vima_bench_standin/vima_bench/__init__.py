"""A stand-in for the `vima_bench` package that follows its documented API (CoGeLoT's vendored
copy: `reset()` returns None, the first observation comes from `step(None)`, `step` returns a
5-tuple, `set_task` + `task.set_difficulty` once per task object), backed by vima-sim's
`VimaEnv`. The process exits (a crash) when resetting with the seed in the environment
variable `VIMA_BENCH_STANDIN_CRASH_SEED`. Used to test vima-eval's VIMA-Bench worker protocol
without VIMA-Bench."""

from __future__ import annotations

import os
from typing import Any

from vima_sim.env import VimaEnv
from vima_sim.tasks import available

_PARTITIONS = (
    "placement_generalization",
    "combinatorial_generalization",
    "novel_object_generalization",
    "novel_task_generalization",
)
PARTITION_TO_SPECS: dict[str, Any] = {
    "train": {},
    "test": {
        part: {task: {"partition": part} for task, info in available().items()
               if part in info["partitions"]}
        for part in _PARTITIONS
    },
}  # fmt: skip


class _Oracle:
    def __init__(self, env: Env) -> None:
        self.env = env

    def act(self, obs: dict[str, Any]) -> dict[str, Any] | None:
        assert obs is not None
        return self.env.sim.oracle_action()


class _Task:
    def __init__(self, name: str, kwargs: dict[str, Any], seed: int | None) -> None:
        self.name = name
        self.partition = kwargs.get("partition", "placement_generalization")
        self.seed = seed if kwargs else None
        self.difficulty: str | None = None
        self.oracle_max_steps = 0
        self.task_meta: dict[str, Any] = {}

    def set_difficulty(self, difficulty: str) -> None:
        if self.difficulty is not None:
            raise RuntimeError("set_difficulty must be called once per task object")
        self.difficulty = difficulty

    def set_seed(self, seed: int) -> None:
        self.seed = seed

    def oracle(self, env: Env) -> _Oracle:
        return _Oracle(env)


class Env:
    def __init__(self, task: str, kwargs: dict[str, Any], seed: int | None) -> None:
        self._seed = seed
        self.task = _Task(task, kwargs, seed)
        self.sim: VimaEnv | None = None
        self._first: tuple[Any, ...] | None = None
        self.prompt = ""
        self.prompt_assets: dict[str, Any] = {}
        self.meta_info: dict[str, Any] = {}

    def seed(self, seed: int) -> None:
        self._seed = seed
        self.task.set_seed(seed)

    def set_task(self, task: str, kwargs: dict[str, Any]) -> None:
        self.task = _Task(task, kwargs, self._seed)

    @property
    def action_space(self) -> Any:
        assert self.sim is not None
        return self.sim.action_space

    def reset(self) -> None:
        task = self.task
        if task.difficulty is None:
            raise RuntimeError("set_difficulty was not called")
        if str(task.seed) == os.environ.get("VIMA_BENCH_STANDIN_CRASH_SEED"):
            os._exit(3)  # a simulator crash, for the retry test
        if self.sim is not None:
            self.sim.close()
        self.sim = VimaEnv(task.name, task.partition, task.difficulty)
        obs, info = self.sim.reset(seed=task.seed)
        task.oracle_max_steps = info["meta"]["oracle_max_steps"]
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
        self._first = (obs, 0.0, False, False, {"prompt": self.prompt, "success": info["success"],
                                               "failure": info["failure"]})  # fmt: skip

    def step(self, action: dict[str, Any] | None) -> tuple[Any, ...]:
        assert self.sim is not None, "reset() first"
        if action is None:
            assert self._first is not None
            return self._first
        obs, reward, done, truncated, info = self.sim.step(action)
        return obs, reward, done, truncated, {k: info[k] for k in ("prompt", "success", "failure")}


def make(
    task_name: str,
    task_kwargs: dict[str, Any] | None = None,
    modalities: list[str] | None = None,
    seed: int | None = None,
    **_: Any,
) -> Env:
    if modalities is not None and "depth" in modalities:
        raise AssertionError("depth is not supported")
    return Env(task_name, task_kwargs or {}, seed)
