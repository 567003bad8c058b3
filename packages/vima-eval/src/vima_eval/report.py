"""`vima-eval report`: paper-style tables and figures from per-episode result tables.

Online results give success rates per task and level (L1-L4) with Wilson intervals and the
paper's level averages (unweighted means over the level's tasks, with a normal interval from
the tasks' Wilson intervals); offline results give teacher-forced accuracies per task with
bootstrap intervals over episodes. Only episodes the perturbation changed (`applies`) are
scored unless `include_unchanged`; a task without any is left out, as CoGeLoT's tables leave
it blank. Against a baseline (another result, or the built-in VIMA-200M row) every cell
gets a difference with a 95% interval and a p-value: paired (exact McNemar) when both runs
evaluated exactly the same episodes, otherwise Newcombe's interval and Fisher's exact test.
Everything is computed before the first file is written; files are written atomically.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vima_schema.atomic import atomic_write_bytes, atomic_write_text

from vima_eval.figures import grouped_bars
from vima_eval.paper_table import paper_csv, paper_latex, paper_markdown, paper_rows
from vima_eval.reference import PUBLISHED_CAVEAT
from vima_eval.rendering import (
    LATEX_RULE,
    ci,
    csv_cell,
    latex_escape,
    latex_tabular,
    offline_csv,
    offline_figure,
    offline_markdown,
    pct,
)
from vima_eval.results import LEVELS, OFFLINE, ONLINE, RESULTS_FILE
from vima_eval.runs import Run, builtin_run, load_runs, task_number
from vima_eval.scoring import (
    Cell,
    compare_cells,
    level_difference,
    level_means,
    offline_cells,
    offline_difference,
    success_cells,
)
from vima_eval.statistics import Difference


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


def build_report(
    runs: list[Run], baseline: Run | None, resamples: int = 1000, include_unchanged: bool = False
) -> Report:
    """Tables and figures for `runs` (and the baseline), rendered in memory; scored over the
    episodes each perturbation changed unless `include_unchanged`."""
    for run in [*runs, *([baseline] if baseline is not None else [])]:
        run.include_unchanged = include_unchanged
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
        rows = paper_rows(online)
        if rows:
            report.markdown += paper_markdown(rows, include_unchanged)
            report.csv_rows += paper_csv(rows)
            report.latex.append(paper_latex(rows))
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
        "Level average = unweighted mean over the level's tasks (as in the paper), counting "
        "only episodes the perturbation changed unless --include-unchanged; 95% intervals: "
        "normal, with each task's variance read off its Wilson interval; (tasks averaged).\n"
    )
    md.append("| run | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |")
    md.append("|---|" + "---|" * len(LEVELS))
    for run in runs:
        row = [_level(means[run.label][lv]) if lv in means[run.label] else "" for lv in LEVELS]
        md.append(f"| {run.label} | " + " | ".join(row) + " |")
    md.append("")
    for run in runs:
        md.append(f"## {run.label}: success rate (%) per task\n")
        md.append(
            "Cells: rate [Wilson 95% interval] (episodes).\n"
            if run.reference is None
            else f"Published values (no episode counts, so no intervals). {PUBLISHED_CAVEAT}\n"
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
                    else pct(cell.rate) + ci(cell) + (f" ({cell.n})" if cell.n else "")
                )
            md.append(f"| T{task_number(task)} {task} | " + " | ".join(row) + " |")
        mean_row = [
            pct(means[run.label][lv].rate) if lv in means[run.label] else "" for lv in LEVELS
        ]
        md.append("| **level average** | " + " | ".join(mean_row) + " |\n")
        for (task, lv), cell in sorted(
            own.items(), key=lambda kv: (task_number(kv[0][0]), kv[0][1])
        ):
            report.csv_rows.append(csv_cell(run.label, task, lv, "success", cell))
        for lv, cell in means[run.label].items():
            report.csv_rows.append(csv_cell(run.label, "level_average", lv, "success", cell))
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
        row = [pct(means[lv].rate) + ci(means[lv]) if lv in means else "" for lv in LEVELS]
        md.append(f"| {run.label} | " + " | ".join(row) + " |")
        for (task, lv), cell in cells.items():
            report.csv_rows.append(csv_cell(run.label, task, lv, "success_strict", cell))
        for lv, cell in means.items():
            report.csv_rows.append(csv_cell(run.label, "level_average", lv, "success_strict", cell))
    md.append("")


def _online_differences(
    report: Report, runs: list[Run], baseline: Run, cells: dict[str, dict[tuple[str, int], Cell]]
) -> None:
    md = report.markdown
    for run in runs:
        diffs = compare_cells(run, baseline)
        indicative = baseline.reference is not None
        md.append(f"## {run.label} minus {baseline.label} (percentage points)\n")
        md.append(
            "Cells: difference [95% interval] p; paired = exact McNemar on the same "
            "episodes, otherwise Newcombe interval and Fisher's exact test (against a "
            "published row: the published rate is taken as fixed). TOST = p of equivalence "
            "within +/-10 points (two one-sided tests on the same interval method); "
            "**equivalent** only where TOST < 0.05: a p >= 0.05 alone means no difference "
            "was detected, not that the two agree.\n"
        )
        if indicative:
            md.append(f"**Indicative only.** {PUBLISHED_CAVEAT}\n")
        md.append("| task | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |")
        md.append("|---|" + "---|" * len(LEVELS))
        for task in _tasks(cells[run.label]):
            row = []
            for lv in LEVELS:
                diff = diffs.get((task, lv))
                row.append("" if diff is None else _diff_text(diff, indicative))
                if diff is not None:
                    report.csv_rows.append(
                        _csv_diff(run.label, baseline.label, task, lv, diff, indicative)
                    )
            md.append(f"| T{task_number(task)} {task} | " + " | ".join(row) + " |")
        row = []
        for lv in LEVELS:
            diff = level_difference(diffs, lv)
            row.append("" if diff is None else _diff_text(diff, indicative))
            if diff is not None:
                report.csv_rows.append(
                    _csv_diff(run.label, baseline.label, "level_average", lv, diff, indicative)
                )
        md.append("| **level average** | " + " | ".join(row) + " |\n")


def _level(cell: Cell) -> str:
    """A level average with its interval and, for runs with episodes, the tasks averaged."""
    return pct(cell.rate) + ci(cell) + (f" ({cell.tasks} tasks)" if cell.n else "")


def _diff_text(diff: Difference, indicative: bool = False) -> str:
    sign = "+" if diff.estimate >= 0 else ""
    paired = ", paired" if diff.paired else ""
    note = ", indicative" if indicative else ""
    tost = f" TOST={diff.equivalence_p:.2g}" + (" **equivalent**" if diff.equivalent else "")
    return f"{sign}{pct(diff.estimate)}{ci(diff)} p={diff.p_value:.3g}{paired}{tost}{note}"


def _csv_diff(
    run: str, base: str, task: str, level: int, diff: Difference, indicative: bool = False
) -> dict[str, Any]:
    return {
        "run": run,
        "task": task,
        "level": level,
        "metric": "success_difference",
        "value": diff.estimate,
        "low": diff.low,
        "high": diff.high,
        "episodes": diff.n,
        "tasks": "",
        "baseline": base,
        "p_value": diff.p_value,
        "equivalence_p": diff.equivalence_p,
        "paired": diff.paired,
        "indicative": indicative,
    }


def _latex_levels(runs: list[Run], means: dict[str, dict[int, Cell]]) -> str:
    rows = [
        [latex_escape(run.label)]
        + [pct(means[run.label][lv].rate) if lv in means[run.label] else "--" for lv in LEVELS]
        for run in runs
    ]
    header = ["Run", *(f"L{lv}" for lv in LEVELS)]
    return latex_tabular("vima-eval report: success rate (%) by level (unweighted task means)",
                         header, rows)  # fmt: skip


def _latex_tasks(label: str, cells: dict[tuple[str, int], Cell], means: dict[int, Cell]) -> str:
    rows: list[list[str] | str] = [
        [latex_escape(f"T{task_number(task)} {task}")]
        + [pct(cells[task, lv].rate) if (task, lv) in cells else "--" for lv in LEVELS]
        for task in _tasks(cells)
    ]
    rows += [LATEX_RULE, ["Average", *(pct(means[lv].rate) if lv in means else "--"
                                       for lv in LEVELS)]]  # fmt: skip
    header = ["Task", *(f"L{lv}" for lv in LEVELS)]
    return latex_tabular(f"{label}: success rate (%) per task and level", header, rows)


def _offline_section(report: Report, runs: list[Run], baseline: Run | None, resamples: int) -> None:
    cells = {run.label: offline_cells(run, resamples) for run in runs}
    report.markdown += offline_markdown(runs, cells)
    report.csv_rows += offline_csv(runs, cells)
    md = report.markdown
    if baseline is not None:
        md.append(f"### Difference in pooled accuracy against {baseline.label}\n")
        md.append(
            "| run | accuracy difference (points) | 95% interval (paired bootstrap "
            "when the baseline ran the same episodes) |"
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
    report.figures["offline.png"] = offline_figure(runs, cells)


def _levels_figure(runs: list[Run], means: dict[str, dict[int, Cell]]) -> bytes:
    series = {run.label: {f"L{lv}": cell for lv, cell in means[run.label].items()} for run in runs}
    return grouped_bars(
        series,
        [f"L{lv}" for lv in LEVELS],
        ylabel="success rate (%)",
        title="Success rate by level (unweighted task mean, 95% interval)",
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
        "tasks",
        "baseline",
        "p_value",
        "equivalence_p",
        "paired",
        "indicative",
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


def write_run_report(folder: Path) -> Path | None:
    """`report/` of an online run folder (its result table against VIMA-200M's published row,
    no bootstrap); None when the folder holds no results yet."""
    if not (folder / RESULTS_FILE).is_file():
        return None
    return write_report(build_report(load_runs([folder]), None, resamples=0), folder / "report")
