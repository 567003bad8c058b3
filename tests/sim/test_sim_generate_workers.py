"""`vima-sim generate` writes the same bytes with 1 and with 2 workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _generate(out: Path, workers: int) -> None:
    """`vima-sim generate rotate same_shape --episodes 2 --seed 3` in its own process."""
    command = [sys.executable, "-m", "vima_sim", "generate", "rotate", "same_shape", "--episodes",
               "2", "--seed", "3", "--out", str(out), "--workers", str(workers)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generate_same_bytes_with_1_and_2_workers(tmp_path: Path) -> None:
    """2 tasks x 2 episodes: every file (episodes, generator.json) equal byte for byte."""
    _generate(tmp_path / "one", 1)
    _generate(tmp_path / "two", 2)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sum(name.endswith("obs.pkl") for name in one) == 4
    assert one.keys() == two.keys()
    assert [name for name in one if one[name] != two[name]] == []
