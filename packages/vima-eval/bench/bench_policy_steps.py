"""CPU seconds of the policy per online step, for checkpoints whose own episodes end early.

An untrained policy's episodes end after their first action or run to the step limit, so the
online benchmark's per-episode cost depends on what the weights happen to do. This replays the
same inputs through every checkpoint: DRIVER's episodes (`vima-eval online`'s task, seeds and
tokenization; L1, EPISODES per task, the default step limit) are run once and every step's
model input is kept; each MODEL then answers all of them in this process on one torch thread
(as a worker or the policy server does), timed with `time.process_time`: the prompt's encoding
(once per episode) apart from the steps. `--paths full,incremental` times both decoding paths,
ROUNDS times each, alternating (the shared machine's load drifts), and checks that they answer
the same bins. Prints one JSON line and writes it to RECORD:

    uv run --all-packages python packages/vima-eval/bench/bench_policy_steps.py DRIVER \\
        MODEL [MODEL ...] --labels tiny,scratch-vima-200m [--paths full,incremental] \\
        [--rounds 2] --record docs/measurements/online-policy-steps.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from vima_eval.online.agents import PolicyAgent
from vima_eval.online.episode import run_episode
from vima_eval.online.model import LocalModel, encode
from vima_eval.online.plan import level_tasks, plan_jobs
from vima_schema.perturbations import get_perturbation
from vima_sim.env import VimaEnv
from vima_train.checkpoint import load_policy
from vima_train.model.incremental import begin_episode


class Recording(LocalModel):
    """The local model, keeping every step's inputs."""

    def __init__(self, policy: Any) -> None:
        super().__init__(policy)
        self.steps: list[tuple[Any, ...]] = []

    def step(self, prompt: Any, mask: str, observations: Any, actions: Any) -> np.ndarray:
        self.steps.append((prompt, mask, observations, actions))
        return super().step(prompt, mask, observations, actions)


def record_steps(driver: Path, tasks: list[str], episodes: int) -> list[tuple[Any, ...]]:
    """Every step's model input in DRIVER's episodes."""
    policy = load_policy(driver)
    policy.shuffle_objects = False
    model = Recording(policy)
    agent = PolicyAgent(driver, get_perturbation("noop"), 0, model=model)
    envs: dict[str, VimaEnv] = {}
    for job in plan_jobs(level_tasks([1], tasks), range(episodes), ["noop"], 0, 0):
        env = envs.setdefault(job.task, VimaEnv(job.task, job.partition, "easy"))
        run_episode(env, agent, job)
    for env in envs.values():
        env.close()
    return model.steps


def cost(policy: Any, steps: list[tuple[Any, ...]], incremental: bool) -> dict[str, Any]:
    """CPU seconds of `policy` on the recorded steps with one decoding path: the prompts, the
    steps (per step, per history length) and the greedy bins answered."""
    prompt_s, episode, by_length, answers = 0.0, None, {}, []
    for prompt, mask, observations, actions in steps:
        if prompt is not None:
            began = time.process_time()
            cache = encode(policy, prompt, mask, "cpu")
            episode = begin_episode(policy, cache, incremental)
            prompt_s += time.process_time() - began
        began = time.process_time()
        with torch.inference_mode():
            answers.append(episode.act(observations, actions))
        length = int(observations.step_mask.shape[1])
        by_length.setdefault(length, []).append(time.process_time() - began)
    total = sum(sum(v) for v in by_length.values())
    return {
        "cpu_s_per_step": round(total / len(steps), 4),
        "cpu_s_per_step_by_observations": {
            str(n): round(sum(v) / len(v), 4) for n, v in sorted(by_length.items())
        },
        "cpu_s_prompts": round(prompt_s, 3),
        "cpu_s_total": round(total + prompt_s, 3),
        "bins": torch.cat(answers),
    }


def costs(model_path: Path, steps: list[tuple[Any, ...]], args: argparse.Namespace) -> Any:
    """MODEL's figures per path, means over the rounds, and whether every pass answered the
    same bins."""
    policy = load_policy(model_path)
    policy.shuffle_objects = False
    paths = args.paths.split(",")
    runs: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
    for _ in range(args.rounds):
        for path in paths:
            runs[path].append(cost(policy, steps, path == "incremental"))
    first = runs[paths[0]][0]["bins"]
    same = all(torch.equal(run["bins"], first) for group in runs.values() for run in group)
    figures = {}
    for path, group in runs.items():
        mean = {key: round(sum(run[key] for run in group) / len(group), 4)
                for key in ("cpu_s_per_step", "cpu_s_prompts", "cpu_s_total")}  # fmt: skip
        lengths = group[0]["cpu_s_per_step_by_observations"]
        mean["cpu_s_per_step_by_observations"] = {
            n: round(sum(run["cpu_s_per_step_by_observations"][n] for run in group) / len(group), 4)
            for n in lengths
        }
        mean["cpu_s_total_per_round"] = [run["cpu_s_total"] for run in group]
        figures[path] = mean
    parameters = sum(p.numel() for p in policy.parameters())
    return {"parameters": parameters, "same_bins": same, "paths": figures}


def write_figures(figures: dict[str, Any], load: list[str], record: Path | None) -> None:
    """Print `figures` as one JSON line with the load average before (`load`) and after and the
    date, and write it to `record` when given."""
    line = json.dumps({**figures, "load_before": load,
                       "load_after": Path("/proc/loadavg").read_text().split()[:3],
                       "date": time.strftime("%Y-%m-%d %H:%M")})  # fmt: skip
    print(line)
    if record:
        record.write_text(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("driver", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--labels", required=True, help="comma-separated, one per MODEL")
    parser.add_argument("--tasks", default="visual_manipulation,follow_order")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--paths", default="full", help="decoding paths: full, incremental")
    parser.add_argument("--rounds", type=int, default=1, help="passes per path, alternating")
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels = args.labels.split(",")
    steps = record_steps(args.driver, args.tasks.split(","), args.episodes)
    load = Path("/proc/loadavg").read_text().split()[:3]
    episodes = len(args.tasks.split(",")) * args.episodes
    models = zip(labels, args.models, strict=True)
    figures = {
        "driver_steps": len(steps),
        "driver_episodes": episodes,
        "models": {label: costs(path, steps, args) for label, path in models},
    }
    write_figures(figures, load, args.record)


if __name__ == "__main__":
    main()
