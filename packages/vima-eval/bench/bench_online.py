"""Online evaluation throughput: episodes/s per worker, time split simulation / tokenization /
model, scaling from 1 to 2 workers, and the full benchmark's CPU-hour estimate.

Runs `vima-eval online CKPT` (a vima-train checkpoint, e.g. the `tiny` one of the quick start)
and `vima-eval oracle` over every implemented L1 task with EPISODES per task, once with 1 and
once with 2 workers, and prints the figures. Usage:

    uv run --all-packages python packages/vima-eval/bench/bench_online.py CKPT [--episodes 4]

A tiny policy trained for seconds never succeeds, so its episodes run to the step limit
(oracle max steps + 2): the estimate is an upper bound for a policy; the oracle gives the lower
end. The estimate assumes the measured per-worker rate for all 42 pairs (L4 tasks and the
missing tasks are assumed as fast as the measured mean).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from vima_eval.online.closed_loop import OnlineSettings, run_online

#: The full benchmark: 42 (level, task) pairs x 100 episodes.
FULL_EPISODES = 42 * 100
#: The reference: 20 CPU processes x 4 hours for 42 x 200 episodes (CoGeLoT's evaluation).
REFERENCE_CPU_HOURS = 20 * 4
REFERENCE_EPISODES = 42 * 200


def measure(checkpoint: Path | None, workers: int, episodes: int, root: Path) -> dict[str, float]:
    """Run once; the timing block of metrics.json plus wall time and episodes."""
    settings = OnlineSettings(
        checkpoint=checkpoint, levels=[1], episodes=episodes, workers=workers, wandb="disabled"
    )
    out = root / f"{'policy' if checkpoint else 'oracle'}-{workers}"
    began = time.perf_counter()
    run_online(settings, out)
    total = time.perf_counter() - began
    timing = json.loads((out / "metrics.json").read_text())["timing"]
    return {**timing, "command_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--episodes", type=int, default=4, help="per L1 task")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, checkpoint in (("tiny policy", args.checkpoint), ("oracle", None)):
            rates = {}
            for workers in (1, 2):
                t = measure(checkpoint, workers, args.episodes, Path(tmp))
                episodes = t["episodes_run"]
                busy = t["sim_s"] + t["tokenize_s"] + t["model_s"]
                rates[workers] = episodes / t["wall_s"]
                print(
                    f"{label}, {workers} worker(s): {episodes} episodes in {t['wall_s']:.1f} s "
                    f"(command {t['command_s']:.1f} s) = {rates[workers]:.3f} episodes/s, "
                    f"{episodes / busy:.3f} episodes/s per busy worker; split: sim "
                    f"{t['sim_s'] / busy:.1%}, tokenize {t['tokenize_s'] / busy:.1%}, model "
                    f"{t['model_s'] / busy:.1%} (policy side {t['policy_share']:.1%}); "
                    f"{busy / episodes:.2f} s per episode"
                )
                if workers == 1:
                    per_episode = busy / episodes
            print(f"{label}: scaling 1 -> 2 workers x{rates[2] / rates[1]:.2f}")
            cpu_hours = FULL_EPISODES * per_episode / 3600
            reference = REFERENCE_CPU_HOURS * FULL_EPISODES / REFERENCE_EPISODES
            print(
                f"{label}: 42 pairs x 100 episodes ~ {cpu_hours:.1f} CPU-hours "
                f"(= {cpu_hours / 20:.2f} h on 20 processes); reference: 20 processes x 4 h "
                f"for 42 x 200 episodes = {reference:.0f} CPU-hours per 4,200 episodes"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: parent {peak:.0f} MB, largest worker {children:.0f} MB")


if __name__ == "__main__":
    main()
