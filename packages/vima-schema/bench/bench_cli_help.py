"""Benchmark: wall time of `--help` of the six console scripts (top level and every command).

Runs each script of the environment's `bin/` folder directly (no `uv run`), `--repeat` times,
and prints the median and the minimum in seconds; the import of torch, pybullet or datasets is
what would make them slow (tests/test_cli_frame.py checks that none happens).

    uv run --all-packages python packages/vima-schema/bench/bench_cli_help.py --repeat 7

Asserts nothing.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

TOOLS = {
    "vima-schema": ["validate", "inspect"],
    "vima-convert": ["parse", "build", "reword", "stats", "export-raw", "push"],
    "vima-tokenize": [],
    "vima-sim": ["generate", "show", "check", "tasks"],
    "vima-train": ["fit", "presets", "inspect"],
    "vima-eval": ["perturbations", "perturb", "report", "offline", "online", "oracle", "merge"],
}


def _seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def bench(
    repeat: Annotated[int, typer.Option(help="Runs per command line.")] = 7,
) -> None:
    """Print `command median min` in seconds for every `--help`."""
    bin_dir = Path(sys.executable).parent
    print(f"{'command':34s} median    min")
    for tool, commands in TOOLS.items():
        for words in ([], *([c] for c in commands)):
            args = [str(bin_dir / tool), *words, "--help"]
            times = [_seconds(args) for _ in range(repeat)]
            name = " ".join([tool, *words, "--help"])
            print(f"{name:34s} {statistics.median(times):6.3f} {min(times):6.3f}", flush=True)


if __name__ == "__main__":
    typer.run(bench)
