"""The one command-line frame of the six tools (`vima_schema.command`): help for every option,
one-line usage errors (exit 2), unexpected errors (exit 3, traceback with --verbose), shell
completion from the registries, and `--help` without torch, pybullet or datasets."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from vima_schema.command import Tool
from vima_schema.runner import (
    EXIT_ERROR,
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_USAGE,
    InputError,
    mark_work_started,
)

BIN = Path(sys.executable).parent
TOOLS = ("vima-schema", "vima-convert", "vima-tokenize", "vima-sim", "vima-train", "vima-eval")


def _tool(prog: str) -> Tool:
    return importlib.import_module(prog.replace("-", "_") + ".cli").tool


def _commands(prog: str) -> list[tuple[list[str], Any]]:
    """(words before --help, click command) for every command of a tool."""
    command = typer.main.get_command(_tool(prog).app)
    subs = getattr(command, "commands", None)
    if subs is None:
        return [([], command)]
    return [([name], sub) for name, sub in subs.items()]


EVERY_COMMAND = [(prog, words, command) for prog in TOOLS for words, command in _commands(prog)]
IDS = [" ".join([prog, *words]) for prog, words, _ in EVERY_COMMAND]


@pytest.fixture
def run_tool(cli_runner: Callable[[Callable[[list[str]], int]], Any]) -> Callable[..., Any]:
    """`run_tool("vima-sim", "generate", ...)`: a tool in-process, its code, out and err."""

    def run(prog: str, *args: str) -> Any:
        return cli_runner(_tool(prog).main)(*args)

    return run


@pytest.mark.parametrize(("prog", "words", "command"), EVERY_COMMAND, ids=IDS)
def test_help_lists_every_option_with_a_help_line(
    prog: str, words: list[str], command: Any, run_tool: Callable[..., Any]
) -> None:
    run = run_tool(prog, *words, "--help")
    assert run.code == EXIT_OK and run.err == ""
    assert (command.help or "").strip(), f"{prog} {words}: no docstring"
    for param in command.params:
        assert (param.help or "").strip(), f"{prog} {words}: {param.name} has no help"
        if param.param_type_name == "option":
            for flag in param.opts:
                assert flag in run.out, f"{prog} {words}: {flag} missing from --help"
            takes_value = not param.is_flag and not param.required
            if takes_value and param.default is None:  # the default is said in words
                assert "[default:" in param.help, f"{prog} {words}: {param.name} default"
    assert "--verbose" in run.out and "--version" in run.out


@pytest.mark.parametrize(("prog", "words", "command"), EVERY_COMMAND, ids=IDS)
def test_usage_error_exits_2_with_one_line(
    prog: str, words: list[str], command: Any, run_tool: Callable[..., Any]
) -> None:
    run = run_tool(prog, *words, "--no-such-option")
    assert run.code == EXIT_USAGE and run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "--no-such-option" in lines[0], run.err
    assert lines[0].startswith(" ".join([prog, *words]) + ": error:")


def test_missing_command_and_bad_value_exit_2(run_tool: Callable[..., Any]) -> None:
    assert run_tool("vima-sim").code == EXIT_USAGE
    run = run_tool("vima-sim", "generate", "rotate", "--episodes", "x", "--out", "o")
    assert run.code == EXIT_USAGE and "'--episodes'" in run.err
    assert len(run.err.strip().splitlines()) == 1


@pytest.mark.parametrize("prog", TOOLS)
def test_version(prog: str, run_tool: Callable[..., Any]) -> None:
    run = run_tool(prog, "--version")
    assert run.code == EXIT_OK and run.out.startswith(f"{prog} 0.")


demo = Tool("demo", "A tool of this test, failing on purpose.")


@demo.command()
def fail(
    kind: str,
    started: bool = typer.Option(False, "--started", help="Fail after work started."),
) -> int:
    """Raise the exception named KIND."""
    if started:
        mark_work_started()
    errors = {
        "value": ValueError,
        "input": InputError,
        "runtime": RuntimeError,
        "interrupt": KeyboardInterrupt,
    }
    raise errors[kind](f"{kind} went wrong\nsecond line")


@demo.command()
def finish(product: str) -> tuple[int, str]:
    """Finish with listed failures and a product."""
    return EXIT_FAILURES, product


@pytest.mark.parametrize("verbose", [False, True])
def test_unexpected_error_exits_3_with_one_line(
    capsys: pytest.CaptureFixture[str], verbose: bool
) -> None:
    code = demo.main(["fail", "runtime", *(["--verbose"] if verbose else [])])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR == 3
    assert "demo fail: unexpected error: RuntimeError: runtime went wrong" in err
    assert ("Traceback" in err) is verbose
    if not verbose:
        assert len(err.strip().splitlines()) == 1 and "--verbose" in err


def test_value_error_is_usage_before_work_and_a_bug_after(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert demo.main(["fail", "value"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == "demo fail: error: value went wrong"
    assert demo.main(["fail", "value", "--started"]) == EXIT_ERROR
    assert "unexpected error: ValueError" in capsys.readouterr().err
    assert demo.main(["fail", "input", "--started"]) == EXIT_USAGE  # said to be the input's
    assert capsys.readouterr().err.strip() == "demo fail: error: input went wrong"
    assert demo.main(["-v", "fail", "value", "--started"]) == EXIT_ERROR
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("VIMA_VERBOSE", "1")  # the old switch still works
    assert demo.main(["fail", "value", "--started"]) == EXIT_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["fail", "interrupt"]) == 130
    assert capsys.readouterr().err.strip() == "demo fail: interrupted"


def test_product_is_the_last_stdout_line_and_timing_goes_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert demo.main(["finish", "out/dir"]) == EXIT_FAILURES
    captured = capsys.readouterr()
    assert captured.out == "out/dir\n"
    assert captured.err.startswith("demo finish: ") and "peak RSS" in captured.err


def test_a_real_command_failing_mid_run_exits_3(
    tmp_path: Path, run_tool: Callable[..., Any]
) -> None:
    args = ("show", "rotate", "--out", str(tmp_path / "missing" / "rotate.png"))
    run = run_tool("vima-sim", *args)  # FileNotFoundError after the scene was built
    assert run.code == EXIT_ERROR and "unexpected error: FileNotFoundError" in run.err
    assert "Traceback" not in run.err
    assert "Traceback" in run_tool("vima-sim", *args, "--verbose").err


def _complete(prog: str, words: str) -> list[str]:
    env = {
        **os.environ,
        f"_{prog.replace('-', '_').upper()}_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    done = subprocess.run(
        [str(BIN / prog)], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.split()


def test_completion_offers_task_names_and_registry_values() -> None:
    assert _complete("vima-sim", "vima-sim generate rea") == [
        "rearrange",
        "rearrange_then_restore",
    ]
    assert _complete("vima-sim", "vima-sim show rotate --difficulty extr") == [
        "extreme",
        "extremely_distracting",
    ]
    assert "tiny" in _complete("vima-train", "vima-train fit data --preset t")
    assert _complete("vima-eval", "vima-eval oracle --tasks rotate,tw") == ["rotate,twist"]
    assert _complete("vima-eval", "vima-eval oracle --levels L") == ["L1", "L2", "L3", "L4"]
    assert "gobbledygook_word" in _complete("vima-eval", "vima-eval perturb d --perturb gobb")


def test_show_completion_prints_a_bash_script() -> None:
    done = subprocess.run(
        [str(BIN / "vima-sim"), "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "_VIMA_SIM_COMPLETE=complete_bash" in done.stdout


@pytest.mark.parametrize("prog", TOOLS)
def test_help_imports_no_torch_pybullet_or_datasets(prog: str) -> None:
    module = prog.replace("-", "_") + ".cli"
    helps = [[*words, "--help"] for words, _ in [([], None), *_commands(prog)]]
    code = (
        "import contextlib, io, sys\n"
        f"from {module} import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    codes = [main(args) for args in {helps!r}]\n"
        "heavy = [m for m in ('torch', 'pybullet', 'datasets', 'lightning') if m in sys.modules]\n"
        "print(set(codes), heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "{0} []", done.stdout + done.stderr
