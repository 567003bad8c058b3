"""Oracle roll-outs: one seeded episode solved by the scripted oracle, recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from vima_schema.models import Episode

from vima_sim.env import VimaEnv
from vima_sim.recording import EpisodeRecorder
from vima_sim.tasks import SceneSamplingError

#: Seeds tried for one episode: seed, seed + SEED_STRIDE, ... (scene sampling can fail, and
#: `generate` also moves on when the oracle does not succeed).
SEED_ATTEMPTS = 10
SEED_STRIDE = 100_000


@dataclass
class Rollout:
    """Outcome of one oracle episode."""

    seed: int
    success: bool
    steps: int
    reset_s: float
    step_s: list[float] = field(default_factory=list)
    episode: Episode | None = None


def oracle_rollout(
    env: VimaEnv,
    seed: int,
    *,
    record: bool = False,
    index: int = 0,
    require_success: bool = False,
    max_actions: int | None = None,
) -> Rollout:
    """Reset with `seed` and run the oracle; the next seeds are tried when the scene cannot be
    sampled (and, with `require_success`, when the oracle fails). `max_actions` stops the
    episode early (a partial episode)."""
    out: Rollout | None = None
    for attempt in range(SEED_ATTEMPTS):
        try_seed = seed + attempt * SEED_STRIDE
        start = time.perf_counter()
        try:
            obs, info = env.reset(seed=try_seed)
        except SceneSamplingError:
            continue
        out = Rollout(try_seed, False, 0, time.perf_counter() - start)
        recorder = EpisodeRecorder()
        recorder.start(obs, info)
        limit = info["max_steps"] if max_actions is None else min(max_actions, info["max_steps"])
        for _ in range(limit):
            action = env.oracle_action()
            if action is None:
                break
            start = time.perf_counter()
            obs, _, terminated, truncated, step_info = env.step(action)
            out.step_s.append(time.perf_counter() - start)
            recorder.add(action, obs, step_info)
            out.steps += 1
            out.success = bool(step_info["success"])
            if terminated or truncated:
                break
        if record:
            out.episode = recorder.episode(index)
        if out.success or not require_success:
            return out
    if out is not None:
        return out
    raise SceneSamplingError(f"no scene could be sampled for seeds {seed} + k * {SEED_STRIDE}")
