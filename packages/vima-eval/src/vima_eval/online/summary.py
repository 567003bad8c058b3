"""`metrics.json` of an online run: success per task and level with Wilson intervals, the
paper's level means, episode counts, errors and the time split."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from vima_eval.results import ONLINE
from vima_eval.runs import Run, task_number
from vima_eval.scoring import level_means, success_cells
from vima_eval.statistics import wilson_interval

METRICS_SCHEMA = "vima-eval/online-metrics"
METRICS_VERSION = 2  # 2: scored over the episodes a perturbation changed


def _cell(successes: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(successes, n) if n else (math.nan, math.nan)
    return {"episodes": n, "successes": successes, "success": successes / n if n else math.nan,
            "low": low, "high": high}  # fmt: skip


def online_metrics(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per perturbation, over the episodes it changed (`applies`): per level the task cells
    (success, 95% Wilson interval, mean actions) and the unweighted level mean over those tasks
    (with vima-eval report's interval and the task count), plus the overall episode-weighted
    success and the number of episodes left out as unchanged."""
    by_perturbation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_perturbation[row["perturbation"]].append(row)
    out: dict[str, Any] = {}
    for name, chosen in by_perturbation.items():
        run = Run(label=name, mode=ONLINE, rows=list(chosen))
        cells = success_cells(run)
        means = level_means(cells)
        grouped = run.cells()
        levels: dict[str, Any] = {}
        for level in sorted({lv for _, lv in cells}):
            tasks = sorted((t for t, lv in cells if lv == level), key=task_number)
            levels[f"L{level}"] = {
                "tasks": {
                    task: {
                        **_cell(cells[task, level].successes, cells[task, level].n),
                        "mean_steps": sum(r["steps"] for r in grouped[task, level])
                        / len(grouped[task, level]),
                    }
                    for task in tasks
                },
                "mean": {
                    "success": means[level].rate,
                    "low": means[level].low,
                    "high": means[level].high,
                    "tasks": means[level].tasks,
                },
            }
        scored = run.scored
        wins = sum(bool(r["success"]) for r in scored)
        out[name] = {"levels": levels, "overall": _cell(wins, len(scored)),
                     "unchanged_episodes": len(chosen) - len(scored)}  # fmt: skip
    return out


def summary_scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """Flat `success/<perturbation>/L<level>[/<task>]` numbers (for W&B's run summary)."""
    flat: dict[str, float] = {}
    for name, entry in metrics.items():
        for level, data in entry["levels"].items():
            flat[f"success/{name}/{level}"] = data["mean"]["success"]
            for task, cell in data["tasks"].items():
                flat[f"success/{name}/{level}/{task}"] = cell["success"]
        flat[f"success/{name}/overall"] = entry["overall"]["success"]
    return flat
