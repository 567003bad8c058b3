"""vima-eval's rooms stay apart and readable (issue 21): offline and online code import no
report, online imports no offline, only vima-sim's public API is used, and no module or function
grows past the size a newcomer reads top down. Imports are read with `ast` (function-level ones
included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "packages" / "vima-eval" / "src" / "vima_eval"
MODULES = sorted(SRC.rglob("*.py"))
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    return ".".join(("vima_eval", *path.relative_to(SRC).with_suffix("").parts))


def _room(path: Path) -> str:
    name = _module(path)
    if name.startswith("vima_eval.online") and not name.endswith(".cli"):
        return "online"
    return "offline" if name == "vima_eval.offline" else "other"


def test_the_eval_sources_are_found() -> None:
    assert {"offline", "online"} <= {_room(p) for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=_module)
def test_imports_respect_the_rooms(path: Path) -> None:
    imports = _imports(path)
    room = _room(path)
    if room in {"offline", "online"}:
        assert not {m for m in imports if m.startswith("vima_eval.report")}, imports
    if room == "online":
        assert "vima_eval.offline" not in imports, imports
    internal = {m for m in imports if m.startswith(("vima_sim.tasks", "vima_sim.rollout"))}
    assert not internal, f"{path.name} reaches into vima-sim internals: {internal}"


@pytest.mark.parametrize("path", MODULES, ids=_module)
def test_modules_and_functions_stay_short(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.name} is over {MAX_FILE_LINES} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text, str(path)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"
