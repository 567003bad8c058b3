"""`vima-eval view`: result tables as a static episode site (vima_schema.site).

Every result row is a line of the index (failures first), filterable by task, level,
perturbation, success and checkpoint; rows of the same scene (episode and seed) from every run
given share one page, side by side. An episode recorded with `--record` shows its prompt as
the policy saw it (images inline, perturbation and prompt mask applied) beside the original,
the front and top frames of every step, each action and the oracle's action from the same
state drawn on the top view, and why it ended; others show their prompt text and outcome.
The index ends with the success table (successes / episodes per task and level, per run).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vima_schema.enums import Task
from vima_schema.runner import mark_work_started
from vima_schema.site import (
    Column,
    Marker,
    Page,
    Prompt,
    SiteWriter,
    Step,
    Take,
    check_output,
    slug,
    table_html,
)

from vima_eval.online.recording import RECORDING_FILE, recording_folder
from vima_eval.results import read_results
from vima_eval.runs import result_path

#: The line `vima-eval report --view` adds to report.md.
VIEW_LINK = (
    "[Browse the episodes](view/index.html): every episode, failures first (`vima-eval view`).\n"
)
COLUMNS = (
    Column("task", "task", facet=True),
    Column("level", "level", facet=True),
    Column("perturbation", "perturbation", facet=True),
    Column("checkpoint", "checkpoint", facet=True),
    Column("success", "success", facet=True),
    Column("ended", "ended", facet=True),
    Column("steps", "steps"),
    Column("episode", "episode"),
    Column("prompt", "prompt"),
)


@dataclass
class _Row:
    """A result row with the folder it came from and its run's label."""

    row: dict[str, Any]
    folder: Path
    label: str


def _label(row: dict[str, Any], source: str) -> str:
    text = f"{row['checkpoint']} / {row['perturbation']}"
    if row["difficulty"] != "easy":
        text += f" / {row['difficulty']}"
    return f"{text} [{source}]" if source else text


def load_rows(runs: Sequence[Path]) -> list[_Row]:
    """Every result row of `runs` (result folders or tables); runs of the same checkpoint and
    perturbation from different folders are told apart by the folder's name."""
    tables = [(path, read_results(result_path(path)).to_pylist()) for path in runs]
    seen: dict[tuple[str, str, str], set[Path]] = defaultdict(set)
    for path, rows in tables:
        for row in rows:
            seen[(row["checkpoint"], row["perturbation"], row["difficulty"])].add(path)
    out = []
    for path, rows in tables:
        folder = path if path.is_dir() else path.parent
        for row in rows:
            shared = len(seen[(row["checkpoint"], row["perturbation"], row["difficulty"])]) > 1
            out.append(_Row(row, folder, _label(row, folder.name if shared else "")))
    return out


def _recording(entry: _Row) -> tuple[Path, dict[str, Any]] | None:
    folder = recording_folder(entry.folder, entry.row["perturbation"], entry.row["episode"])
    try:
        document = json.loads((folder / RECORDING_FILE).read_text())
    except (OSError, ValueError):
        return None
    if document.get("seed") != entry.row["episode_seed"]:
        return None  # recorded by an earlier run on another scene
    return folder, document


def _ended(row: dict[str, Any], recorded: dict[str, Any] | None) -> str:
    if recorded is not None:
        return str(recorded["ended"])
    if row["success"] is None:
        return "offline"
    if row["success"]:
        return "success"
    return "failure" if row["failure"] else "no success"


def _outcome(row: dict[str, Any], ended: str, recorded: dict[str, Any] | None) -> str:
    if row["success"] is None:
        return f"offline: {row['axes_correct']}/{row['axes_total']} action axes correct"
    verdict = "success" if row["success"] else "failure"
    limit = f" of {recorded['limit']} allowed" if recorded is not None else ""
    why = {
        "success": "the task succeeded",
        "failure": "the task reported a failure",
        "time limit": "the step limit was reached",
        "no action": "the policy had no action",
        "arm timeout": "the arm timed out",
        "no success": "no success (not recorded: step limit or no action)",
    }.get(ended, ended)
    return f"{verdict} after {row['steps']} action(s){limit}: {why}"


def _take(site: SiteWriter, entry: _Row, run: int) -> tuple[Take, str]:
    """The take of a result row (its recording's media linked into the site) and why the
    episode ended."""
    row = entry.row
    found = _recording(entry)
    recorded = found[1] if found is not None else None
    ended = _ended(row, recorded)
    details = [
        ("checkpoint", row["checkpoint"]),
        ("perturbation", f"{row['perturbation']} (seed {row['seed']})"
         + ("" if row["applies"] else ", left the input unchanged")),
        ("level / difficulty", f"L{row['level']} / {row['difficulty']}"),
        ("episode seed", str(row["episode_seed"])),
        ("minimum steps", str(row["minimum_steps"])),
    ]  # fmt: skip
    take = Take(entry.label, _outcome(row, ended, recorded), row["success"],
                Prompt(row["prompt"] or ""), details=details,
                note="not recorded (run with --record K to see its frames)",
                prompt_caption="prompt as the policy saw it")  # fmt: skip
    if found is None:
        return take, ended
    folder, doc = found
    base = f"{run}/{row['perturbation']}/{folder.name}"

    def media(name: str) -> str:
        return site.media_file(f"{base}/{name}", folder / name)

    images = {name: media(views["front"]) for name, views in doc["assets"].items()}
    take.prompt = Prompt(doc["prompt"], images, doc["prompt_mask"])
    if doc["prompt"] != doc["original_prompt"] or doc["prompt_mask"] != "none":
        take.original = Prompt(doc["original_prompt"], images)
    actions, oracle = doc["actions"], doc["oracle"]
    for i, frame in enumerate(doc["frames"]):
        markers = []
        if i < len(oracle) and oracle[i] is not None:
            markers.append(Marker.of("oracle", oracle[i]))
        if i < len(actions) and actions[i] is not None:
            markers.append(Marker.of("action", actions[i]))
        take.steps.append(Step(media(frame["front"]), media(frame["top"]), markers))
    return take, ended


def _order(entry: _Row) -> tuple[Any, ...]:
    row = entry.row
    number = int(row["episode"].rsplit("/", 1)[-1]) if row["episode"][-1:].isdigit() else 0
    failed = row["success"] is not None and not row["success"]
    return (not failed, Task[row["task"]].value, row["level"], number, entry.label)


def _summary(entries: Sequence[_Row]) -> str:
    labels = list(dict.fromkeys(e.label for e in entries if e.row["success"] is not None))
    if not labels:
        return ""
    cells: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for entry in entries:
        row = entry.row
        if row["success"] is not None:
            for key in ((row["task"], row["level"], entry.label), ("all", 0, entry.label)):
                cells[key][0] += int(row["success"])
                cells[key][1] += 1
    keys = sorted({(t, lv) for t, lv, _ in cells if t != "all"},
                  key=lambda k: (k[1], Task[k[0]].value))  # fmt: skip
    rows = []
    for task, level in [*keys, ("all", 0)]:
        line: list[object] = [task, f"L{level}" if level else ""]
        for label in labels:
            wins, total = cells.get((task, level, label), (0, 0))
            line.append(f"{wins}/{total} ({100 * wins / total:.0f} %)" if total else "")
        rows.append(line)
    return table_html(["task", "level", *labels], rows, "Success (successes / episodes)")


def _index_row(row: dict[str, Any], ended: str, href: str) -> dict[str, Any]:
    success = row["success"]
    return {
        "task": row["task"],
        "level": f"L{row['level']}",
        "perturbation": row["perturbation"],
        "checkpoint": row["checkpoint"],
        "success": "" if success is None else ("yes" if success else "no"),
        "ended": ended,
        "steps": row["steps"],
        "episode": row["episode"],
        "prompt": row["prompt"],
        "href": href,
    }


def write_view(runs: Sequence[Path], out: Path, title: str = "VIMA evaluation") -> Path:
    """Write the episode site of the result tables `runs` into `out`; returns `out`."""
    entries = load_rows(runs)
    if not entries:
        raise ValueError("the result tables hold no episodes")
    check_output(out)
    mark_work_started()  # inputs accepted: a ValueError from here on is a bug (exit 3)
    entries.sort(key=_order)
    labels = {label: n for n, label in enumerate(dict.fromkeys(e.label for e in entries))}
    scenes: dict[tuple[str, str, Any], list[_Row]] = defaultdict(list)
    for entry in entries:
        row = entry.row
        scenes[(row["episode"], row["difficulty"], row["episode_seed"])].append(entry)
    index = []
    with SiteWriter(out, title) as site:
        for (episode, difficulty, seed), group in scenes.items():
            group.sort(key=lambda e: labels[e.label])
            made = [_take(site, entry, labels[entry.label]) for entry in group]
            name = slug(episode, difficulty, f"s{seed}")
            title = f"{episode} ({difficulty}, seed {seed})"
            href = site.page(Page(name, title, [take for take, _ in made]))
            for n, (entry, (_, ended)) in enumerate(zip(group, made, strict=True)):
                index.append((entry, _index_row(entry.row, ended, f"{href}#take-{n}")))
        index.sort(key=lambda item: _order(item[0]))
        meta = {"runs": [str(p) for p in runs]}
        return site.finish(COLUMNS, [r for _, r in index], summary=_summary(entries), meta=meta)
