"""`vima-sim generate`: oracle episodes written as raw VIMA episode folders (resumable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vima_schema.discover import is_episode_folder
from vima_schema.layout import episode_folder_name
from vima_schema.writer import write_episode

from vima_sim.env import VimaEnv
from vima_sim.rollout import oracle_rollout


@dataclass(frozen=True)
class Job:
    """One episode to generate."""

    task: str
    partition: str
    difficulty: str
    index: int
    seed: int
    out: str
    same_shape_bases: str = "cogelot"


_ENVS: dict[tuple[str, str, str, str], VimaEnv] = {}


def _env(job: Job) -> VimaEnv:
    """The worker's environment for this job's task (one at a time, to bound memory)."""
    key = (job.task, job.partition, job.difficulty, job.same_shape_bases)
    if key not in _ENVS:
        for env in _ENVS.values():
            env.close()
        _ENVS.clear()
        _ENVS[key] = VimaEnv(
            job.task, job.partition, job.difficulty, same_shape_bases=job.same_shape_bases
        )
    return _ENVS[key]


def episode_seed(base_seed: int, index: int) -> int:
    """Seed of episode `index` (before retries for unsampleable scenes)."""
    return base_seed + index


def pending_jobs(
    tasks: list[str],
    partition: str,
    difficulty: str,
    episodes: int,
    seed: int,
    out: Path,
    same_shape_bases: str = "cogelot",
) -> list[Job]:
    """Episodes not yet on disk (a finished folder is never redone)."""
    jobs = []
    for task in tasks:
        for index in range(episodes):
            folder = out / task / episode_folder_name(index)
            if is_episode_folder(folder):
                continue
            jobs.append(Job(task, partition, difficulty, index, episode_seed(seed, index),
                            str(out), same_shape_bases))  # fmt: skip
    return jobs


def run_job(job: Job) -> str:
    """Roll out the oracle; write the episode if it succeeded, else raise."""
    result = oracle_rollout(_env(job), job.seed, record=True, index=job.index, require_success=True)
    if not result.success or result.episode is None:
        raise RuntimeError(
            f"{job.task} #{job.index}: oracle did not succeed (seed {result.seed}, "
            f"{result.steps} steps)"
        )
    return str(write_episode(result.episode, job.out, overwrite=True))
