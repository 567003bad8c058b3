"""Benchmark of vima-sim: reset and step time per task, and `generate` throughput.

    uv run --all-packages python packages/vima-sim/bench/bench_sim.py --seeds 3 --episodes 17

Prints one line per (level, task) pair: mean reset and step time (wall clock and CPU time of
this process, the latter hardly affected by other load on the machine) and oracle successes;
then episodes/s of `generate` over all tasks with 1 and 2 workers and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from vima_sim import VimaEnv
from vima_sim.tasks import SceneSamplingError, available


def per_task(seeds: int) -> None:
    """Reset and step time of the oracle per (level, task): wall clock and this process's CPU."""
    from vima_sim.encyclopedia import partition_tasks
    from vima_sim.tasks import EVALUATION_PARTITIONS

    print(f"{'level':28s} {'task':28s} reset wall/CPU s   step wall/CPU s   success")
    for partition in EVALUATION_PARTITIONS:
        for task in partition_tasks(partition):
            env = VimaEnv(task.name, partition.name)
            resets: list[tuple[float, float]] = []
            steps: list[tuple[float, float]] = []
            ok = 0
            for k in range(seeds):
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    env.reset(seed=10000 + k)
                except SceneSamplingError:
                    continue
                resets.append((time.perf_counter() - wall, time.process_time() - cpu))
                for _ in range(env.max_steps):
                    action = env.oracle_action()
                    if action is None:
                        break
                    wall, cpu = time.perf_counter(), time.process_time()
                    _, _, terminated, truncated, info = env.step(action)
                    steps.append((time.perf_counter() - wall, time.process_time() - cpu))
                    if terminated or truncated:
                        break
                ok += bool(info["success"])
            env.close()
            r, s = np.mean(resets, axis=0), np.mean(steps, axis=0)
            print(
                f"{partition.name:28s} {task.name:28s} {r[0]:6.3f} / {r[1]:6.3f}   "
                f"{s[0]:6.3f} / {s[1]:6.3f}   {ok}/{len(resets)}",
                flush=True,
            )


def generate(episodes: int, workers: int) -> None:
    """Episodes/s of `vima-sim generate` over the 13 training tasks; CPU time and peak RSS."""
    tasks = [t for t, where in available().items() if "training" in where["partitions"]]
    per = max(1, episodes // len(tasks))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "vima_sim.cli", "generate", *tasks, "--episodes", str(per),
             "--out", out, "--workers", str(workers)],
            check=True, capture_output=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    n = per * len(tasks)
    print(
        f"generate workers={workers}: {n} episodes in {elapsed:.1f} s = {n / elapsed:.2f} ep/s, "
        f"{cpu / n:.2f} CPU s per episode, peak RSS of one process {after.ru_maxrss / 1024:.0f} MB"
    )


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=17)
    args = parser.parse_args()
    per_task(args.seeds)
    for workers in (1, 2):
        generate(args.episodes, workers)


if __name__ == "__main__":
    main()
