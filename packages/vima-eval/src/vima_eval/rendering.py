"""Rendering shared by `vima-eval report` and `vima-eval offline`: number formats, CSV rows,
LaTeX escaping, and the offline (teacher-forced) table and figure, so that `metrics.md` and
`report.md` print the same numbers for the same run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from vima_eval.figures import grouped_bars
from vima_eval.runs import Run, task_number
from vima_eval.scoring import OFFLINE_METRICS, Cell
from vima_eval.statistics import Difference

OFFLINE_NOTE = (
    "accuracy = pooled per-axis accuracy (padding excluded); all axes = share of timesteps "
    "with every axis right; loss = mean per-axis cross-entropy per timestep. 95% percentile "
    "bootstrap intervals over episodes (none from a single episode), for the two accuracies "
    "widened to cover the Wilson interval of the pooled counts."
)


def pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.1f}"


def ci(cell: Cell | Difference) -> str:
    if math.isnan(cell.low):
        return ""
    return f" [{pct(cell.low)}, {pct(cell.high)}]"


def csv_cell(run: str, task: str, level: int | str, metric: str, cell: Cell) -> dict[str, Any]:
    """A report.csv row of one cell (no interval: empty low and high)."""
    return {
        "run": run,
        "task": task,
        "level": level,
        "metric": metric,
        "value": cell.rate,
        "low": "" if math.isnan(cell.low) else cell.low,
        "high": "" if math.isnan(cell.high) else cell.high,
        "episodes": cell.n,
        "tasks": cell.tasks or "",
        "baseline": "",
        "p_value": "",
        "paired": "",
        "indicative": "",
    }


def latex_escape(text: str) -> str:
    """`text` safe in LaTeX (backslash, underscore, %, &, #, $)."""
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


LATEX_RULE = "\\midrule"


def latex_tabular(
    comment: str, header: list[str], rows: Sequence[list[str] | str], left: int = 1
) -> str:
    """A booktabs tabular: `left` left-aligned columns, the rest right-aligned; cells as given
    (escape them first), a `LATEX_RULE` row as a rule, `comment` as a leading % line."""
    columns = "l" * left + "r" * (len(header) - left)
    lines = [f"% {comment}", f"\\begin{{tabular}}{{{columns}}}", "\\toprule",
             " & ".join(header) + " \\\\", "\\midrule"]  # fmt: skip
    lines += [row if isinstance(row, str) else " & ".join(row) + " \\\\" for row in rows]
    return "\n".join([*lines, "\\bottomrule", "\\end{tabular}", ""])


OfflineCells = dict[str, dict[tuple[str, str], Cell]]


def offline_markdown(runs: list[Run], cells: OfflineCells) -> list[str]:
    """The offline table: per run and task the three metrics with their intervals."""
    lines = [
        "## Offline (teacher-forced) metrics\n",
        OFFLINE_NOTE + "\n",
        "| run | task | episodes | accuracy (%) | all axes (%) | loss |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        own = cells[run.label]
        tasks = [*sorted({t for t, _ in own if t != "all"}, key=task_number), "all"]
        for task in tasks:
            acc, every, loss = (own[task, m] for m in OFFLINE_METRICS)
            lines.append(
                f"| {run.label} | {task} | {acc.n} | {pct(acc.rate)}{ci(acc)} | "
                f"{pct(every.rate)}{ci(every)} | {loss.rate:.3f}{_loss_interval(loss)} |"
            )
    return [*lines, ""]


def _loss_interval(cell: Cell) -> str:
    return "" if math.isnan(cell.low) else f" [{cell.low:.3f}, {cell.high:.3f}]"


def offline_csv(runs: list[Run], cells: OfflineCells) -> list[dict[str, Any]]:
    """report.csv rows of the offline table."""
    return [
        csv_cell(run.label, task, 0, metric, cell)
        for run in runs
        for (task, metric), cell in cells[run.label].items()
    ]


def offline_figure(runs: list[Run], cells: OfflineCells) -> bytes:
    """Accuracy per task and run with the bootstrap intervals."""
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
