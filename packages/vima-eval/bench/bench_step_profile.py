"""Where an incremental online step of a vima-train policy spends its CPU: the newest
observation's visual encoding, the decoder's blocks, the action heads, and the prompt per episode.

Replays DRIVER's recorded steps (as bench_policy_steps.py) through MODEL's incremental path on one
torch thread, ROUNDS times, timing each part with `time.process_time`. Prints one JSON line and
writes it to RECORD:

    uv run --all-packages python packages/vima-eval/bench/bench_step_profile.py DRIVER MODEL \\
        --label scratch-vima-200m --record docs/measurements/online-step-profile.json
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from vima_eval.online.model import encode
from vima_train.checkpoint import load_policy
from vima_train.model import Policy
from vima_train.model.incremental import begin_episode

sys.path.insert(0, str(Path(__file__).parent))
from bench_policy_steps import record_steps, write_figures


def timed(spent: dict[str, float], part: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, adding its CPU seconds to `spent[part]`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[part] += time.process_time() - began

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("driver", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--tasks", default="visual_manipulation,follow_order")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = record_steps(args.driver, args.tasks.split(","), args.episodes)
    policy = load_policy(args.model)
    if not isinstance(policy, Policy):
        raise SystemExit("bench_step_profile.py times vima-train's own network only")
    policy.shuffle_objects = False
    spent = dict.fromkeys(("visual", "decoder_blocks", "heads"), 0.0)
    policy.encode_observations = timed(spent, "visual", policy.encode_observations)  # type: ignore[method-assign]
    policy.action_logits = timed(spent, "heads", policy.action_logits)  # type: ignore[method-assign]
    for block in policy.blocks:
        block.step = timed(spent, "decoder_blocks", block.step)  # type: ignore[method-assign]
    load = Path("/proc/loadavg").read_text().split()[:3]
    prompts = total = 0.0
    episode: Any = None
    visible = []
    for _ in range(args.rounds):
        for prompt, mask, observations, actions in steps:
            if prompt is not None:
                before, began = dict(spent), time.process_time()
                episode = begin_episode(policy, encode(policy, prompt, mask, "cpu"))
                prompts += time.process_time() - began
                spent.update(before)  # a decoder_only prefix's blocks count with the prompt
            began = time.process_time()
            with torch.inference_mode():
                episode.act(observations, actions)
            total += time.process_time() - began
            visible.append(int(observations.object_mask[0, -1].sum()))
    count = len(visible)
    episodes = args.rounds * sum(prompt is not None for prompt, *_ in steps)
    figures = {
        "label": args.label,
        "parameters": sum(p.numel() for p in policy.parameters()),
        "steps": count,
        "cpu_s_per_step": round(total / count, 4),
        "cpu_s_per_step_parts": {k: round(v / count, 4) for k, v in spent.items()},
        "cpu_s_prompt_per_episode": round(prompts / episodes, 4),
        "visible_objects_per_step": round(sum(visible) / count, 1),
    }
    write_figures(figures, load, args.record)


if __name__ == "__main__":
    main()
