"""The T1 tables of the documents come from recorded results (issue 27, item 1):
scripts/experiments/record_results.py keeps what `vima-eval online` measured, episode by
episode, and scripts/experiment_tables.py makes the tables from it with vima-eval's statistics."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from repo_scripts import load_script
from vima_eval.results import write_results
from vima_eval.statistics import paired_difference

ROOT = Path(__file__).resolve().parents[1]
RECORDER = load_script("scripts/experiments/record_results.py")
TABLES = load_script("scripts/document_tables.py")._script("experiment_tables")


def _folder(root: Path, env: str, outcomes: str, start: int = 0, level: int = 1) -> Path:
    """An online result folder: visual_manipulation episodes `start`... with these outcomes."""
    rows: list[dict[str, Any]] = [{
        "mode": "online", "checkpoint": "ckpt", "task": "visual_manipulation", "level": level,
        "difficulty": "easy", "perturbation": "noop", "seed": 2026,
        "episode": f"L{level}/visual_manipulation/{start + i}", "episode_seed": 7 + i,
        "applies": True, "success": won == "1", "failure": False, "steps": 1 + i % 2,
        "minimum_steps": 1, "time_s": 1.0,
    } for i, won in enumerate(outcomes)]  # fmt: skip
    folder = root / f"{env}-{start}"
    write_results(folder / "episodes.parquet", rows[::-1])  # stored out of order
    (folder / "metrics.json").write_text(json.dumps({"settings": {"env": env}}))
    return folder


def _record(tmp_path: Path, ours: str, theirs: str, start: int = 0) -> Path:
    record = tmp_path / "t1.jsonl"
    for label, env, outcomes, first in (
        ("a", "builtin", ours, 0),
        ("b", "vima-bench", theirs, start),
    ):
        folder = _folder(tmp_path, env, outcomes, first)
        RECORDER.record(record, label, f"run {label}", ROOT, [folder], None, None)
    return record


def test_recorded_cells_keep_every_outcome_in_episode_order(tmp_path: Path) -> None:
    record = _record(tmp_path, "1101", "0111")
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    cell = next(line for line in lines if line["kind"] == "cell" and line["experiment"] == "a")
    assert (cell["outcomes"], cell["successes"], cell["episodes"], cell["steps"]) == (
        "1101", 3, 4, 6)  # fmt: skip
    assert cell["env"] == "builtin" and cell["first_episode"] == 0 and cell["unchanged"] == []
    # recording a label again replaces its lines, the other label's stay
    RECORDER.record(record, "a", "again", ROOT, [_folder(tmp_path, "builtin", "1")], None, None)
    found = TABLES.experiments(record)
    assert found["a"].head["command"] == "again" and found["a"].cell(1)["outcomes"] == "1"
    assert found["b"].cell(1, env="vima-bench")["outcomes"] == "0111"


def test_recorder_refuses_a_gap_in_the_episodes(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "builtin", "11")
    rows = RECORDER.read_results(folder / "episodes.parquet").to_pylist()
    rows = [{**row, "episode": "L1/visual_manipulation/5"} if row["episode"].endswith("/0")
            else row for row in rows]  # fmt: skip
    write_results(folder / "episodes.parquet", rows)
    with pytest.raises(ValueError, match="not contiguous"):
        RECORDER.cells(folder)


def test_simulator_table_pairs_episodes_with_vima_eval_statistics(tmp_path: Path) -> None:
    ours, theirs = "1101101111" * 10, "1111001110" * 10
    table = TABLES.simulators_table("a", "b", _record(tmp_path, ours, theirs))
    diff = paired_difference([c == "1" for c in ours], [c == "1" for c in theirs])
    row = table.splitlines()[2]
    assert f"{100 * diff.low:.1f}, {100 * diff.high:.1f}" in row
    assert f"p = {diff.equivalence_p:.2g}" in row
    assert ("not shown" in row) == (not diff.equivalent)
    assert f"{sum(x == y for x, y in zip(ours, theirs, strict=True))} / 100" in row


def test_simulator_table_refuses_different_episodes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="different episodes"):
        TABLES.simulators_table("a", "b", _record(tmp_path, "1101", "0111", start=100))


def test_a_table_of_an_unrecorded_experiment_says_so(tmp_path: Path) -> None:
    record = _record(tmp_path, "1101", "0111")
    assert TABLES.levels_table("a", record).startswith("| level")
    for text in (TABLES.levels_table("gone", record), TABLES.simulators_table("a", "gone", record),
                 TABLES.shuffle_table(("a", "gone"), tmp_path / "absent.jsonl")):  # fmt: skip
        assert text.startswith("*Not recorded yet") and "`gone`" in text


def test_training_validations_and_stage_time_are_kept(tmp_path: Path) -> None:
    """From a vima-train run's CSV log (train rows without val columns) and a script's stderr."""
    log = tmp_path / "run" / "logs" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text("epoch,step,train/loss,val/loss,val/pick/error_cm,val/pick/object_acc\n"
                   "0,57,3.1,,,\n0,58,,2.605,6.82879,0.86\n1,99,2.4,,,\n")  # fmt: skip
    curve = RECORDER.validation(tmp_path / "run")
    assert curve["last_logged_step"] == 99
    assert curve["validation"] == [
        {"step": 58, "val/loss": 2.605, "val/pick/error_cm": 6.8288, "val/pick/object_acc": 0.86}
    ]
    stderr = tmp_path / "stage.log"
    lines = ["# 2026-12-08 23:59:00 UTC, commit c, load 1.5 1.3 1.2 2/148 3570",
             "[23:59:30] train t1-match", "Epoch 0: ...", "[00:01:00] evaluate L1"]  # fmt: skip
    stderr.write_text("\n".join(lines) + "\n")
    assert RECORDER.stage_seconds(stderr) == {
        "train_seconds": 90.0,
        "load_averages": ["1.5 1.3 1.2"],
    }


def test_simulator_table_agrees_with_vima_eval_report() -> None:
    """The recorded comparison gives the differences that `vima-eval report` wrote for the same
    runs (its report.csv rows of the noop runs, kept in docs/measurements/t1-agreement.csv)."""
    found = TABLES.experiments()
    if "t1-match-vima-bench" not in found:
        pytest.skip("the VIMA-Bench run of t1-match is not recorded yet (docs/SIMULATOR.md)")
    ours, theirs = found["t1-match"], found["t1-match-vima-bench"]
    rows = list(csv.DictReader((ROOT / "docs" / "measurements" / "t1-agreement.csv").open()))
    assert len(rows) == len(theirs.levels("vima-bench")) == 3
    for row in rows:
        level = int(row["level"])
        diff = TABLES.paired(ours.cell(level), theirs.cell(level, env="vima-bench"))
        assert row["paired"] == "True"
        stated = {"value": diff.estimate, "low": diff.low, "high": diff.high,
                  "p_value": diff.p_value, "equivalence_p": diff.equivalence_p}  # fmt: skip
        for key, value in stated.items():
            assert float(row[key]) == pytest.approx(value, abs=1e-9), key


def _six_task_folder(root: Path, name: str, outcomes: dict[tuple[str, str], str],
                     unchanged: frozenset[tuple[str, str]] = frozenset()) -> Path:  # fmt: skip
    """A result folder of six-task L1 episodes: (task, perturbation) -> outcomes; pairs in
    `unchanged` were not changed by their perturbation (`applies` false)."""
    rows = [{
        "mode": "online", "checkpoint": "ckpt", "task": task, "level": 1, "difficulty": "easy",
        "perturbation": perturbation, "seed": 2026, "episode": f"L1/{task}/{i}",
        "episode_seed": i, "applies": (task, perturbation) not in unchanged,
        "success": won == "1", "failure": False, "steps": 1, "minimum_steps": 1, "time_s": 1.0,
    } for (task, perturbation), wins in outcomes.items() for i, won in enumerate(wins)]  # fmt: skip
    folder = root / name
    write_results(folder / "episodes.parquet", rows)
    (folder / "metrics.json").write_text(json.dumps({"settings": {"env": "builtin"}}))
    return folder


def test_six_task_tables_count_tasks_levels_and_applicable_episodes(tmp_path: Path) -> None:
    record = tmp_path / "six-tasks.jsonl"
    tasks = TABLES.SIX_TASKS
    evaluated = _six_task_folder(tmp_path, "eval", {(t, "noop"): "1100" for t in tasks})
    study = _six_task_folder(
        tmp_path, "study",
        {**{(t, "noop"): "11" for t in tasks}, **{(t, "textual"): "10" for t in tasks}},
        unchanged=frozenset({("follow_order", "textual")}),
    )  # fmt: skip
    RECORDER.record(record, "six", "eval", ROOT, [evaluated], None, None)
    RECORDER.record(record, "six-study", "study", ROOT, [study], None, None)
    levels = TABLES.six_levels_table("six", record)
    assert levels.count("2/4 = 50 %") == 6 and "| **mean** | **50 %** |" in levels
    rows = {line.split(" | ")[0].strip("| *"): line for line in
            TABLES.six_study_table("six-study", record).splitlines()}  # fmt: skip
    # follow_order's textual episodes are not changed by it: a dash, and not in the total
    assert rows["follow_order"].endswith("| 2/2 | — |")
    assert rows["all six"].endswith("| **12/12** | **5/10** |")
    assert "Not recorded yet" in TABLES.six_levels_table("absent", record)
