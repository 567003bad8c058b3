"""Stand-in for CoGeLoT's vendored `vima_bench` (src/vima_bench of amitkparekh/CoGeLoT):
partitions only through `vima_bench.tasks.get_partition_to_specs()`, the caller sets the
difficulty once per task object (easy, distracting, extreme, extremely_distracting), `reset()`
returns None and the first observation comes from `step(None)`, `step` returns a 5-tuple.
Backed by vima-sim (see ../vima_bench_standin_core.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import vima_bench_standin_core as core

LAYOUT = core.Layout(
    name="cogelot",
    difficulties=("easy", "distracting", "extreme", "extremely_distracting"),
    set_task_sets_easy=False,
    reset_returns_obs=False,
    five_tuple=True,
)
ALL_TASKS = sorted(core.partition_to_specs()["test"]["placement_generalization"])


def make(task_name: str, task_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> core.Env:
    """The env of `task_name` (CoGeLoT's `vima_bench.make`)."""
    return core.make(LAYOUT, task_name, task_kwargs, kwargs.get("modalities"), kwargs.get("seed"))
