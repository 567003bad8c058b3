"""Fixtures shared by every test area: in-process calls of the workspace's command lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class CliRun:
    """Exit code and captured output of one in-process command-line call."""

    code: int
    out: str
    err: str

    @property
    def last_line(self) -> str:
        """Last non-empty stdout line (the product path by convention)."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        return lines[-1] if lines else ""


RunCli = Callable[..., CliRun]
Main = Callable[[list[str]], int]


@pytest.fixture
def cli_runner(capsys: pytest.CaptureFixture[str]) -> Callable[[Main], RunCli]:
    """`cli_runner(main)("parse", RAW, ...)`: call a command's `main`, capturing its output."""

    def runner(main: Main) -> RunCli:
        def run(*args: str | Path) -> CliRun:
            capsys.readouterr()
            code = main([str(arg) for arg in args])
            captured = capsys.readouterr()
            return CliRun(code, captured.out, captured.err)

        return run

    return runner
