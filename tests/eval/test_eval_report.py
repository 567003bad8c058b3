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
from vima_eval.report import builtin_run, level_means, success_cells
from vima_eval.results import ResultError, read_results, write_results
from vima_eval.stats import newcombe_difference, paired_difference, wilson_interval

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
                "episode": f"L{level}/{task}/{i}", "episode_seed": 1000 + i,
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
    assert "| VIMA-200M (published) | 81.6 | 81.5 | 77.6 | 48.6 |" in text
    # strict time limit: successful and at most minimum_steps (2) actions
    strict = next(r for r in rows if r["run"] == "ckpt-a / noop" and r["task"] == "rotate"
                  and r["level"] == "1" and r["metric"] == "success_strict")  # fmt: skip
    expected = sum(i % 4 != 0 and 1 + i % 3 <= 2 for i in range(20))
    assert float(strict["value"]) == expected / 20 < 15 / 20
    assert "## Strict time limit" in text
    assert "ckpt-a / noop minus ckpt-b / noop" in text
    for label in ("ckpt-a / noop", "ckpt-b / noop", "VIMA-200M (published)"):
        assert text.count(f"## {label}: success rate (%) per task") == 1
    latex = (out / "report.tex").read_text()
    assert "VIMA-200M (published) & 81.6 & 81.5 & 77.6 & 48.6" in latex
    assert "T3 rotate & 75.0 & 65.0 & -- & -- \\\\" in latex
    assert "T11 follow\\_order & 50.0 & -- & -- & -- \\\\" in latex


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
