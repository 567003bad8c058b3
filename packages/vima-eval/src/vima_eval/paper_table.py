"""The paper table: online runs laid out as the CoGeLoT paper lays out its robustness results.

One row per (checkpoint, difficulty, perturbation), one column per level: the level average of
success over the tasks the perturbation changed (with its interval and task count), and its
difference from `noop` of the same checkpoint on identical scenes (the same episode keys, so
the same seeds): per task a paired difference, per level their mean. Rendered as markdown,
CSV rows and a LaTeX tabular.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vima_schema.perturbations import PERTURBATIONS

from vima_eval.rendering import latex_escape, latex_tabular, pct
from vima_eval.results import LEVELS
from vima_eval.runs import Run
from vima_eval.scoring import Cell, level_difference, level_means, success_cells
from vima_eval.statistics import Difference, paired_difference


@dataclass(frozen=True)
class PaperRow:
    """One line of the paper table."""

    checkpoint: str
    perturbation: str
    levels: dict[int, Cell]
    differences: dict[int, Difference]  # from noop on identical scenes (none for noop)


def same_scene_differences(run: Run, noop: Run) -> dict[tuple[str, int], Difference]:
    """Per (task, level): the paired difference run - noop over the episodes both ran."""
    theirs = noop.cells()
    out = {}
    for key, rows in run.cells().items():
        base = {r["episode"]: bool(r["success"]) for r in theirs.get(key, [])}
        ours = {r["episode"]: bool(r["success"]) for r in rows}
        shared = sorted(ours.keys() & base.keys())
        if shared:
            out[key] = paired_difference([ours[k] for k in shared], [base[k] for k in shared])
    return out


def paper_rows(runs: Sequence[Run]) -> list[PaperRow]:
    """The rows of every online run with episodes, perturbations in the registry's order."""
    groups: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        if run.reference is None and run.rows:
            first = run.rows[0]
            source = f" [{run.source}]" if run.source else ""
            key = (first["checkpoint"] + source, first["difficulty"])
            groups.setdefault(key, {})[run.perturbation] = run
    order = {name: i for i, name in enumerate(PERTURBATIONS)}
    rows = []
    for (checkpoint, difficulty), by_name in groups.items():
        noop = by_name.get("noop")
        label = checkpoint if difficulty == "easy" else f"{checkpoint} / {difficulty}"
        for name in sorted(by_name, key=lambda n: (order.get(n, len(order)), n)):
            run = by_name[name]
            diffs: dict[int, Difference] = {}
            if noop is not None and run is not noop:
                per_task = same_scene_differences(run, noop)
                found = {lv: level_difference(per_task, lv) for lv in LEVELS}
                diffs = {lv: d for lv, d in found.items() if d is not None}
            rows.append(PaperRow(label, name, level_means(success_cells(run)), diffs))
    return rows


def _success(cell: Cell) -> str:
    return f"{pct(cell.rate)} [{pct(cell.low)}, {pct(cell.high)}] ({cell.tasks})"


def _difference(diff: Difference) -> str:
    sign = "+" if diff.estimate >= 0 else ""
    return f"{sign}{pct(diff.estimate)} [{pct(diff.low)}, {pct(diff.high)}]"


def paper_markdown(rows: Sequence[PaperRow], include_unchanged: bool) -> list[str]:
    """The markdown section: success per level, then the difference from noop."""
    scope = "every episode" if include_unchanged else "the tasks each perturbation changes"
    lines = [
        "## Paper table: success (%) by perturbation and level\n",
        f"Level average over {scope} [95% interval] (tasks averaged); the difference from "
        "noop pairs the same episodes (identical scenes) per task, then averages the tasks.\n",
        "| checkpoint | perturbation | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |",
        "|---|---|" + "---|" * len(LEVELS),
    ]
    for row in rows:
        cells = [_success(row.levels[lv]) if lv in row.levels else "" for lv in LEVELS]
        lines.append(f"| {row.checkpoint} | {row.perturbation} | " + " | ".join(cells) + " |")
    if not any(row.differences for row in rows):
        return [*lines, "", "No perturbation other than noop: no differences to show.", ""]
    lines += [
        "",
        "### Difference from noop on identical scenes (percentage points)\n",
        "| checkpoint | perturbation | " + " | ".join(f"L{lv}" for lv in LEVELS) + " |",
        "|---|---|" + "---|" * len(LEVELS),
    ]
    for row in rows:
        if row.differences:
            cells = [_difference(row.differences[lv]) if lv in row.differences else ""
                     for lv in LEVELS]  # fmt: skip
            lines.append(f"| {row.checkpoint} | {row.perturbation} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def paper_csv(rows: Sequence[PaperRow]) -> list[dict[str, Any]]:
    """CSV rows (`paper_success`, `paper_difference_from_noop`) in report.csv's columns."""
    out = []
    for row in rows:
        run = f"{row.checkpoint} / {row.perturbation}"
        for lv, cell in row.levels.items():
            out.append({"run": run, "task": "level_average", "level": lv,
                        "metric": "paper_success", "value": cell.rate, "low": cell.low,
                        "high": cell.high, "episodes": cell.n, "tasks": cell.tasks,
                        "baseline": "", "p_value": "", "paired": "",
                        "indicative": ""})  # fmt: skip
        for lv, diff in row.differences.items():
            out.append({"run": run, "task": "level_average", "level": lv,
                        "metric": "paper_difference_from_noop", "value": diff.estimate,
                        "low": diff.low, "high": diff.high, "episodes": "", "tasks": diff.n,
                        "baseline": f"{row.checkpoint} / noop", "p_value": diff.p_value,
                        "equivalence_p": diff.equivalence_p, "paired": diff.paired,
                        "indicative": False})  # fmt: skip
    return out


def paper_latex(rows: Sequence[PaperRow]) -> str:
    """A LaTeX tabular: per level the success and, in parentheses, the difference from noop."""
    lines = []
    for row in rows:
        values = []
        for lv in LEVELS:
            text = pct(row.levels[lv].rate) if lv in row.levels else "--"
            if lv in row.differences:
                text += f" ({row.differences[lv].estimate * 100:+.1f})"
            values.append(text)
        lines.append([latex_escape(row.checkpoint), latex_escape(row.perturbation), *values])
    header = ["Checkpoint", "Perturbation", *(f"L{lv}" for lv in LEVELS)]
    comment = "vima-eval report: paper table, success (%) and difference from noop (points)"
    return latex_tabular(comment, header, lines, left=2)
