"""`VimaEnv`: a gymnasium environment with VIMA-Bench's observations, actions and rules."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from vima_schema.enums import Difficulty, EndEffector, Partition, SameShapeBases, Task
from vima_schema.layout import ACTION_KEYS
from vima_schema.models import ActionBounds, ObjectInfo, PromptAsset

from vima_sim.allocator import keep_freed_memory
from vima_sim.prompt_assets import AssetRenderer
from vima_sim.robot import Arm
from vima_sim.tasks import TaskBase, make_task
from vima_sim.tasks.base import WORKSPACE_HIGH, WORKSPACE_LOW
from vima_sim.world import IMAGE_SIZE, VIEWS, World

#: Steps allowed beyond the task's oracle_max_steps (VIMA's TimeLimit protocol).
BONUS_STEPS = 2
ROBOT_COMPONENTS = {EndEffector.suction: [2, 3, 4], EndEffector.spatula: [2, 3]}


def _image_space() -> gym.spaces.Dict:
    return gym.spaces.Dict(
        {v: gym.spaces.Box(0, 255, shape=(3, *IMAGE_SIZE), dtype=np.uint8) for v in VIEWS}
    )


class VimaEnv(gym.Env):  # type: ignore[type-arg]
    """One VIMA-Bench task at a partition and difficulty; `same_shape_bases` picks the
    VIMA-Bench copy whose same_shape / same_texture bases it builds (`SameShapeBases`).

    `reset(seed=...)` returns the first observation and an info dict with `prompt`,
    `prompt_assets` (vima_schema PromptAsset per placeholder), `meta` and `max_steps`;
    `step(action)` executes one suction pick-and-place.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        task: Task | str,
        partition: Partition | str = "placement_generalization",
        difficulty: Difficulty | str = "easy",
        seed: int | None = None,
        *,
        same_shape_bases: SameShapeBases | str = SameShapeBases.cogelot,
    ) -> None:
        self.task: TaskBase = make_task(task, partition, difficulty, same_shape_bases)
        self.task_name = self.task.task
        self.observation_space = gym.spaces.Dict(
            {
                "rgb": _image_space(),
                "segm": gym.spaces.Dict(
                    {v: gym.spaces.Box(0, 255, shape=IMAGE_SIZE, dtype=np.uint8) for v in VIEWS}
                ),
                "ee": gym.spaces.Discrete(2),
            }
        )
        position = gym.spaces.Box(WORKSPACE_LOW, WORKSPACE_HIGH, dtype=np.float32)
        rotation = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self._action_boxes = {
            "pose0_position": position,
            "pose0_rotation": rotation,
            "pose1_position": position,
            "pose1_rotation": rotation,
        }
        self.action_space = gym.spaces.Dict(dict(self._action_boxes.items()))  # type: ignore[arg-type]
        keep_freed_memory()  # texture copies and images would page-fault on every reuse
        self.world = World(textured=False)  # observations are rendered by self.renderer
        self.arm = Arm(self.world)
        self.renderer = AssetRenderer()
        self.max_steps = self.task.oracle_max_steps + BONUS_STEPS
        self.end_effector = self.task.end_effector
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._elapsed = 0
        self._ready = False
        self.prompt = ""
        self.prompt_assets: dict[str, PromptAsset] = {}
        self.meta: dict[str, Any] = {}

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Build a new scene (seeded when `seed` is given, else the stream continues)."""
        if seed is not None:
            self._seed = seed
            self._rng = np.random.default_rng(seed)
        self._ready = False
        self.world.reset(spatula=self.end_effector is EndEffector.spatula)
        self.arm = Arm(self.world)
        self.task.build(self.world, self._rng)
        self.arm.on_check = self.task.check_constraint
        self.prompt = self.task.prompt
        self.prompt_assets = {
            name: self.renderer.render(asset) for name, asset in self.task.assets.items()
        }
        self.arm.settle()
        self._elapsed = 0
        self.meta = {
            "end_effector_type": self.end_effector.value,
            "n_objects": len(self.task.info),
            "difficulty": self.task.difficulty.value,
            "same_shape_bases": self.task.same_shape_bases.value,
            "views": list(VIEWS),
            "modalities": ["rgb", "segm"],
            "seed": self._seed,
            "action_bounds": ActionBounds(low=WORKSPACE_LOW.copy(), high=WORKSPACE_HIGH.copy()),
            "robot_components": list(ROBOT_COMPONENTS[self.end_effector]),
            "obj_id_to_info": dict(self.task.info),
            "task": self.task_name.name,
            "partition": self.task.partition.name,
            "oracle_max_steps": self.task.oracle_max_steps,
            "minimum_steps": self.task.minimum_steps,
        }
        self._ready = True
        success, failure = self.task.check()
        info = self._info(success, failure)
        info["prompt_assets"] = self.prompt_assets
        info["meta"] = self.meta
        info["max_steps"] = self.max_steps
        return self._observe(), info

    def step(
        self, action: dict[str, np.ndarray]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """One pick-and-place; terminated on success or failure, truncated at `max_steps`."""
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        pose0, pose1 = self._check_action(action)
        if self.end_effector is EndEffector.spatula:
            timeout = self.arm.push(pose0, pose1)
        else:
            timeout, _ = self.arm.pick_place(pose0, pose1)
        self.arm.settle()
        self.task.after_action()
        success, failure = self.task.check()
        self._elapsed += 1
        info = self._info(success, failure)
        info["timeout"] = timeout
        truncated = timeout or self._elapsed >= self.max_steps
        return self._observe(), 0.0, success or failure, truncated, info

    def close(self) -> None:
        """Release both pybullet clients."""
        self.world.close()
        self.renderer.close()

    # -- extras ---------------------------------------------------------------------------------
    def oracle_action(self) -> dict[str, np.ndarray] | None:
        """The scripted oracle's next action from privileged state (None when it has none)."""
        if not self._ready:
            raise RuntimeError("call reset() before oracle_action()")
        return self.task.oracle_action()

    @property
    def objects(self) -> dict[int, ObjectInfo]:
        """`obj_id_to_info` of the current scene."""
        return dict(self.task.info)

    def _info(self, success: bool, failure: bool) -> dict[str, Any]:
        return {"prompt": self.prompt, "success": success, "failure": failure}

    def _observe(self) -> dict[str, Any]:
        rgb, segm = {}, {}
        for view in VIEWS:
            rgb[view], segm[view] = self.renderer.observe(self.world, view)
        return {"rgb": rgb, "segm": segm, "ee": self.end_effector.token}

    def _check_action(self, action: dict[str, Any]) -> tuple[Any, Any]:
        missing = [k for k in ACTION_KEYS if k not in action]
        if missing:
            raise ValueError(f"action is missing {', '.join(missing)}")
        values = {}
        for key in ACTION_KEYS:
            value = np.asarray(action[key], dtype=np.float64)
            space = self._action_boxes[key]
            if value.shape != space.shape:
                raise ValueError(f"action {key} has shape {value.shape}, expected {space.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"action {key} is not finite: {value.tolist()}")
            low, high = space.low.astype(np.float64), space.high.astype(np.float64)
            if np.any(np.float32(value) < low) or np.any(np.float32(value) > high):
                raise ValueError(
                    f"action {key} = {value.tolist()} is outside [{low.tolist()}, {high.tolist()}]"
                )
            values[key] = value
        pose0 = ((*values["pose0_position"], 0.0), tuple(values["pose0_rotation"]))
        pose1 = ((*values["pose1_position"], 0.0), tuple(values["pose1_rotation"]))
        return pose0, pose1
