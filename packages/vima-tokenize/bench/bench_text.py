"""Prompt tokenisation speed: microseconds per `encode_prompt` call with the default tokenizer.

Encodes the prompts of the sample episodes (every placeholder kind) many times after a warm-up
and prints the time per prompt (the loader of a training run encodes nothing; this is the cost
inside `vima-tokenize`). Usage:

    uv run --all-packages python packages/vima-tokenize/bench/bench_text.py
"""

from __future__ import annotations

import time
from pathlib import Path

from vima_schema.discover import find_episodes
from vima_schema.reader import read_episode
from vima_tokenize.text import encode_prompt, encode_prompts, load_tokenizer

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


def main() -> None:
    """Time `encode_prompt` and `encode_prompts` on the sample prompts."""
    tokenizer = load_tokenizer()
    prompts = [read_episode(folder).prompt for folder in find_episodes([SAMPLES])]
    for prompt in prompts:  # warm-up
        encode_prompt(tokenizer, prompt)
    rounds = 500
    start = time.perf_counter()
    for _ in range(rounds):
        for prompt in prompts:
            encode_prompt(tokenizer, prompt)
    single = (time.perf_counter() - start) / (rounds * len(prompts))
    start = time.perf_counter()
    for _ in range(rounds):
        encode_prompts(tokenizer, prompts)
    batched = (time.perf_counter() - start) / (rounds * len(prompts))
    print(
        f"{len(prompts)} prompts x {rounds}: encode_prompt {single * 1e6:.1f} us/prompt, "
        f"encode_prompts {batched * 1e6:.1f} us/prompt"
    )


if __name__ == "__main__":
    main()
