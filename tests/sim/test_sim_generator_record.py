"""`generator.json` tells simulators apart by sources, data files, assets and pybullet."""

from __future__ import annotations

import json
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
from vima_sim import generator_record
from vima_sim.cli import main
from vima_sim.generator_record import simulator_fingerprint, task_record


def test_fingerprint_changes_with_each_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of the package has the same fingerprint (paths do not count); an edit of a data
    file or an asset changes that part only."""
    package = tmp_path / "vima_sim"
    shutil.copytree(generator_record.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(generator_record, "PACKAGE", package)
    monkeypatch.setattr(generator_record, "ASSETS_ROOT", package / "assets")
    fingerprint = simulator_fingerprint.__wrapped__
    before = fingerprint()
    assert before == simulator_fingerprint()
    assert before["pybullet"] == version("pybullet")
    for edited, part in (
        ("data/tasks.json", "data_sha256"),
        ("assets/plane/plane.urdf", "assets_sha256"),
        ("tasks/rotate.py", "source_sha256"),
    ):
        with (package / edited).open("a") as handle:
            handle.write("\n")
        after = fingerprint()
        assert {key for key in before if before[key] != after[key]} == {part}, edited
        before = after
    (package / "assets/plane/plane.urdf").rename(package / "assets/plane/plane2.urdf")
    assert fingerprint()["assets_sha256"] != before["assets_sha256"]  # names count too


@pytest.mark.parametrize("part", ["data_sha256", "assets_sha256", "pybullet"])
def test_resume_refused_by_another_simulator(
    part: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raw"
    (out / "rotate" / "000000").mkdir(parents=True)
    record = {"rotate": {**task_record("placement_generalization", "easy", 0), part: "other"}}
    (out / "generator.json").write_text(json.dumps(record))
    assert main(["generate", "rotate", "--episodes", "1", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{part} 'other' -> '{simulator_fingerprint()[part]}'" in error
    assert not any((out / "rotate" / "000000").iterdir())  # nothing written
