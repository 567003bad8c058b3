"""EXPERIMENTS.md's, TRAINING.md's and SIMULATOR.md's experiment tables (T1, six tasks), made
from the JSON lines that scripts/experiments/record_results.py writes (docs/measurements/t1.jsonl
and six-tasks.jsonl; loaded by scripts/document_tables.py). Intervals, paired differences and
equivalence tests are vima-eval's own (vima_eval.statistics).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vima_eval.statistics import Difference, paired_difference, wilson_interval
from vima_schema.enums import Task

sys.path.insert(0, str(Path(__file__).parent))  # the scripts beside this one
from bench_tables import table  # one markdown-table writer for both modules

MEASUREMENTS = Path(__file__).resolve().parents[1] / "docs" / "measurements"
T1 = MEASUREMENTS / "t1.jsonl"
SIX = MEASUREMENTS / "six-tasks.jsonl"
#: The six tasks of issue 17's experiment, in the order of its tables.
SIX_TASKS = ("visual_manipulation", "rotate", "novel_noun", "follow_order", "same_shape",
             "manipulate_old_neighbor")  # fmt: skip
#: The instruction perturbations of the T1 study, in the order of its table.
PERTURBATIONS = ("noop", "reworded", "gobbledygook_word", "gobbledygook_tokens", "textual",
                 "mask_text", "shuffle_objects")  # fmt: skip


@dataclass(frozen=True)
class Experiment:
    """One recorded experiment: its `experiment` line, cells and validations."""

    label: str
    head: dict[str, Any]
    cells: list[dict[str, Any]]
    validation: list[dict[str, Any]]

    def cell(self, level: int, perturbation: str = "noop", env: str = "builtin",
             task: str = "visual_manipulation") -> dict | None:  # fmt: skip
        """The cell of `task`, `level` and `perturbation` in `env`, if recorded."""
        wanted = (task, level, perturbation, env)
        found = [c for c in self.cells
                 if (c["task"], c["level"], c["perturbation"], c["env"]) == wanted]  # fmt: skip
        if len(found) > 1:
            raise ValueError(f"{self.label}: {len(found)} cells of L{level} {perturbation} {env}")
        return found[0] if found else None

    def levels(self, env: str = "builtin") -> list[int]:
        """The levels with a recorded cell in `env`."""
        return sorted({c["level"] for c in self.cells if c["env"] == env})


class NotRecorded(LookupError):
    """Experiments a record does not hold (yet): `args` = (their labels, the record)."""


def experiments(record: Path = T1) -> dict[str, Experiment]:
    """The experiments of a record, by label (none when the record does not exist)."""
    lines = (
        [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    )
    out = {}
    for head in (line for line in lines if line["kind"] == "experiment"):
        label = head["experiment"]
        mine = [line for line in lines if line["experiment"] == label]
        out[label] = Experiment(
            label,
            head,
            [line for line in mine if line["kind"] == "cell"],
            [line for line in mine if line["kind"] == "validation"],
        )
    return out


def recorded(labels: Sequence[str], record: Path = T1) -> dict[str, Experiment]:
    """The experiments `labels` of a record; NotRecorded naming those it lacks."""
    found = experiments(record)
    missing = [label for label in labels if label not in found]
    if missing:
        raise NotRecorded(", ".join(f"`{label}`" for label in missing), record)
    return {label: found[label] for label in labels}


def pending(table: Callable[..., str]) -> Callable[..., str]:
    """`table`, or a line saying which of its experiments are not recorded yet."""

    @functools.wraps(table)
    def made(*args: Any, **kwargs: Any) -> str:
        try:
            return table(*args, **kwargs)
        except NotRecorded as missing:
            labels, record = missing.args
            return (f"*Not recorded yet: `docs/measurements/{record.name}` has no {labels}; "
                    "the commands beside this table record it, then "
                    "scripts/document_tables.py writes this table.*\n")  # fmt: skip

    return made


def percent(value: float) -> str:
    """A percentage as the documents print it: whole numbers bare, else one decimal."""
    text = f"{100 * value:.1f}"
    return text.removesuffix(".0")


def success(cell: dict[str, Any] | None, interval: bool = True) -> str:
    """`s/n = r % [low, high]` (Wilson 95 %) of a cell, or a dash when not measured."""
    if cell is None:
        return "—"
    wins, n = cell["successes"], cell["episodes"]
    low, high = wilson_interval(wins, n)
    bounds = f" [{100 * low:.1f}, {100 * high:.1f}]" if interval else ""
    return f"{wins}/{n} = {percent(wins / n)} %{bounds}"


def source(*labels: str, record: Path = T1) -> str:
    """The line under a table: the record, the experiments, when and from which commit."""
    found = recorded(labels, record)
    parts = [f"`{label}` ({found[label].head['recorded']}, code at "
             f"{found[label].head['commit']})" for label in labels]  # fmt: skip
    return (f"\n*Generated by scripts/document_tables.py from `docs/measurements/{record.name}`: "
            f"{', '.join(parts)}; each experiment's command is in the record.*\n")  # fmt: skip


@pending
def levels_table(label: str, record: Path = T1) -> str:
    """Success per level of one policy, with the object order shuffled at evaluation beside."""
    run = recorded([label], record)[label]
    rows = [[f"L{level}", success(run.cell(level)), success(run.cell(level, "shuffle_objects"))]
            for level in run.levels()]  # fmt: skip
    first = run.cells[0]
    header = [f"level ({first['episodes']} unseen scenes, seed {first['seed']})",
              "success [Wilson 95 %]", "same scenes, object order shuffled"]  # fmt: skip
    return table(header, rows, "lrr") + training(run) + source(label, record=record)


def training(run: Experiment) -> str:
    """A line with the run's training steps and wall time (and the load it ran under)."""
    seconds = run.head.get("train_seconds")
    if seconds is None or "checkpoint_step" not in run.head:
        return ""
    loads = "; ".join(run.head.get("load_averages", []))
    return (f"\nTraining: {run.head['checkpoint_step']:,} optimiser steps in {seconds:,.0f} s "
            f"of wall time on the shared 2-core machine (1/5/15-minute load averages at the "
            f"stamps of its log: {loads}).\n")  # fmt: skip


@pending
def perturbations_table(label: str, record: Path = T1) -> str:
    """Success on L1 under each instruction perturbation of the study (those recorded)."""
    run = recorded([label], record)[label]
    rows = [[f"`{name}`", success(run.cell(1, name))] for name in PERTURBATIONS
            if run.cell(1, name) is not None]  # fmt: skip
    scenes = f"perturbation (same {run.cells[0]['episodes']} L1 scenes)"
    return table([scenes, "success [Wilson 95 %]"], rows, "lr") + (source(label, record=record))


@pending
def shuffle_table(labels: Sequence[str] = ("t1-shuffle", "t1-shuffle-4500"),
                  record: Path = T1) -> str:  # fmt: skip
    """Policies trained with shuffled objects: L1 with and without the shuffle at evaluation,
    L2 and L3."""
    found = recorded(labels, record)
    rows = []
    for label in labels:
        run = found[label]
        rows.append([f"`{label}`, {run.head['checkpoint_step']:,} steps",
                     success(run.cell(1)), success(run.cell(1, "shuffle_objects")),
                     success(run.cell(2)), success(run.cell(3))])  # fmt: skip
    header = ["run", "L1 success [Wilson 95 %]", "L1, object order shuffled", "L2", "L3"]
    return table(header, rows, "lrrrr") + source(*labels, record=record)


@pending
def validation_table(labels: Sequence[str], steps: Sequence[int], record: Path = T1) -> str:
    """Validation pick / place error (cm) and pick / place object choice at the given steps
    (the nearest validation at or after each) of recorded training runs."""
    found = recorded(labels, record)
    rows = []
    for label in labels:
        curve = found[label].validation
        picked = [next((row for row in curve if row["step"] >= step), None) for step in steps]
        rows.append([f"`{label}`"] + [
            "—" if row is None else
            f"{row['step']:,}: {row['val/pick/error_cm']:.1f} / {row['val/place/error_cm']:.1f}"
            f" cm, {row['val/pick/object_acc']:.2f} / {row['val/place/object_acc']:.2f}"
            for row in picked
        ])  # fmt: skip
    header = ["run"] + [f"step ≥ {step:,}" for step in steps]
    return table(header, rows, "l" + "r" * len(steps)) + source(*labels, record=record)


def paired(a: dict[str, Any], b: dict[str, Any]) -> Difference:
    """a - b over the same episodes (same checkpoint, seed, level and episode numbers)."""
    same = ("checkpoint", "seed", "task", "level", "perturbation", "first_episode", "episodes")
    if [a[k] for k in same] != [b[k] for k in same]:
        raise ValueError(f"cells of different episodes: {[a[k] for k in same]} vs "
                         f"{[b[k] for k in same]}")  # fmt: skip
    return paired_difference([c == "1" for c in a["outcomes"]], [c == "1" for c in b["outcomes"]])


@pending
def simulators_table(builtin: str = "t1-match", bench: str = "t1-match-vima-bench",
                     record: Path = T1) -> str:  # fmt: skip
    """The same policy on the same episodes in vima-sim and in VIMA-Bench: success per level,
    the paired difference (vima-sim minus VIMA-Bench, Newcombe's paired 95 % interval, exact
    McNemar p), episodes with the same outcome, and the TOST of equivalence within +/-10
    points with its verdict."""
    found = recorded([builtin, bench], record)
    ours, theirs = found[builtin], found[bench]
    rows = []
    for level in theirs.levels("vima-bench"):
        a, b = ours.cell(level), theirs.cell(level, env="vima-bench")
        if a is None or b is None:
            raise ValueError(f"L{level}: no vima-sim cell to pair with VIMA-Bench's")
        diff = paired(a, b)
        same = sum(x == y for x, y in zip(a["outcomes"], b["outcomes"], strict=True))
        sign = "+" if diff.estimate >= 0 else ""
        rows.append([
            f"visual_manipulation, L{level}",
            f"{success(a)} ({a['steps'] / a['episodes']:.2f} actions)",
            f"{success(b)} ({b['steps'] / b['episodes']:.2f})",
            f"{sign}{percent(diff.estimate)} [{100 * diff.low:.1f}, {100 * diff.high:.1f}], "
            f"p = {diff.p_value:.2g}",
            f"{same} / {a['episodes']}",
            f"{'shown' if diff.equivalent else 'not shown'}, p = {diff.equivalence_p:.2g}",
        ])  # fmt: skip
    header = ["task, level", "vima-sim", "VIMA-Bench upstream",
              "difference [95 %], paired McNemar p", "same outcome per seed",
              "equivalence within ±10 points (paired TOST, 5 %)"]  # fmt: skip
    return table(header, rows, "lrrrrr") + source(builtin, bench, record=record)


def applicable_successes(cell: dict[str, Any]) -> tuple[int, int]:
    """(successes, episodes) over the episodes the perturbation changed (`applies`)."""
    unchanged = set(cell["unchanged"])
    kept = [outcome for number, outcome in enumerate(cell["outcomes"], cell["first_episode"])
            if number not in unchanged]  # fmt: skip
    return kept.count("1"), len(kept)


@pending
def six_levels_table(label: str, record: Path = SIX) -> str:
    """Success per task and level of a six-task policy (noop), and the mean per level."""
    run = recorded([label], record)[label]
    levels = run.levels()
    rows, means = [], {level: [] for level in levels}
    for task in SIX_TASKS:
        cells = [run.cell(level, task=task) for level in levels]
        for level, cell in zip(levels, cells, strict=True):
            if cell is not None:
                means[level].append(cell["successes"] / cell["episodes"])
        rows.append([task, *(success(cell) for cell in cells)])
    rows.append(["**mean**", *(f"**{percent(sum(v) / len(v))} %**" if len(v) == len(SIX_TASKS)
                               else "—" for v in means.values())])  # fmt: skip
    first = run.cells[0]
    header = [f"task ({first['episodes']} unseen scenes per level, seed {first['seed']})",
              *(f"L{level}" for level in levels)]  # fmt: skip
    return (table(header, rows, "l" + "r" * len(levels)) + training(run)
            + source(label, record=record))  # fmt: skip


@pending
def six_study_table(label: str, record: Path = SIX) -> str:
    """A six-task policy on identical L1 scenes under each instruction perturbation (the study,
    recorded under its own label): successes over the episodes the perturbation changed (a
    dash where it changes none)."""
    run = recorded([label], record)[label]
    names = [name for name in PERTURBATIONS if run.cell(1, name, task=SIX_TASKS[0]) is not None]
    totals = {name: [0, 0] for name in names}
    rows = []
    for task in SIX_TASKS:
        row = [task]
        for name in names:
            cell = run.cell(1, name, task=task)
            wins, n = applicable_successes(cell) if cell else (0, 0)
            totals[name][0] += wins
            totals[name][1] += n
            row.append(f"{wins}/{n}" if n else "—")
        rows.append(row)
    rows.append(["**all six**", *(f"**{w}/{n}**" for w, n in totals.values())])
    header = [f"task ({run.cells[0]['episodes']} identical L1 scenes)", *names]
    return table(header, rows, "l" + "r" * len(names)) + source(label, record=record)


HARNESS = MEASUREMENTS / "oracle-harness.jsonl"
#: The backends of SIMULATOR.md's oracle comparison: record label -> column.
HARNESS_BACKENDS = {"vima-sim": "vima-sim", "upstream": "VIMA-Bench upstream",
                    "cogelot": "VIMA-Bench, CoGeLoT's copy"}  # fmt: skip


@pending
def oracle_harness_table(record: Path = HARNESS) -> str:
    """The oracle through vima-eval's harness in each recorded backend on the same episode seeds
    (L1, easy): successes / episodes and mean actions per task (vima-sim and upstream VIMA-Bench
    required, CoGeLoT's copy shown once recorded)."""
    recorded(["vima-sim", "upstream"], record)
    found = {label: run for label, run in experiments(record).items() if label in HARNESS_BACKENDS}
    tasks = sorted({c["task"] for run in found.values() for c in run.cells},
                   key=lambda name: Task[name].value)  # fmt: skip
    rows, totals = [], {label: [0, 0] for label in found}
    for task in tasks:
        row = [task]
        for label, run in found.items():
            cell = run.cell(1, env=run.cells[0]["env"], task=task)
            if cell is None:
                row.append("—")
                continue
            totals[label][0] += cell["successes"]
            totals[label][1] += cell["episodes"]
            row.append(f"{cell['successes']}/{cell['episodes']} "
                       f"({cell['steps'] / cell['episodes']:.1f})")  # fmt: skip
        rows.append(row)
    rows.append(["**all**", *(f"**{w}/{n}**" for w, n in totals.values())])
    header = ["task", *(f"{HARNESS_BACKENDS[label]}: successes (mean actions)" for label in found)]
    return table(header, rows, "l" + "r" * len(found)) + source(*found, record=record)


SCENES = MEASUREMENTS / "scenes-upstream-L1.jsonl"


def scenes_table(record: Path = SCENES) -> str:
    """SIMULATOR.md's scene comparison of vima-sim and upstream VIMA-Bench on the same seeds:
    scripts/vima-bench/compare_scenes.py's own summary of its recorded scenes.jsonl."""
    if not record.exists():
        return (f"*Not recorded yet: `docs/measurements/{record.name}` does not exist; the "
                "commands beside this table record it, then scripts/document_tables.py writes "
                "this table.*\n")  # fmt: skip
    sys.path.insert(0, str(Path(__file__).with_name("vima-bench")))
    import compare_scenes  # scripts/vima-bench/compare_scenes.py: the summary is its own

    return compare_scenes.summarise(record) + (
        f"\n*Generated by scripts/document_tables.py from `docs/measurements/{record.name}` "
        "(compare_scenes.py's records, copied).*\n"
    )
