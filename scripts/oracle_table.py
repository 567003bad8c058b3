"""README's oracle table from a recorded `vima-sim check --all` run.

    uv run --all-packages vima-sim check --all --seeds 20 > docs/measurements/oracle-check.jsonl
    uv run --all-packages python scripts/oracle_table.py [--steps] [RECORD]

Prints the markdown table (per task, the oracle's success at each level where the task exists)
that README.md holds between its `oracle-table` markers (with `--steps`, the mean oracle steps
too: docs/SIMULATOR.md's `simulator-oracle-table`); tests/test_documents.py fails when they
differ, so the documents never state a figure the recorded run does not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vima_schema.enums import Task

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "measurements" / "oracle-check.jsonl"
LEVELS = ("placement_generalization", "combinatorial_generalization", "novel_object_generalization",
          "novel_task_generalization")  # fmt: skip


def _steps(mean: float) -> str:
    """Mean oracle steps to two decimals, trailing zeros dropped (1.0, 2.15)."""
    text = f"{mean:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def oracle_table(record: Path = RECORD, steps: bool = False) -> str:
    """The table, one row per task (T1...T17), a cell per level: success % of the seeds (and,
    with `steps`, the mean oracle steps in parentheses)."""
    rows = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    cells: dict[str, dict[str, str]] = {}
    seeds = {row["seeds"] for row in rows}
    for row in rows:
        percent = f"{100 * row['success']:.0f} %"
        if steps:
            percent += f" ({_steps(row['mean_steps'])})"
        cells.setdefault(row["task"], {})[row["partition"]] = percent
    if len(seeds) != 1:
        raise ValueError(f"{record}: pairs with different seed counts {sorted(seeds)}")
    lines = ["| task | L1 | L2 | L3 | L4 |", "|---|:-:|:-:|:-:|:-:|"]
    for task in Task:
        levels = cells.get(task.name, {})
        row = " | ".join(levels.get(level, "") for level in LEVELS)
        lines.append(f"| T{task.value + 1} {task.name} | {row} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    arguments = [arg for arg in sys.argv[1:] if arg != "--steps"]
    record = Path(arguments[0]) if arguments else RECORD
    sys.stdout.write(oracle_table(record, steps="--steps" in sys.argv[1:]))
