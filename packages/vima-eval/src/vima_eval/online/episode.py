"""One online episode: reset with the job's seed, let the agent act until the episode ends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from vima_sim import SEED_ATTEMPTS, SEED_STRIDE, SceneSamplingError

from vima_eval.online.agents import Agent
from vima_eval.online.plan import Job

#: Step limits: VIMA's protocol (oracle max steps + 2), the oracle's maximum, the task's minimum.
TIME_LIMITS = ("vima", "oracle", "minimum")


class OnlineEnv(Protocol):
    """The environment interface of the loop (vima-sim's `VimaEnv` or the VIMA-Bench proxy)."""

    def reset(self, *, seed: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def step(
        self, action: dict[str, np.ndarray]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]: ...

    def oracle_action(self) -> dict[str, np.ndarray] | None: ...

    def close(self) -> None: ...


@dataclass
class Outcome:
    """What one episode produced: the result-row fields, timings and (optionally) frames."""

    seed: int
    success: bool = False
    failure: bool = False
    steps: int = 0
    minimum_steps: int | None = None
    prompt: str = ""
    timing: dict[str, float] = field(default_factory=dict)
    frames: list[dict[str, np.ndarray]] = field(default_factory=list)
    env_prompt: str = ""
    applies: bool = True
    ended: str = ""  # why the episode ended (see `run_episode`)
    limit: int = 0  # actions allowed
    # Recorded episodes only: actions taken, the oracle's action from the same state (None
    # where it has none or the environment offers none), the prompt images and prompt mask.
    actions: list[dict[str, np.ndarray]] = field(default_factory=list)
    oracle: list[dict[str, np.ndarray] | None] = field(default_factory=list)
    assets: dict[str, Any] = field(default_factory=dict)
    prompt_mask: str = "none"


def step_limit(time_limit: str, meta: dict[str, Any]) -> int:
    """Actions allowed: `vima` = oracle_max_steps + 2, `oracle`, `minimum`, or an integer."""
    if time_limit == "vima":
        return int(meta["oracle_max_steps"]) + 2
    if time_limit == "oracle":
        return int(meta["oracle_max_steps"])
    if time_limit == "minimum":
        return int(meta["minimum_steps"])
    return int(time_limit)


def check_time_limit(text: str) -> str:
    """Validate a `--time-limit` value (one of `TIME_LIMITS` or a positive integer)."""
    if text in TIME_LIMITS or (text.isdigit() and int(text) > 0):
        return text
    raise ValueError(f"--time-limit must be one of {', '.join(TIME_LIMITS)} or a positive integer")


def reset_seeded(env: OnlineEnv, seed: int) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Reset with `seed`, or with vima-sim's fallback seeds when no scene can be sampled."""
    for attempt in range(SEED_ATTEMPTS):
        tried = seed + attempt * SEED_STRIDE
        try:
            obs, info = env.reset(seed=tried)
        except SceneSamplingError:
            continue
        return tried, obs, info
    raise SceneSamplingError(f"no scene could be sampled for seeds {seed} + k * {SEED_STRIDE}")


def oracle_hint(env: OnlineEnv) -> dict[str, np.ndarray] | None:
    """What vima-sim's oracle would do now, for the viewer, leaving the episode unchanged: the
    oracle draws from the task's generator, whose state is restored. None for environments
    without that generator (the VIMA-Bench proxy) or when the oracle has no action."""
    rng = getattr(getattr(env, "task", None), "rng", None)
    if not isinstance(rng, np.random.Generator):
        return None
    state = rng.bit_generator.state
    try:
        return env.oracle_action()
    finally:
        rng.bit_generator.state = state


def run_episode(env: OnlineEnv, agent: Agent, job: Job, time_limit: str = "vima") -> Outcome:
    """Roll out one episode; it ends (`Outcome.ended`) on success, task failure, arm timeout,
    the step limit ('time limit') or an agent without action. Success is the task's success
    after the last action. A job marked `record` also keeps frames, actions, the oracle's
    actions and the prompt images."""
    timing = {"sim_s": 0.0, "tokenize_s": 0.0, "model_s": 0.0}
    before = dict(agent.timing)
    began = time.perf_counter()
    seed, obs, info = reset_seeded(env, job.seed)
    timing["sim_s"] += time.perf_counter() - began
    meta = info["meta"]
    out = Outcome(seed=seed, minimum_steps=meta.get("minimum_steps"), env_prompt=info["prompt"])
    if job.record:
        out.frames.append(obs["rgb"])
        out.assets = dict(info.get("prompt_assets", {}))
    agent.begin(env, obs, info, job)
    out.limit = limit = step_limit(time_limit, meta)
    out.success, out.failure = bool(info["success"]), bool(info["failure"])
    out.ended = "time limit"
    while out.steps < limit and not (out.success or out.failure):
        hint = oracle_hint(env) if job.record else None
        action = agent.act()
        if action is None:
            out.ended = "no action"
            break
        if job.record:
            out.actions.append(action)
            out.oracle.append(hint)
        began = time.perf_counter()
        obs, _, _, _, info = env.step(action)
        timing["sim_s"] += time.perf_counter() - began
        out.steps += 1
        out.success, out.failure = bool(info["success"]), bool(info["failure"])
        if job.record:
            out.frames.append(obs["rgb"])
        if info.get("timeout"):
            out.ended = "arm timeout"
            break
        agent.observe(action, obs, info)
    if out.success or out.failure:
        out.ended = "success" if out.success else "failure"
    for key in ("tokenize_s", "model_s"):
        timing[key] = agent.timing[key] - before.get(key, 0.0)
    out.timing = timing
    out.prompt = getattr(agent, "prompt", "") or info["prompt"]
    out.applies = agent.applies
    out.prompt_mask = str(getattr(agent, "prompt_mask", "none"))
    return out
