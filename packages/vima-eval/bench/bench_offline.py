"""Benchmark of vima-eval: cost of each perturbation per episode, and offline evaluation
throughput (episodes/s on CPU, share of time spent perturbing + tokenizing) per preset.

A dataset of `--episodes` varied copies of the sample episodes is built in a temporary folder,
each preset is trained for one step with vima-train (weights do not matter for speed), then
`vima-eval offline` runs once per perturbation class.

Usage: uv run --all-packages python packages/vima-eval/bench/bench_offline.py \
           [--episodes 110] [--presets tiny scratch-vima-20m] [--batch-size 8] [--repeats 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from vima_convert.build import build
from vima_convert.parse import parse
from vima_eval.offline import run_offline
from vima_schema.perturbations import PERTURBATIONS, Kind, instruction_from_episode
from vima_schema.reader import read_episode
from vima_tokenize.pipeline import tokenize_dataset
from vima_tokenize.text import load_tokenizer
from vima_train.cli import main as train

# test and benchmark support (tests/support), not part of any package
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
from synthetic_corpus import write_corpus

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO_ROOT / "data" / "samples").glob("*/*/000000"))
CLASSES = ("noop", "reworded", "textual", "gobbledygook_tokens", "mask_both", "shuffle_objects")


def perturbation_costs(repeats: int) -> None:
    """Microseconds per episode of every perturbation on the sample episodes."""
    tokenizer = load_tokenizer()
    instructions = [instruction_from_episode(read_episode(path)) for path in SAMPLES]
    print(f"perturbation cost per episode ({len(instructions)} sample episodes x {repeats}):")
    for name, perturbation in PERTURBATIONS.items():
        perturbation(instructions[0], 0, tokenizer)  # warm caches (token pool)
        start = time.perf_counter()
        for seed in range(repeats):
            for instruction in instructions:
                perturbation(instruction, seed, tokenizer)
        micros = (time.perf_counter() - start) / (repeats * len(instructions)) * 1e6
        where = "" if perturbation.kind is Kind.prompt else " (model input switch)"
        print(f"  {name:<28} {micros:9.1f} us{where}")


def build_dataset(root: Path, episodes: int) -> Path:
    samples = [read_episode(path) for path in SAMPLES]
    write_corpus(samples, root / "raw", episodes)
    parse([str(root / "raw")], root / "parsed")
    build(root / "parsed", root / "dataset", valid_size=episodes // 2)
    tokenize_dataset(root / "dataset")
    return root / "dataset"


def checkpoint(root: Path, dataset: Path, preset: str) -> Path:
    cache = f"data.cache_dir={root / 'cache'}"
    args = ["fit", str(dataset), "--preset", preset, "--out", str(root / preset),
            "--max-steps", "1", "--wandb", "disabled", "--set", cache]  # fmt: skip
    if train(args) != 0:
        raise SystemExit(f"training preset {preset} failed")
    return root / preset / "checkpoints" / "last.ckpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=110)
    parser.add_argument("--presets", nargs="+", default=["tiny", "scratch-vima-20m"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    perturbation_costs(args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        dataset = build_dataset(root, args.episodes)
        for preset in args.presets:
            ckpt = checkpoint(root, dataset, preset)
            print(f"offline evaluation, preset {preset}, {args.episodes // 2} valid episodes, "
                  f"batch {args.batch_size}:")  # fmt: skip
            for name in CLASSES:
                out = root / f"out-{preset}-{name}"
                run_offline(ckpt, dataset, perturbations=[name], out=out,
                            batch_size=args.batch_size, resamples=0)  # fmt: skip
                timing = json.loads((out / "metrics.json").read_text())["timing"]
                evaluated = timing["episodes"]
                compute = timing["perturb_tokenize_s"] + timing["collate_s"] + timing["forward_s"]
                print(
                    f"  {name:<20} {evaluated / compute:8.1f} episodes/s (load excluded; "
                    f"{timing['episodes_per_s']:.1f} with load); perturb+tokenize "
                    f"{timing['perturb_tokenize_s'] / compute:5.1%}, collate "
                    f"{timing['collate_s'] / compute:5.1%}, forward "
                    f"{timing['forward_s'] / compute:5.1%}"
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
