"""Stand-in for upstream VIMA-Bench (vimalabs/VIMABench): `vima_bench.PARTITION_TO_SPECS`,
`set_task` sets difficulty "easy" itself (difficulties easy, medium, hard; once per task
object), `reset()` returns the first observation, `step` returns (obs, reward, done, info).
Importing it prints to stdout from Python and from the file descriptor, as upstream VIMA-Bench
and pybullet do. Backed by vima-sim (see ../vima_bench_standin_core.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import vima_bench_standin_core as core

os.write(1, b"pybullet build time: (stand-in)\n")
LAYOUT = core.Layout(
    name="upstream",
    difficulties=("easy", "medium", "hard"),
    set_task_sets_easy=True,
    reset_returns_obs=True,
    five_tuple=False,
)
PARTITION_TO_SPECS = core.partition_to_specs()
ALL_TASKS = sorted(PARTITION_TO_SPECS["test"]["placement_generalization"])
print(f"[INFO] {len(ALL_TASKS)} tasks loaded")


def make(task_name: str, task_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> core.Env:
    """The env of `task_name` (upstream's `vima_bench.make`)."""
    return core.make(LAYOUT, task_name, task_kwargs, kwargs.get("modalities"), kwargs.get("seed"))
