"""Per-episode seeds of an online evaluation.

`episode_seed(run_seed, level, task, episode)` is the first 8 bytes (big-endian) of
SHA-256(`"vima-eval-online|<run_seed>|L<level>|<task>|<episode>"`), reduced modulo 2**31. Every
episode of a run gets its own scene, the same inputs always give the same scene (whatever the
checkpoint, perturbation, worker count or shard), and seeds do not collide with the small
consecutive seeds `vima-sim generate` uses for training data (those start at its `--seed`).
When the simulator cannot sample a scene for a seed, vima-sim's rule applies: the seeds
`seed + k * vima_sim.SEED_STRIDE` (k < SEED_ATTEMPTS) are tried in turn, and the seed
actually used is recorded in the result row (`episode_seed`).
"""

from __future__ import annotations

import hashlib

SEED_MODULUS = 2**31


def episode_seed(run_seed: int, level: int, task: str, episode: int) -> int:
    """The environment seed of episode `episode` of (`level`, `task`) in a run seeded `run_seed`."""
    key = f"vima-eval-online|{run_seed}|L{level}|{task}|{episode}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % SEED_MODULUS
