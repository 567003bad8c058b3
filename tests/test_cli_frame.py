"""The one command-line frame of the six tools (`vima_schema.command`): help for every option,
one-line usage errors (exit 2), unexpected errors (exit 3, traceback with --verbose), shell
completion from the registries, and `--help` without torch, pybullet or datasets."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from killed_writer import leftovers_of_a_killed_writer
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
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "samples" / "vima-raw" / "rotate" / "000000"
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


# ------------------------------------------------------------------ pipelines and stdout

#: A one-command tool run as a script: prints COUNT lines, then returns listed failures and a
#: product, or raises a BrokenPipeError that is not stdout's.
LISTING = """
import sys
from vima_schema.command import Tool
from vima_schema.runner import EXIT_FAILURES
tool = Tool("listing", "Prints lines.")
@tool.command()
def lines(count: int, worker_pipe: bool = False) -> tuple[int, str]:
    \"\"\"Print COUNT lines.\"\"\"
    for number in range(count):
        print(f"line {number}")
    if worker_pipe:
        raise BrokenPipeError("a worker's pipe closed")
    return EXIT_FAILURES, "product"
sys.exit(tool.main())
"""


def _into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` with stdout the write end of a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)


def _quiet(stderr: str) -> bool:
    return not any(word in stderr for word in ("error", "Error", "Traceback", "Exception"))


@pytest.mark.parametrize(
    "argv",
    [["vima-sim", "tasks"], ["vima-eval", "perturbations"], ["vima-train", "presets"]],
    ids=" ".join,
)
def test_listing_into_a_closed_pipe_exits_0_quietly(argv: list[str]) -> None:
    done = _into_closed_pipe([str(BIN / argv[0]), *argv[1:]])
    assert done.returncode == EXIT_OK and _quiet(done.stderr), done.stderr


@pytest.mark.parametrize(("count", "code"), [(100_000, EXIT_OK), (0, EXIT_FAILURES)])
def test_closed_stdout_keeps_the_code_the_command_had(count: int, code: int) -> None:
    # 100,000 lines: cut short mid-listing, exit 0; none: only the product line meets the
    # closed pipe, after the command returned "done except listed failures"
    done = _into_closed_pipe([sys.executable, "-c", LISTING, str(count)])
    assert done.returncode == code and _quiet(done.stderr), done.stderr


def test_pipelines_with_head_exit_0(tmp_path: Path) -> None:
    listing = tmp_path / "listing.py"
    listing.write_text(LISTING)
    script = (
        "set -o pipefail\n"
        f"{BIN / 'vima-sim'} tasks | head -1\n"
        f"{BIN / 'vima-eval'} perturbations | head -1\n"
        f"{sys.executable} {listing} 100000 | head -1\n"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "{"
    assert done.stdout.splitlines()[1].split()[0] == "noop"
    assert done.stdout.splitlines()[2] == "line 0"
    assert _quiet(done.stderr), done.stderr


def test_broken_pipe_of_another_file_is_an_unexpected_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LISTING, "1", "--worker-pipe"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_ERROR
    assert "unexpected error: BrokenPipeError: a worker's pipe closed" in done.stderr


def test_full_stdout_stops_with_one_line() -> None:
    buffered = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", LISTING, "2"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env=buffered,
        )
    assert done.returncode == EXIT_ERROR
    assert done.stderr.splitlines()[-1].startswith(
        "listing lines: stopped: no space left on device: stdout ("
    ), done.stderr


# ------------------------------------------------------------- work started, input errors


def _raise_value_error(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("a bug after the inputs were accepted")


def _result_table(folder: Path) -> Path:
    from vima_eval.results import write_results

    row = {"mode": "online", "checkpoint": "c", "task": "rotate", "level": 1,
           "difficulty": "easy", "perturbation": "noop", "seed": 0, "episode": "L1/rotate/0",
           "episode_seed": 1000, "applies": True, "success": True, "failure": False,
           "steps": 1, "minimum_steps": 1, "time_s": 1.0}  # fmt: skip
    return write_results(folder / "episodes.parquet", [row])


@pytest.mark.parametrize(
    ("prog", "args", "module", "name"),
    [
        ("vima-schema", ["validate", str(SAMPLE)], "vima_schema.reader", "read_episode"),
        ("vima-schema", ["inspect", str(SAMPLE)], "vima_schema.cli", "summary"),
        ("vima-sim", ["tasks"], "vima_sim.tasks", "available"),
        ("vima-eval", ["report", "TABLE", "--out", "OUT"], "vima_eval.report", "build_report"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bug_once_inputs_are_checked_exits_3(
    prog: str,
    args: list[str],
    module: str,
    name: str,
    tmp_path: Path,
    run_tool: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = [str(_result_table(tmp_path)) if arg == "TABLE" else arg for arg in args]
    args = [str(tmp_path / "report") if arg == "OUT" else arg for arg in args]
    monkeypatch.setattr(importlib.import_module(module), name, _raise_value_error)
    run = run_tool(prog, *args)
    assert run.code == EXIT_ERROR, run.err
    assert "unexpected error: ValueError: a bug after the inputs were accepted" in run.err


def test_validate_input_errors_exit_2(tmp_path: Path, run_tool: Callable[..., Any]) -> None:
    run = run_tool("vima-schema", "validate", str(SAMPLE), str(tmp_path / "missing"))
    assert run.code == EXIT_USAGE and run.out == ""  # nothing checked before the error
    assert (
        run.err.strip()
        == f"vima-schema validate: error: {tmp_path / 'missing'}: no such file or directory"
    )
    run = run_tool("vima-schema", "validate", str(tmp_path))
    assert run.code == EXIT_USAGE
    assert "vima-schema validate: error: no episode folders found" in run.err


def test_generate_forgets_failures_a_rerun_wrote_and_removes_what_a_killed_run_left(
    tmp_path: Path, run_tool: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import vima_sim.generate

    real = vima_sim.generate.run_job

    def fail_the_second(job: Any) -> str:
        if job.index == 1:
            raise RuntimeError(f"{job.task} #{job.index}: oracle did not succeed")
        return real(job)

    out = tmp_path / "raw"
    args = ("generate", "visual_manipulation", "--episodes", "2", "--out", str(out))
    monkeypatch.setattr(vima_sim.generate, "run_job", fail_the_second)
    assert run_tool("vima-sim", *args).code == EXIT_FAILURES
    listed = (out / "failures.jsonl").read_text().splitlines()
    assert [json.loads(line)["path"] for line in listed] == ["visual_manipulation/000001"]
    monkeypatch.setattr(vima_sim.generate, "run_job", real)
    task = out / "visual_manipulation"
    left = leftovers_of_a_killed_writer(task / "notes.json", task / "000001")
    run = run_tool("vima-sim", *args)
    assert run.code == EXIT_OK, run.err
    assert (task / "000001").is_dir()
    assert not (out / "failures.jsonl").exists()
    assert not any(path.exists() for path in left)  # what a killed run began is removed
