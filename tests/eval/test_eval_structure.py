"""vima-eval's rooms stay apart (issue 21): offline and online code import no report, online
imports no offline, and only vima-sim's public API is used. Imports are read with
`source_imports` (function-level and relative ones included); sizes and the boundaries between
packages are checked for every package by `tests/test_structure.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_imports import imported_modules, module_name

SRC = Path(__file__).resolve().parents[2] / "packages" / "vima-eval" / "src"
MODULES = sorted((SRC / "vima_eval").rglob("*.py"))


def _module(path: Path) -> str:
    return module_name(path, SRC)


def _room(path: Path) -> str:
    name = _module(path)
    if name.startswith("vima_eval.online") and not name.endswith(".cli"):
        return "online"
    return "offline" if name == "vima_eval.offline" else "other"


def test_the_eval_sources_are_found() -> None:
    assert {"offline", "online"} <= {_room(p) for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=_module)
def test_imports_respect_the_rooms(path: Path) -> None:
    imports = imported_modules(path, SRC)
    room = _room(path)
    if room in {"offline", "online"}:
        assert not {m for m in imports if m.startswith("vima_eval.report")}, imports
    if room == "online":
        assert "vima_eval.offline" not in imports, imports
    internal = {m for m in imports if m.startswith(("vima_sim.tasks", "vima_sim.rollout"))}
    assert not internal, f"{path.name} reaches into vima-sim internals: {internal}"
