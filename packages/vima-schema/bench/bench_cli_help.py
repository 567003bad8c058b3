"""Benchmark: wall time of `--help` of the six console scripts (top level and every command).

Runs each script of the environment's `bin/` folder directly (no `uv run`), `--repeat` times,
and prints the median and minimum wall time and the median CPU time (user + system of the
child, which other load on the machine barely changes), in seconds; the import of torch,
pybullet or datasets is what would make them slow (tests/test_cli_frame.py checks that none
happens).

    uv run --all-packages python packages/vima-schema/bench/bench_cli_help.py --repeat 7

Asserts nothing.
"""

import resource
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


def _seconds(args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def bench(
    repeat: Annotated[int, typer.Option(help="Runs per command line.")] = 7,
) -> None:
    """Print `command wall-median wall-min cpu-median` in seconds for every `--help`."""
    bin_dir = Path(sys.executable).parent
    print(f"{'command':34s} wall median  wall min  cpu median")
    for tool, commands in TOOLS.items():
        for words in ([], *([c] for c in commands)):
            args = [str(bin_dir / tool), *words, "--help"]
            runs = [_seconds(args) for _ in range(repeat)]
            walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
            name = " ".join([tool, *words, "--help"])
            print(
                f"{name:34s} {statistics.median(walls):11.3f} {min(walls):9.3f} "
                f"{statistics.median(cpus):11.3f}",
                flush=True,
            )


if __name__ == "__main__":
    typer.run(bench)
