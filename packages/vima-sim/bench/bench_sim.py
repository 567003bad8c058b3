"""Benchmark of vima-sim: reset and step time per task, and `generate` throughput.

    uv run --all-packages python packages/vima-sim/bench/bench_sim.py --seeds 5 --episodes 12

Prints one line per task (mean reset s, mean step s, oracle success) and episodes/s of
`generate` with 1 and 2 workers plus the peak RSS of one worker.
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
from vima_sim.rollout import oracle_rollout
from vima_sim.tasks import available


def per_task(seeds: int) -> None:
    """Reset and step timings of the oracle, one process."""
    for task in available():
        env = VimaEnv(task)
        results = [oracle_rollout(env, 10000 + k) for k in range(seeds)]
        env.close()
        steps = [s for r in results for s in r.step_s]
        print(
            f"{task:26s} reset {np.mean([r.reset_s for r in results]):.3f} s  "
            f"step {np.mean(steps):.3f} s  success {np.mean([r.success for r in results]):.0%}"
        )


def generate(episodes: int, workers: int) -> None:
    """Episodes/s of `vima-sim generate` over the six tasks; peak RSS of the children."""
    with tempfile.TemporaryDirectory() as out:
        tasks = list(available())
        per = max(1, episodes // len(tasks))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "vima_sim.cli", "generate", *tasks, "--episodes", str(per),
             "--out", out, "--workers", str(workers)],
            check=True, capture_output=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    n = per * len(tasks)
    print(f"generate workers={workers}: {n} episodes in {elapsed:.1f} s = {n / elapsed:.2f} ep/s "
          f"(peak RSS of a process so far {rss:.0f} MB)")  # fmt: skip


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=12)
    args = parser.parse_args()
    per_task(args.seeds)
    for workers in (1, 2):
        generate(args.episodes, workers)


if __name__ == "__main__":
    main()
