"""Generated episodes go through vima-convert and vima-tokenize like VIMA-Data."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_generate_convert_tokenize(tmp_path: Path) -> None:
    from vima_convert.cli import main as convert
    from vima_sim.cli import main as sim
    from vima_tokenize.cli import main as tokenize

    raw, parsed, dataset = tmp_path / "raw", tmp_path / "parsed", tmp_path / "hf"
    tasks = ["follow_order", "sweep_without_exceeding"]  # a scene-prompt task and a spatula task
    assert sim(["generate", *tasks, "--episodes", "1", "--out", str(raw)]) == 0
    assert convert(["parse", str(raw), "--out", str(parsed)]) == 0
    assert len(list(parsed.rglob("*.arrow"))) == 2
    assert convert(["build", str(parsed), "--out", str(dataset), "--valid-size", "1"]) == 0
    assert tokenize([str(dataset)]) == 0
    assert list(dataset.rglob("*preprocessed*"))
