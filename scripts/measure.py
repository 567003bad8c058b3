"""Record a benchmark's output under docs/measurements/, the one source of the documents' tables.

    uv run --all-packages python scripts/measure.py NAME [NAME ...] [--work DIR]
    uv run --all-packages python scripts/measure.py --list

Each NAME runs the commands of MEASUREMENTS below in order and writes
docs/measurements/NAME.txt (atomically): per command a header line `$ COMMAND` with the date,
the commit and `/proc/loadavg` before it, then what it printed on stdout. scripts/document_tables.py
makes the documents' tables from these files; tests/test_documents.py checks that they agree.
Inputs the benchmarks need (the quick start's tokenized sample dataset and `tiny` checkpoint, a
recorded online run) are made once in WORK (default out/measure) and reused; the comparisons
with VIMA-Bench read VIMA_BENCH_PYTHON (an interpreter made by scripts/vima-bench/setup.sh) and
VIMA_BENCH_CHECKOUT (its checkout). Commands run with
PYTHONDONTWRITEBYTECODE unset, as an installed environment runs (bytecode cached).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "measurements"
PY = ["uv", "run", "--all-packages", "--all-extras", "python"]
TOOL = ["uv", "run", "--all-packages", "--all-extras"]

#: The presets (and timed steps) of the training-step benchmark.
TRAIN_PRESETS = ("tiny:20", "scratch-vima-20m:5", "reference-37m:5", "scratch-vima-200m:2")
#: NAME -> commands ({work}: the inputs folder; {ckpt}: its tiny checkpoint; {online}: its
#: recorded online run).
MEASUREMENTS: dict[str, list[list[str]]] = {
    "bench-read": [
        [
            *PY,
            "packages/vima-schema/bench/bench_read.py",
            "--episodes",
            "1000",
            "--corpus",
            "{work}/read-corpus",
        ],
        [
            *PY,
            "packages/vima-schema/bench/bench_read.py",
            "--episodes",
            "1000",
            "--corpus",
            "{work}/read-corpus",
            "--deep",
        ],
    ],
    "bench-convert": [[*PY, "packages/vima-convert/bench/bench_convert.py", "--episodes", "2000"]],
    "bench-episode-format": [[*PY, "packages/vima-convert/bench/bench_episode_format.py"]],
    "bench-tokenize": [
        [*PY, "packages/vima-tokenize/bench/bench_tokenize.py", "--episodes", "1000"]
    ],
    "bench-text": [[*PY, "packages/vima-tokenize/bench/bench_text.py"]],
    "bench-loader": [
        [
            *PY,
            "packages/vima-train/bench/bench_train.py",
            "{work}/dataset",
            "--presets",
            "--threads",
            "1",
        ],
    ],
    "bench-train": [
        [
            *PY,
            "packages/vima-train/bench/bench_train.py",
            "{work}/dataset",
            "--skip-loader",
            "--presets",
            *TRAIN_PRESETS,
            "--threads",
            threads,
        ]
        for threads in ("1", "2")
    ],
    "bench-offline": [
        [
            *PY,
            "packages/vima-eval/bench/bench_offline.py",
            "--presets",
            "tiny",
            "base",
            "--repeats",
            "200",
        ]
    ],
    "bench-online": [
        [*PY, "packages/vima-eval/bench/bench_online.py", "{ckpt}", "--episodes", "1"]
    ],
    "bench-view": [
        [*PY, "packages/vima-eval/bench/bench_view.py", "{online}", "--episodes", "1000"],
        [*PY, "packages/vima-eval/bench/bench_view.py", "{online}", "--episodes", "8400"],
    ],
    "bench-sim-breakdown": [[*PY, "packages/vima-sim/bench/bench_sim.py", "breakdown"]],
    "bench-sim-generate": [
        [
            *PY,
            "packages/vima-sim/bench/bench_sim.py",
            "generate",
            "--rounds",
            "3",
            "--vima-bench-python",
            "{vb_python}",
            "--vima-bench-checkout",
            "{vb_checkout}",
        ]
    ],
    "bench-sim-per-task": [
        [
            *PY,
            "packages/vima-sim/bench/bench_sim.py",
            "per-task",
            "--seeds",
            "2",
            "--vima-bench-python",
            "{vb_python}",
        ]
    ],
    "bench-cli-help": [[*PY, "packages/vima-schema/bench/bench_cli_help.py", "--repeat", "7"]],
}


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(command, cwd=ROOT, env=env, text=True, check=True, **kwargs)  # type: ignore[call-overload]


def prepare(work: Path) -> dict[str, str]:
    """The inputs of the benchmarks in WORK, made when missing: the quick start's dataset and
    `tiny` checkpoint, and an online run recorded for the viewer (2 episodes per L1 task, two
    perturbations)."""
    ckpt = work / "run" / "checkpoints" / "last.ckpt"
    if not ckpt.exists():
        _run(["./scripts/quickstart.sh", str(work)], stdout=subprocess.DEVNULL)
    online = work / "online-recorded"
    if not (online / "episodes.parquet").exists():
        _run(
            [
                *TOOL,
                "vima-eval",
                "online",
                str(ckpt),
                "--levels",
                "L1",
                "--episodes",
                "2",
                "--record",
                "2",
                "--perturb",
                "noop",
                "--perturb",
                "gobbledygook_word",
                "--wandb",
                "disabled",
                "--out",
                str(online),
            ],
            stdout=subprocess.DEVNULL,
        )
    return {
        "work": str(work),
        "ckpt": str(ckpt),
        "online": str(online),
        # VIMA-Bench for the comparisons: an interpreter from scripts/vima-bench/setup.sh and
        # the checkout it was made for
        "vb_python": os.environ.get("VIMA_BENCH_PYTHON", "VIMA_BENCH_PYTHON-is-not-set"),
        "vb_checkout": os.environ.get("VIMA_BENCH_CHECKOUT", "VIMA_BENCH_CHECKOUT-is-not-set"),
    }


def record(name: str, inputs: dict[str, str]) -> Path:
    """Run NAME's commands and write docs/measurements/NAME.txt."""
    parts = []
    commit = _run(["git", "rev-parse", "--short", "HEAD"], capture_output=True).stdout.strip()
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "packages"], cwd=ROOT)
    commit += " with local changes to packages/" if changed.returncode else ""
    for template in MEASUREMENTS[name]:
        command = [part.format(**inputs) for part in template]
        load = Path("/proc/loadavg").read_text().split()[:3]
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"{name}: {shlex.join(command)}", file=sys.stderr)
        out = _run(command, stdout=subprocess.PIPE).stdout
        shown = shlex.join(command).replace(inputs["work"], "WORK")
        parts.append(f"$ {shown}\n# {stamp}, commit {commit}, load average {' '.join(load)}\n{out}")
    target = RECORDS / f"{name}.txt"
    with tempfile.NamedTemporaryFile("w", dir=RECORDS, delete=False, suffix=".tmp") as handle:
        handle.write("".join(parts))
    os.replace(handle.name, target)
    return target


def main() -> None:
    """Record the named measurements; the last line printed is the last file written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "measure")
    parser.add_argument("--list", action="store_true", help="print the names and commands")
    args = parser.parse_args()
    if args.list or not args.names:
        for name, commands in MEASUREMENTS.items():
            print(name, *(shlex.join(c) for c in commands), sep="\n  ")
        return
    unknown = [name for name in args.names if name not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement {', '.join(unknown)}: see --list")
    inputs = prepare(args.work.resolve())
    for name in args.names:
        print(record(name, inputs))


if __name__ == "__main__":
    main()
