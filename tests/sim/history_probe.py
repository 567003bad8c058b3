"""Seed B made after seed A in one process and environment, against seed B made first.

Run by `test_sim_history.py` in a fresh interpreter, so that nothing of the test session is in
it: `python history_probe.py CASES SEED_A SEED_B ACTIONS`, CASES a JSON list of
[task, partition, difficulty] or [task, partition, difficulty, same_shape_bases]. Each case
runs in a process of its own, forked from this one before it has built anything: seed B (reset
and at most ACTIONS oracle actions), seed A (reset), seed B again, all in the environment that
`vima-sim generate` keeps per process: what the first B's actions left and what A's reset left
are both in place for the second B. Prints one JSON object: "task/partition/difficulty" (and
"/bases" when given) -> {"alone": digests, "after": digests} (or {"error": traceback}),
digests mapping each raw episode file (as `vima-sim generate` writes it) and each attribute of
the task object after the episode ("task.<name>") to a SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
import traceback
from typing import Any

from vima_schema.runner import one_native_thread_per_worker

WORKERS = 2
one_native_thread_per_worker(WORKERS)

import numpy as np  # noqa: E402
from vima_schema.layout import FRAME_DIRS, frame_name  # noqa: E402
from vima_schema.writer import episode_pickles  # noqa: E402
from vima_sim.env import VimaEnv  # noqa: E402
from vima_sim.generate import Job, _env  # noqa: E402
from vima_sim.rollout import oracle_rollout  # noqa: E402


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _digests(env: VimaEnv, seed: int, actions: int) -> dict[str, str]:
    """SHA-256 of each episode file and of each attribute of the task after the episode."""
    rollout = oracle_rollout(env, seed, record=True, max_actions=actions)
    assert rollout.episode is not None
    out = {name: _sha(data) for name, data in episode_pickles(rollout.episode).items()}
    for view, frames in rollout.episode.frames.items():
        for i, data in enumerate(frames):
            out[f"{FRAME_DIRS[view]}/{frame_name(i)}"] = _sha(data)
    for name, value in vars(env.task).items():
        state = value.bit_generator.state if isinstance(value, np.random.Generator) else value
        out[f"task.{name}"] = _sha(repr(state))
    return out


def _case(case: tuple[str, ...], seeds: tuple[int, int], actions: int) -> dict[str, Any]:
    task, partition, difficulty, *bases = case
    seed_a, seed_b = seeds
    job = Job(task, partition, difficulty, 0, seed_b, "", *bases)
    alone = _digests(_env(job), seed_b, actions)
    oracle_rollout(_env(job), seed_a, max_actions=0)  # state from B's step, then A's reset
    return {"alone": alone, "after": _digests(_env(job), seed_b, actions)}


def _run(args: tuple[tuple[str, ...], tuple[int, int], int]) -> tuple[str, dict[str, Any]]:
    """One case's digests, or its traceback as {"error": ...}."""
    try:
        return "/".join(args[0]), _case(*args)
    except Exception:
        return "/".join(args[0]), {"error": traceback.format_exc()}


def main(argv: list[str]) -> None:
    """Run every case in a fresh forked process; print the digests as JSON."""
    np.set_printoptions(threshold=sys.maxsize)  # reprs of task state show whole arrays
    cases, seed_a, seed_b, actions = json.loads(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    jobs = [(tuple(case), (seed_a, seed_b), actions) for case in cases]
    context = multiprocessing.get_context("fork")
    with context.Pool(WORKERS, maxtasksperchild=1) as pool:
        results = dict(pool.imap_unordered(_run, jobs))
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
