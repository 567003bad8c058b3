"""The experiment scripts (scripts/experiments/*.sh) parse, and the 13-task script and its
budget table cover exactly the simulator's tasks of each level."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from repo_scripts import load_script
from vima_sim.tasks import EVALUATION_PARTITIONS, available

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts" / "experiments").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_parses(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _level_tasks() -> dict[str, set[str]]:
    """Tasks the simulator defines per level, L1-L4."""
    where = available()
    return {
        f"L{i}": {task for task, info in where.items() if partition.name in info["partitions"]}
        for i, partition in enumerate(EVALUATION_PARTITIONS, start=1)
    }


def test_thirteen_tasks_are_l1_and_l4_is_zero_shot() -> None:
    """TASKS (trained, evaluated on L1-L3) = L1's 13 tasks; L4_TASKS = L4's four."""
    script = ROOT / "scripts" / "experiments" / "thirteen_tasks.sh"
    assignments = "".join(
        line + "\n" for line in script.read_text().splitlines()
        if line.startswith(("TASKS=", "TASKS+=", "L4_TASKS=", "N_TASKS="))
    )  # fmt: skip
    echo = 'echo "$TASKS"; echo "$L4_TASKS"; echo "$N_TASKS"'
    done = subprocess.run(
        ["bash", "-c", assignments + echo], capture_output=True, text=True, check=True
    )
    tasks, l4_tasks, count = done.stdout.splitlines()
    levels = _level_tasks()
    assert set(tasks.split()) == levels["L1"] and len(tasks.split()) == int(count) == 13
    assert set(l4_tasks.split()) == levels["L4"] and len(l4_tasks.split()) == 4
    pairs = load_script("scripts/document_tables.py").LEVEL_PAIRS
    assert pairs == {level: len(names) for level, names in levels.items()}
