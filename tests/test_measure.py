"""scripts/measure.py writes a benchmark's record in the format scripts/bench_tables.py reads
back (issue 27, item 1): the command, its date, commit and load, then what it printed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from repo_scripts import load_script

MEASURE = load_script("scripts/measure.py")
TABLES = load_script("scripts/document_tables.py")._script("bench_tables")


def test_a_record_reads_back_command_by_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = "print('episodes/s:   791'); print('peak RSS:     60.7 MiB')"
    monkeypatch.setattr(MEASURE, "RECORDS", tmp_path)
    monkeypatch.setattr(TABLES, "MEASUREMENTS", tmp_path)
    monkeypatch.setitem(MEASURE.MEASUREMENTS, "probe", [
        [sys.executable, "-c", script], [sys.executable, "-c", "print('episodes/s: 12')"],
    ])  # fmt: skip
    path = MEASURE.record("probe", {"work": str(tmp_path / "work")})
    assert path == tmp_path / "probe.txt" and not list(tmp_path.glob("*.tmp"))
    first, second = TABLES.runs("probe")
    assert first.command.startswith(sys.executable) and "commit " in first.stamp
    assert len(first.load.split()) == 3
    assert (first.number("episodes/s"), first.field("peak RSS")) == (791.0, "60.7 MiB")
    assert second.number("episodes/s") == 12.0
    with pytest.raises(ValueError, match="no line `MB/s:`"):
        first.field("MB/s")


def test_a_failing_benchmark_leaves_the_old_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MEASURE, "RECORDS", tmp_path)
    (tmp_path / "probe.txt").write_text("old\n")
    monkeypatch.setitem(
        MEASURE.MEASUREMENTS, "probe", [[sys.executable, "-c", "raise SystemExit(1)"]]
    )
    with pytest.raises(MEASURE.subprocess.CalledProcessError):
        MEASURE.record("probe", {"work": str(tmp_path)})
    assert (tmp_path / "probe.txt").read_text() == "old\n"
