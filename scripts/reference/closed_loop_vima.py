"""Runs VIMA's own evaluation loop (`main` of VIMA's scripts/example.py) on VIMA-Bench episodes
and records every action it takes, to compare with `vima-eval online --env vima-bench`.

    python closed_loop_vima.py --checkout VIMA --ckpt FILE --spec SPEC.json \
        --tokenizer tokenizer.json --task TASK --partition placement_generalization \
        --seeds 1,2,3 --out actions.json

Run with an interpreter that has both `vima_bench` and VIMA's `vima` (scripts/vima-bench/
setup.sh, then transformers 4.44.2, einops, dm-tree, omegaconf and the VIMA checkout on its path;
docs/CHECKPOINTS.md). Nothing of VIMA's is copied: example.py is compiled from the checkout
without its tokenizer lines and its `__main__` block, and `main` runs as it is, with:
- the tokenizer given here instead of t5-base's (its file converted to the format of the
  `tokenizers` this environment has), placeholders added as example.py adds them;
- `make` building the env as vima-eval's VIMA-Bench worker does (arm hidden in RGB, no debug or
  prompt windows), seeded with the episode's seed, and recording each action given to `step`;
- gym 0.21's `TimeLimit` (VIMA-Bench's pinned gym) under example.py's `TimeLimitWrapper`;
- T5 built from `SPEC.json`'s `t5` config instead of `from_pretrained("t5-base")`.
`main` loops over episodes forever; the second `reset` of an env raises, which ends it.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
import transformers.models.t5.modeling_t5 as modeling_t5

modeling_t5.checkpoint = torch.utils.checkpoint.checkpoint  # type: ignore[attr-defined]
if not hasattr(np, "bool"):
    np.bool = np.bool_  # type: ignore[attr-defined]


class EpisodeOver(Exception):
    """Raised by the second reset of an env: its one episode is done."""


def legacy_tokenizer(path: Path) -> Any:
    """The tokenizer file, merges written as "a b" strings if this `tokenizers` needs them."""
    import tokenizers

    document = json.loads(path.read_text())
    merges = document.get("model", {}).get("merges")
    if merges and isinstance(merges[0], list):
        document["model"]["merges"] = [" ".join(pair) for pair in merges]
    return tokenizers.Tokenizer.from_str(json.dumps(document))


def gym_021_time_limit() -> type:
    """gym 0.21's `TimeLimit` (VIMA-Bench's pinned gym; 4-tuple steps), which example.py's
    `TimeLimitWrapper` subclasses; gym 0.26's expects 5-tuples and fails on VIMA-Bench."""
    import gym

    class TimeLimit(gym.Wrapper):
        def __init__(self, env: Any, max_episode_steps: int) -> None:
            super().__init__(env)
            self._max_episode_steps = max_episode_steps
            self._elapsed_steps = 0

        def step(self, action: Any) -> Any:
            observation, reward, done, info = self.env.step(action)
            self._elapsed_steps += 1
            if self._elapsed_steps >= self._max_episode_steps:
                info["TimeLimit.truncated"] = not done
                done = True
            return observation, reward, done, info

        def reset(self, **kwargs: Any) -> Any:
            self._elapsed_steps = 0
            return self.env.reset(**kwargs)

    return TimeLimit


def example_namespace(checkout: Path) -> dict[str, Any]:
    """example.py compiled without its tokenizer lines, its gym TimeLimit import (gym 0.21's is
    given instead) and its `__main__` block."""
    tree = ast.parse((checkout / "scripts" / "example.py").read_text())
    body = []
    for node in tree.body:
        text = ast.unparse(node)
        skipped = ("tokenizer =", "tokenizer.add_tokens", "if __name__", "from gym.wrappers")
        if text.startswith(skipped):
            continue
        body.append(node)
    namespace: dict[str, Any] = {"__name__": "vima_example", "_TimeLimit": gym_021_time_limit()}
    exec(compile(ast.Module(body=body, type_ignores=[]), "example.py", "exec"), namespace)
    return namespace


def patch_t5(config: dict[str, Any]) -> None:
    """VIMA's policy builds T5 from this config instead of downloading t5-base."""
    prompt_encoder = importlib.import_module("vima.nn.prompt_encoder.prompt_encoder")
    word_embd = importlib.import_module("vima.nn.prompt_encoder.word_embd")
    t5 = transformers.T5Config(**config)
    prompt_encoder.T5EncoderModel.from_pretrained = classmethod(lambda cls, name: cls(t5))
    word_embd.AutoModel = types.SimpleNamespace(
        from_pretrained=lambda name: prompt_encoder.T5EncoderModel(t5)
    )


def run_episode(namespace: dict[str, Any], args: argparse.Namespace, seed: int) -> dict:
    """One episode of example.py's `main` on `seed`; its prompt and actions."""
    import vima_bench

    record: dict[str, Any] = {"seed": seed, "actions": []}
    made: list[Any] = []

    def make(task: str, **kwargs: Any) -> Any:
        kwargs |= {"seed": seed, "display_debug_window": False, "render_prompt": False}
        kwargs["hide_arm_rgb"] = True
        env = vima_bench.make(task, **kwargs)
        # example.py seeds before every reset with `env.global_seed = seed`, which lands on its
        # outer wrapper and never reaches the env; seed the env as that line means to (and as
        # vima-eval's worker does)
        env.seed(seed)
        reset, step = env.reset, env.step
        resets = []

        def reset_once(*a: Any, **k: Any) -> Any:
            if resets:
                raise EpisodeOver
            resets.append(1)
            obs = reset(*a, **k)
            record["prompt"] = env.prompt
            return obs

        def recorded_step(action: dict[str, np.ndarray] | None = None, **k: Any) -> Any:
            if action is None:  # VIMA-Bench's reset steps once without an action
                return step(action, **k)
            record["actions"].append({k: np.asarray(v).tolist() for k, v in action.items()})
            out = step(action, **k)
            record["success"] = bool(out[-1].get("success", False))
            return out

        env.reset, env.step = reset_once, recorded_step
        env.render = lambda *a, **k: None
        made.append(env)
        return env

    namespace["make"] = make
    config = argparse.Namespace(
        partition=args.partition, task=args.task, ckpt=str(args.ckpt), device="cpu"
    )
    try:
        namespace["main"](config)
    except RuntimeError as error:  # ResetFaultToleranceWrapper gives up after EpisodeOver
        if "Failed to reset" not in str(error):
            raise
    finally:  # an env left open changes the next episode made in this process (measured)
        for env in made:
            env.close()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("checkout", "ckpt", "spec", "tokenizer", "out"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--partition", default="placement_generalization")
    parser.add_argument("--seeds", required=True, help="Comma-separated episode seeds.")
    args = parser.parse_args()
    patch_t5(json.loads(args.spec.read_text())["t5"])
    namespace = example_namespace(args.checkout)
    tokenizer = legacy_tokenizer(args.tokenizer)
    tokenizer.add_tokens(namespace["PLACEHOLDER_TOKENS"])
    namespace["tokenizer"] = tokenizer
    episodes = [run_episode(namespace, args, int(s)) for s in args.seeds.split(",")]
    args.out.write_text(json.dumps({"task": args.task, "episodes": episodes}, indent=1) + "\n")
    print(args.out)


if __name__ == "__main__":
    sys.exit(main())
