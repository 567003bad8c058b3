"""Scores of runs: success cells per (task, level) with Wilson intervals, the paper's level
averages, differences against a baseline run or a published row, and the pooled offline
metrics with bootstrap intervals over episodes. Only the rows a run scores (`Run.scored`)
count."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from vima_eval.results import LEVELS
from vima_eval.runs import Run
from vima_eval.statistics import (
    Difference,
    bootstrap_interval,
    bootstrap_intervals,
    mean_difference,
    mean_interval,
    newcombe_difference,
    paired_difference,
    tost_p,
    wilson_bounds,
    wilson_interval,
)


@dataclass(frozen=True)
class Cell:
    """A success rate with its interval and episode count (n = 0 for a published value)."""

    rate: float
    low: float
    high: float
    n: int
    successes: int = 0
    tasks: int = 0  # level averages: the number of tasks averaged


def strictly_successful(row: dict[str, Any]) -> bool:
    """The paper's "strict time limit": successful within the task's minimum number of steps."""
    return bool(row["success"]) and row["steps"] <= row["minimum_steps"]


def success_cells(run: Run, strict: bool = False) -> dict[tuple[str, int], Cell]:
    """Success rate per (task, level) with Wilson intervals (published rows: no interval);
    `strict` counts only `strictly_successful` episodes."""
    if run.reference is not None:
        return {key: Cell(rate, math.nan, math.nan, 0) for key, rate in run.reference.items()}
    cells = {}
    for key, rows in run.cells().items():
        wins = sum(strictly_successful(r) if strict else bool(r["success"]) for r in rows)
        low, high = wilson_interval(wins, len(rows))
        cells[key] = Cell(wins / len(rows), low, high, len(rows), wins)
    return cells


def level_means(cells: dict[tuple[str, int], Cell]) -> dict[int, Cell]:
    """The paper's level averages: unweighted means over the level's tasks, with the normal
    interval of `statistics.mean_interval` (none for published rows)."""
    means = {}
    for level in LEVELS:
        in_level = [cell for (_, lv), cell in cells.items() if lv == level]
        if not in_level:
            continue
        rates = [cell.rate for cell in in_level]
        if all(cell.n for cell in in_level):
            low, high = mean_interval([(c.rate, c.low, c.high) for c in in_level])
        else:
            low = high = math.nan
        n = sum(c.n for c in in_level)
        means[level] = Cell(sum(rates) / len(rates), low, high, n, tasks=len(in_level))
    return means


def compare_cells(run: Run, baseline: Run) -> dict[tuple[str, int], Difference]:
    """Difference run - baseline per (task, level) both have."""
    ours, theirs = run.cells(), baseline.cells()
    base_cells = success_cells(baseline)
    out = {}
    for key, rows in ours.items():
        if key not in base_cells:
            continue
        if baseline.reference is not None:
            out[key] = _against_published(rows, base_cells[key].rate)
            continue
        paired = _pair(rows, theirs[key])
        if paired is not None:
            out[key] = paired_difference(*paired)
        else:
            wins = sum(bool(r["success"]) for r in rows)
            base = theirs[key]
            base_wins = sum(bool(r["success"]) for r in base)
            out[key] = newcombe_difference(wins, len(rows), base_wins, len(base))
    return out


def _against_published(rows: list[dict[str, Any]], rate: float) -> Difference:
    """A published rate is taken as fixed: our Wilson interval shifted, exact binomial test,
    TOST on the shifted Wilson intervals."""
    wins, n = sum(bool(r["success"]) for r in rows), len(rows)
    low, high = wilson_interval(wins, n)
    p_value = float(scipy_stats.binomtest(wins, n, min(max(rate, 0.0), 1.0)).pvalue)

    def shifted(z: float) -> tuple[float, float]:
        w_low, w_high = wilson_bounds(wins, n, z)
        return w_low - rate, w_high - rate

    return Difference(wins / n - rate, low - rate, high - rate, p_value, paired=False, n=n,
                      equivalence_p=tost_p(shifted, wins / n - rate))  # fmt: skip


def _pair(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[list[bool], list[bool]] | None:
    """Outcomes of the same episodes in both runs, or None when the episode sets differ."""
    by_a = {(r["episode"], r["seed"]): bool(r["success"]) for r in a}
    by_b = {(r["episode"], r["seed"]): bool(r["success"]) for r in b}
    if len(by_a) != len(a) or len(by_b) != len(b) or by_a.keys() != by_b.keys():
        by_a = {r["episode"]: bool(r["success"]) for r in a}
        by_b = {r["episode"]: bool(r["success"]) for r in b}
        if len(by_a) != len(a) or len(by_b) != len(b) or by_a.keys() != by_b.keys():
            return None
    keys = sorted(by_a)
    return [by_a[k] for k in keys], [by_b[k] for k in keys]


def level_difference(diffs: dict[tuple[str, int], Difference], level: int) -> Difference | None:
    """Difference of level averages: the mean of the level's per-task differences."""
    in_level = [diff for (_, lv), diff in diffs.items() if lv == level]
    return mean_difference(in_level) if in_level else None


OFFLINE_METRICS = ("accuracy", "all_axes", "loss")


def offline_metric(rows: Sequence[dict[str, Any]], metric: str, index: np.ndarray) -> float:
    """A pooled offline metric over the episodes `rows[index]`."""
    picked = [rows[i] for i in index]
    if metric == "accuracy":
        total = sum(r["axes_total"] for r in picked)
        return sum(r["axes_correct"] for r in picked) / total if total else math.nan
    steps = sum(r["steps"] for r in picked)
    if metric == "all_axes":
        return sum(r["steps_all_correct"] for r in picked) / steps if steps else math.nan
    return sum(r["loss_sum"] for r in picked) / steps if steps else math.nan


def _metric_of(rows: Sequence[dict[str, Any]], metric: str) -> Callable[[np.ndarray], float]:
    def statistic(index: np.ndarray) -> float:
        return offline_metric(rows, metric, index)

    return statistic


#: The offline proportions and their (successes, trials) columns.
PROPORTIONS = {
    "accuracy": ("axes_correct", "axes_total"),
    "all_axes": ("steps_all_correct", "steps"),
}


def _interval(rows: Sequence[dict[str, Any]], metric: str, resamples: int) -> tuple[float, float]:
    """The percentile bootstrap over episodes; for a proportion widened to cover the Wilson
    interval of the pooled counts, which ignores the episodes' clustering and so is never too
    wide, and keeps its width where every resample gives the same value (0 % or 100 %)."""
    low, high = bootstrap_interval(_metric_of(rows, metric), len(rows), resamples=resamples)
    if metric not in PROPORTIONS or resamples == 0:
        return low, high
    hits, trials = (sum(int(r[column]) for r in rows) for column in PROPORTIONS[metric])
    if not trials:
        return low, high
    w_low, w_high = wilson_interval(hits, trials)
    return (w_low, w_high) if math.isnan(low) else (min(low, w_low), max(high, w_high))


def offline_cells(run: Run, resamples: int = 1000) -> dict[tuple[str, str], Cell]:
    """(task or 'all', metric) -> pooled value with its interval (`_interval`)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in run.scored:
        groups[row["task"]].append(row)
    groups["all"] = list(run.scored)
    cells = {}
    for task, rows in groups.items():
        everything = np.arange(len(rows))
        for metric in OFFLINE_METRICS:
            low, high = _interval(rows, metric, resamples)
            cells[task, metric] = Cell(
                offline_metric(rows, metric, everything), low, high, len(rows)
            )
    return cells


def offline_difference(
    run: Run, baseline: Run, resamples: int = 1000
) -> tuple[float, float, float, bool]:
    """Pooled accuracy difference with a bootstrap interval, paired when the baseline holds
    every scored episode of the run (then over those episodes only)."""
    mine, base = run.scored, baseline.scored
    ours = {r["episode"]: r for r in mine}
    theirs = {r["episode"]: r for r in base}
    if len(ours) == len(mine) and len(theirs) == len(base) and ours.keys() <= theirs.keys():
        keys = sorted(ours)
        a, b = [ours[k] for k in keys], [theirs[k] for k in keys]

        def paired(index: np.ndarray) -> float:
            return offline_metric(a, "accuracy", index) - offline_metric(b, "accuracy", index)

        everything = np.arange(len(keys))
        low, high = bootstrap_interval(paired, len(keys), resamples=resamples)
        return paired(everything), low, high, True
    a, b = mine, base

    def difference(i: np.ndarray, j: np.ndarray) -> float:
        return offline_metric(a, "accuracy", i) - offline_metric(b, "accuracy", j)

    low, high = bootstrap_intervals(difference, len(a), len(b), resamples=resamples)
    estimate = difference(np.arange(len(a)), np.arange(len(b)))
    return estimate, float(low), float(high), False
