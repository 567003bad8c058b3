"""Result tables, statistics and `vima-eval report`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats
from vima_eval.reference import VIMA_200M
from vima_eval.results import ResultError, read_results, write_results
from vima_eval.runs import builtin_run, load_runs
from vima_eval.scoring import level_means, success_cells
from vima_eval.statistics import newcombe_difference, paired_difference, wilson_interval

from .conftest import RunEval

#: Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
#: seven methods", Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score
#: interval without continuity correction), 95%: (successes, n) -> (lower, upper).
NEWCOMBE_1998_WILSON = {
    (81, 263): (0.2553, 0.3662),
    (15, 148): (0.0624, 0.1605),
    (0, 20): (0.0000, 0.1611),
    (1, 29): (0.0061, 0.1718),
}


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_1998_WILSON.items())
def test_wilson_matches_newcombe_1998(
    counts: tuple[int, int], published: tuple[float, float]
) -> None:
    low, high = wilson_interval(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_newcombe_difference_matches_newcombe_1998b() -> None:
    # Newcombe (1998), "Interval estimation for the difference between independent
    # proportions: comparison of eleven methods", Stat. Med. 17:873-890, Table II example
    # (a) 56/70 - 48/80, method 10 (hybrid score): 0.0524 to 0.3339.
    diff = newcombe_difference(56, 70, 48, 80)
    assert round(diff.estimate, 4) == 0.2
    assert (round(diff.low, 4), round(diff.high, 4)) == (0.0524, 0.3339)
    assert not diff.paired


def test_vima_200m_level_means() -> None:
    means = level_means(success_cells(builtin_run("vima-200m")))
    assert [round(100 * means[level].rate, 1) for level in (1, 2, 3, 4)] == [81.6, 81.5, 77.6, 48.6]
    assert sum(len(levels) for levels in VIMA_200M.values()) == 13 + 13 + 12 + 4


def online_rows(checkpoint: str, flip: int = 0) -> list[dict[str, Any]]:
    """20 episodes per (task, level) of 3 tasks: episode i succeeds when (i + flip) % m != 0."""
    rows = []
    for task, level, m in (("rotate", 1, 4), ("rotate", 2, 3), ("follow_order", 1, 2),
                           ("novel_adj_and_noun", 4, 5)):  # fmt: skip
        for i in range(20):
            rows.append({
                "mode": "online", "checkpoint": checkpoint, "task": task, "level": level,
                "difficulty": "easy", "perturbation": "noop", "seed": 0,
                "episode": f"L{level}/{task}/{i}", "episode_seed": 1000 + i, "applies": True,
                "success": (i + flip) % m != 0, "failure": False, "steps": 1 + i % 3,
                "minimum_steps": 2, "time_s": 1.0,
            })  # fmt: skip
    return rows


def test_result_table_round_trip_and_foreign_files(tmp_path: Path) -> None:
    path = write_results(tmp_path / "a.parquet", online_rows("ckpt-a"))
    table = read_results(path)
    assert table.num_rows == 80
    assert table.column("success").to_pylist()[:4] == [False, True, True, True]
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"task": ["rotate"], "success": [True]}), foreign)
    with pytest.raises(ResultError, match="not a vima-eval per-episode result table"):
        read_results(foreign)
    with pytest.raises(ValueError, match="unknown task 'juggle'"):
        write_results(tmp_path / "b.parquet", [{**online_rows("x")[0], "task": "juggle"}])
    assert not (tmp_path / "b.parquet").exists()


def test_report_tables_and_paired_differences(tmp_path: Path, run_eval: RunEval) -> None:
    a = write_results(tmp_path / "a.parquet", online_rows("ckpt-a"))
    b = write_results(tmp_path / "b.parquet", online_rows("ckpt-b", flip=1))
    out = tmp_path / "report"
    run = run_eval("report", a, "--baseline", b, "--out", out)
    assert run.code == 0, run.err
    assert run.last_line == str(out)
    assert {p.name for p in out.iterdir()} == {
        "report.md", "report.csv", "report.tex", "levels.png",
    }  # fmt: skip
    assert (out / "levels.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "report.csv").open()))
    cell = next(r for r in rows if r["run"] == "ckpt-a / noop" and r["task"] == "rotate"
                and r["level"] == "1" and r["metric"] == "success")  # fmt: skip
    assert float(cell["value"]) == 15 / 20 and int(cell["episodes"]) == 20
    assert (float(cell["low"]), float(cell["high"])) == pytest.approx(wilson_interval(15, 20))
    # L1 average = unweighted mean of rotate (15/20) and follow_order (10/20)
    level = next(r for r in rows if r["run"] == "ckpt-a / noop" and r["task"] == "level_average"
                 and r["level"] == "1")  # fmt: skip
    assert float(level["value"]) == pytest.approx((0.75 + 0.5) / 2)
    # same episodes in both runs: paired (exact McNemar on the discordant episodes)
    diff = next(r for r in rows if r["metric"] == "success_difference" and r["task"] == "rotate"
                and r["level"] == "1")  # fmt: skip
    ours = [i % 4 != 0 for i in range(20)]
    theirs = [(i + 1) % 4 != 0 for i in range(20)]
    only_ours = sum(x and not y for x, y in zip(ours, theirs, strict=True))
    only_theirs = sum(y and not x for x, y in zip(ours, theirs, strict=True))
    assert diff["paired"] == "True"
    assert float(diff["value"]) == pytest.approx((only_ours - only_theirs) / 20)
    expected_p = scipy_stats.binomtest(only_ours, only_ours + only_theirs).pvalue
    assert float(diff["p_value"]) == pytest.approx(expected_p)
    assert paired_difference(ours, theirs).p_value == pytest.approx(expected_p)
    text = (out / "report.md").read_text()
    assert "| VIMA-200M (published, VIMA-Bench) | 81.6 | 81.5 | 77.6 | 48.6 |" in text
    # strict time limit: successful and at most minimum_steps (2) actions
    strict = next(r for r in rows if r["run"] == "ckpt-a / noop" and r["task"] == "rotate"
                  and r["level"] == "1" and r["metric"] == "success_strict")  # fmt: skip
    expected = sum(i % 4 != 0 and 1 + i % 3 <= 2 for i in range(20))
    assert float(strict["value"]) == expected / 20 < 15 / 20
    assert "## Strict time limit" in text
    assert "ckpt-a / noop minus ckpt-b / noop" in text
    for label in ("ckpt-a / noop", "ckpt-b / noop", "VIMA-200M (published, VIMA-Bench)"):
        assert text.count(f"## {label}: success rate (%) per task") == 1
    latex = (out / "report.tex").read_text()
    assert "VIMA-200M (published, VIMA-Bench) & 81.6 & 81.5 & 77.6 & 48.6" in latex
    assert "T3 rotate & 75.0 & 65.0 & -- & -- \\\\" in latex
    assert "T11 follow\\_order & 50.0 & -- & -- & -- \\\\" in latex


def test_report_compares_two_runs_of_the_same_checkpoint(tmp_path: Path, run_eval: RunEval) -> None:
    """The same checkpoint in two result folders (vima-sim and VIMA-Bench, say): both runs are
    shown and differenced; the baseline is told apart by its folder name."""
    (tmp_path / "builtin").mkdir()
    (tmp_path / "vima-bench").mkdir()
    a = write_results(tmp_path / "builtin" / "episodes.parquet", online_rows("ckpt"))
    write_results(tmp_path / "vima-bench" / "episodes.parquet", online_rows("ckpt", flip=1))
    out = tmp_path / "report"
    run = run_eval("report", a.parent, "--baseline", tmp_path / "vima-bench", "--out", out)
    assert run.code == 0, run.err
    text = (out / "report.md").read_text()
    for label in ("ckpt / noop", "ckpt / noop [vima-bench]"):
        assert text.count(f"## {label}: success rate (%) per task") == 1
    assert "ckpt / noop minus ckpt / noop [vima-bench]" in text
    assert "| ckpt | noop |" in text and "| ckpt [vima-bench] | noop |" in text  # paper table
    same = run_eval("report", a, "--baseline", a, "--out", tmp_path / "same")
    assert same.code == 0, same.err
    assert "[builtin]" not in (tmp_path / "same" / "report.md").read_text()


def test_report_against_published_row(tmp_path: Path, run_eval: RunEval) -> None:
    a = write_results(tmp_path / "a.parquet", online_rows("ckpt-a"))
    run = run_eval("report", a, "--baseline", "vima-200m", "--out", tmp_path / "r")
    assert run.code == 0, run.err
    rows = list(csv.DictReader((tmp_path / "r" / "report.csv").open()))
    diff = next(r for r in rows if r["metric"] == "success_difference" and r["task"] == "rotate"
                and r["level"] == "2")  # fmt: skip
    wins = sum(i % 3 != 0 for i in range(20))
    assert float(diff["value"]) == pytest.approx(wins / 20 - 0.995)
    low, high = wilson_interval(wins, 20)
    assert float(diff["low"]) == pytest.approx(low - 0.995)
    assert float(diff["high"]) == pytest.approx(high - 0.995)
    assert float(diff["p_value"]) == pytest.approx(scipy_stats.binomtest(wins, 20, 0.995).pvalue)
    # measured in VIMA-Bench, not vima-sim: every test against it is marked indicative
    assert {r["indicative"] for r in rows if r["metric"] == "success_difference"} == {"True"}
    text = (tmp_path / "r" / "report.md").read_text()
    assert "**Indicative only.**" in text and "vima-sim is not VIMA-Bench" in text
    assert text.count(", indicative") == sum(r["metric"] == "success_difference" for r in rows)


def test_report_bad_input(tmp_path: Path, run_eval: RunEval) -> None:
    good = write_results(tmp_path / "a.parquet", online_rows("ckpt-a"))
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1]}), foreign)
    (tmp_path / "notes.txt").write_text("hello")
    for args, message in (
        ((foreign,), "not a vima-eval per-episode result table"),
        ((tmp_path / "notes.txt",), "not a readable parquet result table"),
        ((good, "--baseline", foreign), "not a vima-eval per-episode result table"),
        ((good, "--baseline", "vima-900m"), "not a readable parquet"),
    ):
        out = tmp_path / "out"
        run = run_eval("report", *args, "--out", out)
        assert run.code == 2, run.err
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], run.err
        assert not out.exists()


def perturbed_rows(perturbation: str, wins: dict[str, int], applies: set[str]) -> list[dict]:
    """Two L1 tasks x 4 episodes of checkpoint `c`: the first `wins[task]` episodes succeed;
    `applies` names the tasks the perturbation changed."""
    rows = []
    for task in ("visual_manipulation", "rotate"):
        for i in range(4):
            rows.append({
                "mode": "online", "checkpoint": "c", "task": task, "level": 1,
                "difficulty": "easy", "perturbation": perturbation, "seed": 0,
                "episode": f"L1/{task}/{i}", "episode_seed": 50 + i,
                "applies": perturbation == "noop" or task in applies,
                "success": i < wins[task], "failure": False, "steps": 1, "minimum_steps": 1,
                "time_s": 1.0,
            })  # fmt: skip
    return rows


def _csv_row(rows: list[dict[str, str]], run: str, metric: str) -> dict[str, str]:
    return next(r for r in rows if r["run"] == run and r["metric"] == metric
                and r["task"] == "level_average" and r["level"] == "1")  # fmt: skip


def test_level_means_count_only_tasks_the_perturbation_changed(
    tmp_path: Path, run_eval: RunEval
) -> None:
    # defect: a different_instruction level mean averaged in tasks it leaves unchanged
    rows = perturbed_rows("noop", {"visual_manipulation": 4, "rotate": 4}, set())
    rows += perturbed_rows(
        "different_instruction", {"visual_manipulation": 1, "rotate": 4}, {"visual_manipulation"}
    )
    table = write_results(tmp_path / "r.parquet", rows)
    for extra, tasks, mean in (((), 1, 0.25), (("--include-unchanged",), 2, (0.25 + 1) / 2)):
        out = tmp_path / f"report{len(extra)}"
        run = run_eval("report", table, *extra, "--out", out)
        assert run.code == 0, run.err
        csv_rows = list(csv.DictReader((out / "report.csv").open()))
        level = _csv_row(csv_rows, "c / different_instruction", "success")
        assert float(level["value"]) == pytest.approx(mean) and int(level["tasks"]) == tasks
        paper = _csv_row(csv_rows, "c / different_instruction", "paper_difference_from_noop")
        assert float(paper["value"]) == pytest.approx(mean - 1.0) and paper["paired"] == "True"
        assert int(paper["tasks"]) == tasks
    text = (tmp_path / "report0" / "report.md").read_text()
    assert "## Paper table" in text and "| c | different_instruction | 25.0 [" in text
    latex = (tmp_path / "report0" / "report.tex").read_text()
    assert "c & different\\_instruction & 25.0 (-75.0) & -- & -- & -- \\\\" in latex


def test_level_intervals_never_collapse(tmp_path: Path, run_eval: RunEval) -> None:
    # defect: 0/n tasks gave a level average of `0.0 [0.0, 0.0]` and a difference `p=nan`
    rows = perturbed_rows("noop", {"visual_manipulation": 0, "rotate": 0}, set())
    rows += perturbed_rows("mask_both", {"visual_manipulation": 0, "rotate": 0}, {"rotate"})
    rows += perturbed_rows("mask_text", {"visual_manipulation": 0, "rotate": 0},
                           {"rotate", "visual_manipulation"})  # fmt: skip
    table = write_results(tmp_path / "r.parquet", rows)
    base = write_results(tmp_path / "b.parquet", [r for r in rows if r["perturbation"] == "noop"])
    out = tmp_path / "report"
    run = run_eval("report", table, "--baseline", base, "--out", out)
    assert run.code == 0, run.err
    text = (out / "report.md").read_text()
    assert "nan" not in text and "[0.0, 0.0]" not in text and "[+0.0, +0.0]" not in text
    for row in csv.DictReader((out / "report.csv").open()):
        assert "nan" not in row.values(), row
        if row["low"]:  # published rows carry no interval
            assert float(row["high"]) > float(row["low"]), row
    _, high = wilson_interval(0, 4)
    means = level_means(success_cells(load_runs([table])[0]))
    # two independent 0/4 tasks: the mean's half-width is sqrt(2) / 2 of one task's
    assert means[1].low == 0 and means[1].high == pytest.approx(high * 2**0.5 / 4)


def test_paired_difference_interval_has_width_without_discordant_pairs() -> None:
    same = [True, False, True, True, False]
    diff = paired_difference(same, same)
    assert diff.estimate == 0 and diff.p_value == 1.0
    assert -1 <= diff.low < 0 < diff.high <= 1
    ours, theirs = [True] * 6 + [False] * 4, [False] * 6 + [False] * 4
    shifted = paired_difference(ours, theirs)
    assert shifted.low < shifted.estimate == 0.6 < shifted.high <= 1


def _write_version_1(path: Path, rows: list[dict[str, Any]]) -> Path:
    from vima_eval.results import METADATA_KEY, SCHEMA

    schema = pa.schema([f for f in SCHEMA if f.name not in ("applies", "vocabulary")])
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)
    meta = {METADATA_KEY: b'{"schema": "vima-eval/episode-results", "version": 1}'}
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def test_version_1_result_tables_are_read_with_applies_from_the_task_list(tmp_path: Path) -> None:
    wins = {"visual_manipulation": 1, "rotate": 1}
    path = _write_version_1(tmp_path / "v1.parquet", perturbed_rows("textual", wins, set()))
    read = read_results(path).to_pylist()
    # textual applies to visual_manipulation and rotate (both textual tasks)
    assert {r["applies"] for r in read} == {True} and {r["vocabulary"] for r in read} == {None}
    rows = perturbed_rows("different_instruction", wins, set())
    path = _write_version_1(tmp_path / "v1b.parquet", rows)
    applies = {(r["task"], r["applies"]) for r in read_results(path).to_pylist()}
    assert applies == {("visual_manipulation", True), ("rotate", False)}


def test_offline_intervals_never_collapse(tmp_path: Path, run_eval: RunEval) -> None:
    # defect: no episode with every axis right gave `0.0 [0.0, 0.0]`, one episode `[nan, nan]`
    rows = [
        {"mode": "offline", "checkpoint": "c", "task": task, "level": 0, "difficulty": "easy",
         "perturbation": "noop", "seed": 0, "episode": f"{task}/{i}", "applies": True,
         "steps": 4, "axes_correct": 20 + i, "axes_total": 48, "steps_all_correct": 0,
         "loss_sum": 9.0 + i}
        for task, count in (("rotate", 3), ("twist", 1)) for i in range(count)
    ]  # fmt: skip
    table = write_results(tmp_path / "o.parquet", rows)
    out = tmp_path / "report"
    run = run_eval("report", table, "--out", out, "--resamples", "50")
    assert run.code == 0, run.err
    assert "nan" not in (out / "report.md").read_text()
    cells = {(r["task"], r["metric"]): r for r in csv.DictReader((out / "report.csv").open())}
    for task in ("rotate", "twist", "all"):
        for metric in ("accuracy", "all_axes"):
            cell = cells[task, metric]
            assert float(cell["low"]) <= float(cell["value"]) < float(cell["high"]), cell
    _, high = wilson_interval(0, 12)  # rotate: 0 of 3 x 4 timesteps with every axis right
    assert float(cells["rotate", "all_axes"]["high"]) == pytest.approx(high)
    assert cells["twist", "loss"]["low"] == ""  # one episode: no bootstrap interval
