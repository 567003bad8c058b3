"""`vima-eval report`: paper-style tables and figures from per-episode result tables.

Online results give success rates per task and level (L1-L4) with Wilson intervals and the
paper's level averages (unweighted means over the level's tasks, with a normal-approximation
interval); offline results give teacher-forced accuracies per task with bootstrap intervals
over episodes. Against a baseline (another result, or the built-in VIMA-200M row) every cell
gets a difference with a 95% interval and a p-value: paired (exact McNemar) when both runs
evaluated exactly the same episodes, otherwise Newcombe's interval and Fisher's exact test.
Everything is computed before the first file is written; files are written atomically.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as scipy_stats
from vima_schema.atomic import atomic_write_bytes, atomic_write_text
from vima_schema.enums import Task

from vima_eval.figures import grouped_bars
from vima_eval.reference import VIMA_200M, VIMA_200M_NAME, reference_rates
from vima_eval.results import LEVELS, OFFLINE, ONLINE, read_results
from vima_eval.stats import (
    Difference,
    bootstrap_interval,
    mean_interval,
    newcombe_difference,
    paired_difference,
    wilson_interval,
)

BUILTIN_BASELINES = {"vima-200m": VIMA_200M_NAME}
RESULTS_FILE = "episodes.parquet"


@dataclass
class Run:
    """The episodes of one (mode, checkpoint, perturbation, difficulty) combination."""

    label: str
    mode: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[tuple[str, int], float] | None = None  # a published row (no episodes)
    perturbation: str = ""

    def cells(self) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """Rows per (task, level)."""
        found: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            found[row["task"], row["level"]].append(row)
        return dict(found)


@dataclass(frozen=True)
class Cell:
    """A success rate with its interval and episode count (n = 0 for a published value)."""

    rate: float
    low: float
    high: float
    n: int
    successes: int = 0


def task_number(task: str) -> int:
    """The paper's task number T1-T17."""
    return Task[task].value + 1


def result_path(path: Path) -> Path:
    """A result table, or the folder holding one (`episodes.parquet`, as `offline` writes)."""
    return path / RESULTS_FILE if path.is_dir() else path


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Read result tables (ResultError for a foreign file) and split them into runs."""
    runs: dict[tuple[str, str, str, str], Run] = {}
    for path in paths:
        for row in read_results(result_path(path)).to_pylist():
            key = (row["mode"], row["checkpoint"], row["perturbation"], row["difficulty"])
            if key not in runs:
                label = f"{row['checkpoint']} / {row['perturbation']}"
                if row["difficulty"] != "easy":
                    label += f" / {row['difficulty']}"
                runs[key] = Run(label=label, mode=row["mode"], perturbation=row["perturbation"])
            runs[key].rows.append(row)
    return list(runs.values())


def builtin_run(name: str) -> Run:
    """A built-in published row by its `--baseline` name."""
    if name != "vima-200m":
        raise ValueError(f"unknown built-in baseline {name!r} (valid: vima-200m)")
    return Run(label=VIMA_200M_NAME, mode=ONLINE, reference=reference_rates(VIMA_200M))


# --------------------------------------------------------------------------------------------
# online: success rates
# --------------------------------------------------------------------------------------------


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
    """The paper's level averages: unweighted means over the level's tasks."""
    means = {}
    for level in LEVELS:
        in_level = [cell for (_, lv), cell in cells.items() if lv == level]
        if not in_level:
            continue
        rates = [cell.rate for cell in in_level]
        if all(cell.n for cell in in_level):
            low, high = mean_interval(rates, [cell.n for cell in in_level])
        else:
            low = high = math.nan
        means[level] = Cell(sum(rates) / len(rates), low, high, sum(c.n for c in in_level))
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
    """A published rate is taken as fixed: our Wilson interval shifted, exact binomial test."""
    wins, n = sum(bool(r["success"]) for r in rows), len(rows)
    low, high = wilson_interval(wins, n)
    p_value = float(scipy_stats.binomtest(wins, n, min(max(rate, 0.0), 1.0)).pvalue)
    return Difference(wins / n - rate, low - rate, high - rate, p_value, paired=False, n=n)


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


def level_mean_difference(
    ours: dict[tuple[str, int], Cell], theirs: dict[tuple[str, int], Cell], level: int
) -> Difference | None:
    """Difference of level averages over the tasks both have (normal approximation)."""
    keys = [k for k in ours if k[1] == level and k in theirs]
    if not keys:
        return None
    d = sum(ours[k].rate - theirs[k].rate for k in keys) / len(keys)
    variance = sum(_variance(ours[k]) + _variance(theirs[k]) for k in keys) / len(keys) ** 2
    se = math.sqrt(variance)
    p_value = float(2 * scipy_stats.norm.sf(abs(d) / se)) if se > 0 else math.nan
    z = float(scipy_stats.norm.ppf(0.975))
    return Difference(d, d - z * se, d + z * se, p_value, paired=False, n=len(keys))


def _variance(cell: Cell) -> float:
    return cell.rate * (1 - cell.rate) / cell.n if cell.n else 0.0


# --------------------------------------------------------------------------------------------
# offline: teacher-forced accuracies
# --------------------------------------------------------------------------------------------

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


def offline_cells(run: Run, resamples: int = 1000) -> dict[tuple[str, str], Cell]:
    """(task or 'all', metric) -> pooled value with a bootstrap interval over episodes."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in run.rows:
        groups[row["task"]].append(row)
    groups["all"] = list(run.rows)
    cells = {}
    for task, rows in groups.items():
        everything = np.arange(len(rows))
        for metric in OFFLINE_METRICS:
            value = offline_metric(rows, metric, everything)
            low, high = bootstrap_interval(_metric_of(rows, metric), len(rows), resamples=resamples)
            cells[task, metric] = Cell(value, low, high, len(rows))
    return cells


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.1f}"


def _ci(cell: Cell | Difference) -> str:
    if math.isnan(cell.low):
        return ""
    return f" [{_pct(cell.low)}, {_pct(cell.high)}]"


def _tasks(cells: dict[tuple[str, int], Cell]) -> list[str]:
    return sorted({task for task, _ in cells}, key=task_number)


@dataclass
class Report:
    """Everything a report writes, rendered in memory."""

    markdown: list[str] = field(default_factory=list)
    csv_rows: list[dict[str, Any]] = field(default_factory=list)
    latex: list[str] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    level_means: dict[str, dict[int, float]] = field(default_factory=dict)


def build_report(runs: list[Run], baseline: Run | None, resamples: int = 1000) -> Report:
    """Tables and figures for `runs` (and the baseline), rendered in memory."""
    report = Report()
    online = [run for run in runs if run.mode == ONLINE]
    offline = [run for run in runs if run.mode == OFFLINE]
    report.markdown.append("# Evaluation report\n")
    if online or (baseline is not None and baseline.mode == ONLINE):
        extra = baseline is not None and baseline.mode == ONLINE
        extra = extra and all(run is not baseline for run in online)
        shown = online + ([baseline] if extra and baseline is not None else [])
        if not any(run.reference is not None for run in shown):
            shown.append(builtin_run("vima-200m"))
        _online_section(report, shown, baseline)
    if offline:
        _offline_section(
            report, offline, baseline if baseline and baseline.mode == OFFLINE else None, resamples
        )
    return report


def _online_section(report: Report, runs: list[Run], baseline: Run | None) -> None:
    cells = {run.label: success_cells(run) for run in runs}
    means = {run.label: level_means(cells[run.label]) for run in runs}
    report.level_means = {label: {lv: c.rate for lv, c in m.items()} for label, m in means.items()}
    md = report.markdown
    md.append("## Success rate (%) by level\n")
    md.append(
        "Level average = unweighted mean over the level's tasks (as in the paper); "
        "95% intervals: normal approximation over the tasks' Wilson variances.\n"
    )
    md.append("| run | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |")
    md.append("|---|" + "---|" * len(LEVELS))
    for run in runs:
        row = [
            _pct(means[run.label][lv].rate) + _ci(means[run.label][lv])
            if lv in means[run.label]
            else ""
            for lv in LEVELS
        ]
        md.append(f"| {run.label} | " + " | ".join(row) + " |")
    md.append("")
    for run in runs:
        md.append(f"## {run.label}: success rate (%) per task\n")
        md.append(
            "Cells: rate [Wilson 95% interval] (episodes).\n"
            if run.reference is None
            else "Published values (no episode counts, so no intervals).\n"
        )
        md.append("| task | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |")
        md.append("|---|" + "---|" * len(LEVELS))
        own = cells[run.label]
        for task in _tasks(own):
            row = []
            for lv in LEVELS:
                cell = own.get((task, lv))
                row.append(
                    ""
                    if cell is None
                    else _pct(cell.rate) + _ci(cell) + (f" ({cell.n})" if cell.n else "")
                )
            md.append(f"| T{task_number(task)} {task} | " + " | ".join(row) + " |")
        mean_row = [
            _pct(means[run.label][lv].rate) if lv in means[run.label] else "" for lv in LEVELS
        ]
        md.append("| **level average** | " + " | ".join(mean_row) + " |\n")
        for (task, lv), cell in sorted(
            own.items(), key=lambda kv: (task_number(kv[0][0]), kv[0][1])
        ):
            report.csv_rows.append(_csv(run.label, task, lv, "success", cell))
        for lv, cell in means[run.label].items():
            report.csv_rows.append(_csv(run.label, "level_average", lv, "success", cell))
    if baseline is not None:
        _online_differences(
            report, [r for r in runs if r is not baseline and r.reference is None], baseline, cells
        )
    _strict_section(report, [r for r in runs if r.reference is None])
    report.latex.append(_latex_levels(runs, means))
    report.latex += [_latex_tasks(run.label, cells[run.label], means[run.label]) for run in runs]
    report.figures["levels.png"] = _levels_figure(runs, means)


def _strict_section(report: Report, runs: list[Run]) -> None:
    """Level averages under the strict time limit, for runs whose rows all give minimum_steps
    (VIMA-Bench's minimum_steps is stale for T10, T11 and T17, which this inherits)."""
    timed = [r for r in runs if r.rows and all(x["minimum_steps"] is not None for x in r.rows)]
    if not timed:
        return
    md = report.markdown
    md.append("## Strict time limit: success within the minimum number of steps (%)\n")
    md.append("| run | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |")
    md.append("|---|" + "---|" * len(LEVELS))
    for run in timed:
        cells = success_cells(run, strict=True)
        means = level_means(cells)
        row = [_pct(means[lv].rate) + _ci(means[lv]) if lv in means else "" for lv in LEVELS]
        md.append(f"| {run.label} | " + " | ".join(row) + " |")
        for (task, lv), cell in cells.items():
            report.csv_rows.append(_csv(run.label, task, lv, "success_strict", cell))
        for lv, cell in means.items():
            report.csv_rows.append(_csv(run.label, "level_average", lv, "success_strict", cell))
    md.append("")


def _online_differences(
    report: Report, runs: list[Run], baseline: Run, cells: dict[str, dict[tuple[str, int], Cell]]
) -> None:
    md = report.markdown
    base_cells = cells[baseline.label]
    for run in runs:
        diffs = compare_cells(run, baseline)
        md.append(f"## {run.label} minus {baseline.label} (percentage points)\n")
        md.append(
            "Cells: difference [95% interval] p; paired = exact McNemar on the same "
            "episodes, otherwise Newcombe interval and Fisher's exact test (against a "
            "published row: the published rate is taken as fixed).\n"
        )
        md.append("| task | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |")
        md.append("|---|" + "---|" * len(LEVELS))
        for task in _tasks(cells[run.label]):
            row = []
            for lv in LEVELS:
                diff = diffs.get((task, lv))
                row.append("" if diff is None else _diff_text(diff))
                if diff is not None:
                    report.csv_rows.append(_csv_diff(run.label, baseline.label, task, lv, diff))
            md.append(f"| T{task_number(task)} {task} | " + " | ".join(row) + " |")
        row = []
        for lv in LEVELS:
            diff = level_mean_difference(cells[run.label], base_cells, lv)
            row.append("" if diff is None else _diff_text(diff))
            if diff is not None:
                report.csv_rows.append(
                    _csv_diff(run.label, baseline.label, "level_average", lv, diff)
                )
        md.append("| **level average** | " + " | ".join(row) + " |\n")


def _diff_text(diff: Difference) -> str:
    sign = "+" if diff.estimate >= 0 else ""
    paired = ", paired" if diff.paired else ""
    return f"{sign}{_pct(diff.estimate)}{_ci(diff)} p={diff.p_value:.3g}{paired}"


def _csv(run: str, task: str, level: int | str, metric: str, cell: Cell) -> dict[str, Any]:
    return {
        "run": run,
        "task": task,
        "level": level,
        "metric": metric,
        "value": cell.rate,
        "low": cell.low,
        "high": cell.high,
        "episodes": cell.n,
        "baseline": "",
        "p_value": "",
        "paired": "",
    }


def _csv_diff(run: str, base: str, task: str, level: int, diff: Difference) -> dict[str, Any]:
    return {
        "run": run,
        "task": task,
        "level": level,
        "metric": "success_difference",
        "value": diff.estimate,
        "low": diff.low,
        "high": diff.high,
        "episodes": diff.n,
        "baseline": base,
        "p_value": diff.p_value,
        "paired": diff.paired,
    }


def _latex_levels(runs: list[Run], means: dict[str, dict[int, Cell]]) -> str:
    lines = [
        "% vima-eval report: success rate (%) by level (unweighted task means)",
        "\\begin{tabular}{l" + "r" * len(LEVELS) + "}",
        "\\toprule",
        "Run & " + " & ".join(f"L{lv}" for lv in LEVELS) + " \\\\",
        "\\midrule",
    ]
    for run in runs:
        values = [
            _pct(means[run.label][lv].rate) if lv in means[run.label] else "--" for lv in LEVELS
        ]
        lines.append(_latex_escape(run.label) + " & " + " & ".join(values) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def _latex_tasks(label: str, cells: dict[tuple[str, int], Cell], means: dict[int, Cell]) -> str:
    lines = [
        f"% {label}: success rate (%) per task and level",
        "\\begin{tabular}{l" + "r" * len(LEVELS) + "}",
        "\\toprule",
        "Task & " + " & ".join(f"L{lv}" for lv in LEVELS) + " \\\\",
        "\\midrule",
    ]
    for task in _tasks(cells):
        values = [_pct(cells[task, lv].rate) if (task, lv) in cells else "--" for lv in LEVELS]
        name = _latex_escape(f"T{task_number(task)} {task}")
        lines.append(name + " & " + " & ".join(values) + " \\\\")
    average = [_pct(means[lv].rate) if lv in means else "--" for lv in LEVELS]
    lines += [
        "\\midrule",
        "Average & " + " & ".join(average) + " \\\\",
        "\\bottomrule",
        "\\end{tabular}",
        "",
    ]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for char, escaped in (
        ("\\", "\\textbackslash{}"),
        ("_", "\\_"),
        ("%", "\\%"),
        ("&", "\\&"),
        ("#", "\\#"),
        ("$", "\\$"),
    ):
        text = text.replace(char, escaped)
    return text


def _offline_section(report: Report, runs: list[Run], baseline: Run | None, resamples: int) -> None:
    md = report.markdown
    all_cells = {run.label: offline_cells(run, resamples) for run in runs}
    md.append("## Offline (teacher-forced) metrics\n")
    md.append(
        "accuracy = pooled per-axis accuracy (padding excluded); all axes = share of "
        "timesteps with every axis right; loss = mean per-axis cross-entropy per "
        "timestep. 95% bootstrap intervals over episodes.\n"
    )
    md.append("| run | task | episodes | accuracy (%) | all axes (%) | loss |")
    md.append("|---|---|---|---|---|---|")
    for run in runs:
        cells = all_cells[run.label]
        tasks = [*sorted({t for t, _ in cells if t != "all"}, key=task_number), "all"]
        for task in tasks:
            acc, every, loss = (cells[task, m] for m in OFFLINE_METRICS)
            md.append(
                f"| {run.label} | {task} | {acc.n} | {_pct(acc.rate)}{_ci(acc)} | "
                f"{_pct(every.rate)}{_ci(every)} | {loss.rate:.3f} "
                f"[{loss.low:.3f}, {loss.high:.3f}] |"
            )
            for metric in OFFLINE_METRICS:
                report.csv_rows.append(_csv(run.label, task, 0, metric, cells[task, metric]))
    md.append("")
    if baseline is not None:
        md.append(f"### Difference in pooled accuracy against {baseline.label}\n")
        md.append(
            "| run | accuracy difference (points) | 95% interval (paired bootstrap "
            "when the same episodes were run) |"
        )
        md.append("|---|---|---|")
        for run in runs:
            if run is baseline:
                continue
            estimate, low, high, paired = offline_difference(run, baseline, resamples)
            md.append(
                f"| {run.label} | {100 * estimate:+.1f} | [{100 * low:.1f}, "
                f"{100 * high:.1f}]{' paired' if paired else ''} |"
            )
        md.append("")
    report.figures["offline.png"] = _offline_figure(runs, all_cells)


def offline_difference(
    run: Run, baseline: Run, resamples: int = 1000
) -> tuple[float, float, float, bool]:
    """Pooled accuracy difference with a bootstrap interval (paired on shared episodes)."""
    ours = {r["episode"]: r for r in run.rows}
    theirs = {r["episode"]: r for r in baseline.rows}
    if (
        len(ours) == len(run.rows)
        and len(theirs) == len(baseline.rows)
        and ours.keys() == theirs.keys()
    ):
        keys = sorted(ours)
        a, b = [ours[k] for k in keys], [theirs[k] for k in keys]

        def paired(index: np.ndarray) -> float:
            return offline_metric(a, "accuracy", index) - offline_metric(b, "accuracy", index)

        everything = np.arange(len(keys))
        low, high = bootstrap_interval(paired, len(keys), resamples=resamples)
        return paired(everything), low, high, True
    rng = np.random.default_rng(0)
    a, b = run.rows, baseline.rows
    draws = [
        offline_metric(a, "accuracy", rng.integers(0, len(a), len(a)))
        - offline_metric(b, "accuracy", rng.integers(0, len(b), len(b)))
        for _ in range(resamples)
    ]
    estimate = offline_metric(a, "accuracy", np.arange(len(a))) - offline_metric(
        b, "accuracy", np.arange(len(b))
    )
    return estimate, float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975)), False


def _levels_figure(runs: list[Run], means: dict[str, dict[int, Cell]]) -> bytes:
    series = {run.label: {f"L{lv}": cell for lv, cell in means[run.label].items()} for run in runs}
    return grouped_bars(
        series,
        [f"L{lv}" for lv in LEVELS],
        ylabel="success rate (%)",
        title="Success rate by level (unweighted task mean, 95% interval)",
    )


def _offline_figure(runs: list[Run], cells: dict[str, dict[tuple[str, str], Cell]]) -> bytes:
    found = {t for label in cells for t, _ in cells[label] if t != "all"}
    tasks = [*sorted(found, key=task_number), "all"]
    series = {
        run.label: {t: c for (t, m), c in cells[run.label].items() if m == "accuracy"}
        for run in runs
    }
    return grouped_bars(
        series,
        tasks,
        ylabel="per-axis accuracy (%)",
        title="Teacher-forced accuracy per task (95% bootstrap interval)",
    )


def write_report(report: Report, out: Path) -> Path:
    """Write report.md, report.csv, report.tex (when online) and the PNG figures into `out`."""
    buffer = io.StringIO()
    fields = [
        "run",
        "task",
        "level",
        "metric",
        "value",
        "low",
        "high",
        "episodes",
        "baseline",
        "p_value",
        "paired",
    ]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.csv_rows)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in report.figures.items():
        atomic_write_bytes(out / name, data)
    if report.latex:
        atomic_write_text(out / "report.tex", "\n".join(report.latex))
    atomic_write_text(out / "report.csv", buffer.getvalue())
    figures = "".join(f"![{name}]({name})\n" for name in report.figures)
    atomic_write_text(out / "report.md", "\n".join(report.markdown) + "\n" + figures)
    return out
