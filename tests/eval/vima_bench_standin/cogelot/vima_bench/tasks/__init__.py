"""`vima_bench.tasks` of CoGeLoT's copy: the partition specs come from a function."""

from __future__ import annotations

from typing import Any

import vima_bench_standin_core as core


def get_partition_to_specs() -> dict[str, Any]:
    """{"train": ..., "test": {partition: {task: kwargs}}}."""
    return core.partition_to_specs()
