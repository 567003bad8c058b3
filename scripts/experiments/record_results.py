"""Record what an experiment measured into a JSON-lines file under docs/measurements/ (issue 27,
item 1): the documents' tables are generated from it (scripts/experiment_tables.py).

    uv run --all-packages python scripts/experiments/record_results.py docs/measurements/t1.jsonl \\
        --label t1-match --command "COMMAND" --results OUT/online-t1-match-step3000-L1 ... \\
        [--train OUT/run-t1-match] [--log STDERR_LOG]

Per evaluated cell (result folder of `vima-eval online`, task, level, perturbation): the
episodes, successes, actions, and every episode's outcome in episode order (so that two runs on
the same episodes can be paired later), with the simulator, checkpoint and seed. Per training
run (`--train`): the last step and the validation metrics of every validation. `--log` names
the experiment script's stderr (its `[HH:MM:SS]` stage stamps and the driver's `# DATE ...
load ...` lines), from which the training stage's wall time and the load are kept. Recording
the same label again replaces its entries; the command and the date are kept with each label.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vima_eval.results import read_results
from vima_eval.runs import result_path
from vima_schema.atomic import atomic_write_text

#: Validation metrics kept from a vima-train run's metrics.csv.
VALIDATION_KEYS = (
    "val/loss",
    "val/pose0_position_x/loss",
    "val/pose0_position_y/loss",
    "val/pick/error_cm",
    "val/place/error_cm",
    "val/pick/object_acc",
    "val/place/object_acc",
)


def cells(folder: Path) -> list[dict[str, Any]]:
    """One entry per (task, level, perturbation) of an online result folder, episodes in order."""
    settings = json.loads((folder / "metrics.json").read_text())["settings"]
    grouped: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in read_results(result_path(folder)).to_pylist():
        if row["mode"] != "online":
            raise ValueError(f"{folder}: an offline result table")
        grouped[row["task"], row["level"], row["perturbation"]].append(row)
    out = []
    for (task, level, perturbation), rows in sorted(grouped.items()):
        rows.sort(key=lambda row: int(row["episode"].rsplit("/", 1)[1]))
        numbers = [int(row["episode"].rsplit("/", 1)[1]) for row in rows]
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            raise ValueError(f"{folder}: {task} L{level} {perturbation}: episodes not contiguous")
        if len({(row["checkpoint"], row["seed"], row["difficulty"]) for row in rows}) != 1:
            raise ValueError(f"{folder}: {task} L{level} {perturbation}: mixed runs")
        out.append({
            "folder": folder.name,
            "env": settings["env"],
            "checkpoint": rows[0]["checkpoint"],
            "difficulty": rows[0]["difficulty"],
            "seed": rows[0]["seed"],
            "task": task,
            "level": level,
            "perturbation": perturbation,
            "first_episode": numbers[0],
            "episodes": len(rows),
            "successes": sum(bool(row["success"]) for row in rows),
            "steps": sum(int(row["steps"]) for row in rows),
            "outcomes": "".join("1" if row["success"] else "0" for row in rows),
            "unchanged": [n for n, row in zip(numbers, rows, strict=True) if not row["applies"]],
        })  # fmt: skip
    return out


def validation(run: Path) -> dict[str, Any]:
    """The last training step and every validation of a vima-train run (its CSV logs)."""
    rows: list[dict[str, Any]] = []
    last = 0
    for path in sorted(run.glob("logs/version_*/metrics.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                step = int(row["step"])
                last = max(last, step)
                if row.get("val/loss"):
                    kept = {k: round(float(row[k]), 4) for k in VALIDATION_KEYS if row.get(k)}
                    rows.append({"step": step, **kept})
    rows.sort(key=lambda row: row["step"])
    return {"run": run.name, "last_logged_step": last, "validation": rows}


def stage_seconds(log: Path, stage: str = "train") -> dict[str, Any]:
    """Wall time of the script's `stage` stamps (to the next stamp) and the driver's load lines."""
    stamps = re.findall(r"^\[(\d\d:\d\d:\d\d)\] (\w+)", log.read_text(), re.M)
    loads = re.findall(r"load ([\d.]+ [\d.]+ [\d.]+)", log.read_text())
    seconds = None
    for (time, what), (following, _) in itertools.pairwise(stamps):
        if what == stage:
            start, end = (datetime.strptime(t, "%H:%M:%S") for t in (time, following))
            seconds = (end - start).total_seconds() % 86400
    return {f"{stage}_seconds": seconds, "load_averages": loads}


def record(path: Path, label: str, command: str, code: Path, results: list[Path],
           train: Path | None, log: Path | None, steps: int | None = None) -> Path:  # fmt: skip
    """Replace `label`'s lines of the JSON-lines record at `path` (made when absent): one
    `experiment` line (command, date, commit of the code that ran it, the evaluated checkpoint's
    step, timing), one `cell` line per evaluated cell, one `validation` line per validation of
    `train`. Atomic."""
    kept = [line for line in (path.read_text().splitlines() if path.exists() else [])
            if json.loads(line)["experiment"] != label]  # fmt: skip
    commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    head: dict[str, Any] = {"experiment": label, "kind": "experiment", "command": command,
                            "recorded": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                            "commit": commit}  # fmt: skip
    if steps is not None:
        head["checkpoint_step"] = steps
    if log is not None:
        head |= stage_seconds(log)
    lines = [head] + [{"experiment": label, "kind": "cell", **cell}
                      for folder in results for cell in cells(folder)]  # fmt: skip
    if train is not None:
        curve = validation(train)
        head |= {"run": curve["run"], "last_logged_step": curve["last_logged_step"]}
        lines += [{"experiment": label, "kind": "validation", **row} for row in curve["validation"]]
    text = "".join(line + "\n" for line in kept) + "".join(json.dumps(x) + "\n" for x in lines)
    atomic_write_text(path, text)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("record", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--command", required=True, help="the command that made the results")
    parser.add_argument("--results", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--code",
        type=Path,
        default=Path("."),
        help="the checkout that ran the experiment (its commit is recorded)",
    )
    parser.add_argument("--train", type=Path)
    parser.add_argument("--steps", type=int, help="the evaluated checkpoint's optimiser step")
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    print(
        record(
            args.record,
            args.label,
            args.command,
            args.code,
            args.results,
            args.train,
            args.log,
            args.steps,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
