"""The one command-line frame of every `vima-*` tool, on Typer.

A `Tool` holds a Typer app; its `command` decorator registers a typed function (the docstring is
the help) and gives it what every command shares: `--verbose/-v` (debug logs and tracebacks;
`VIMA_VERBOSE=1` is an alias) and `--version`, log records on stderr, one native thread per
worker when it has a `workers` option, the closing timing line on stderr and the product path as
the last stdout line. A command returns its exit code, or `(exit code, product path or None)`.

`Tool.main(argv)` runs the tool and returns the exit code (see `vima_schema.runner`): 0 all
done, 1 done except listed failures, 2 a usage or input error found before work started, or an
`InputError` (one line on stderr), 3 anything raised after that or of another kind (one line;
the traceback with `--verbose`), among them an environment error (a full disk, a read-only,
unwritable or vanished output folder: one line saying what, where, and that a rerun resumes),
130 on Ctrl-C. Work starts at `runner.mark_work_started` (called by `run_items`, and by commands
once their inputs are checked). A closed stdout (`vima-x ... | head -1`) ends the command
quietly with the code it would have had, 0 for a listing cut short.
"""

import errno
import functools
import inspect
import logging
import os
import resource
import select
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from vima_schema.enums import Difficulty, SameShapeBases, Task
from vima_schema.runner import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    InputError,
    OutputError,
    environment_problem,
    one_native_thread_per_worker,
    reset_work_started,
    work_started,
)

#: Exceptions that mean "the arguments or the input are wrong" when raised before work starts.
USAGE_ERRORS = (ValueError, FileNotFoundError, FileExistsError)
#: Loggers of the workspace's packages, shown at INFO (DEBUG with `--verbose`).
PACKAGE_LOGGERS = (
    "vima_schema",
    "vima_convert",
    "vima_tokenize",
    "vima_sim",
    "vima_train",
    "vima_eval",
)

Result = int | tuple[int, str | Path | None]
"""What a command returns: its exit code, or (exit code, product path or None)."""


Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Debug messages, and the traceback of an error. [env: VIMA_VERBOSE=1]",
        show_default=False,
    ),
]
log = logging.getLogger(PACKAGE_LOGGERS[0])


class Tool:
    """One `vima-*` console script: a Typer app and the frame around its commands."""

    def __init__(self, prog: str, help: str) -> None:
        self.prog = prog  # also the distribution's name, for `--version`
        self.app = typer.Typer(
            name=prog,
            help=help,
            cls=_Group,
            rich_markup_mode=None,  # plain help: no rich import, fast --help
            pretty_exceptions_enable=False,
            context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
        )
        self._names: list[str] = []

    def command(self, name: str | None = None) -> Callable[[Callable[..., Result]], Any]:
        """Register a command (its name defaults to the function's, dashes for underscores)."""

        def register(func: Callable[..., Result]) -> Any:
            command_name = name or func.__name__.strip("_").replace("_", "-")
            self._names.append(command_name)
            wrapped = self._framed(func, command_name)
            self.app.command(command_name, cls=_Command)(wrapped)
            return func

        return register

    def main(self, argv: list[str] | None = None) -> int:
        """Run the tool on `argv` (default: the process's arguments); return the exit code."""
        if len(self._names) > 1 and self.app.registered_callback is None:
            self._add_group_options()
        command = typer.main.get_command(self.app)
        reset_work_started()
        _Verbosity.on = _env_verbose()
        try:
            code = command.main(args=argv, prog_name=self.prog, standalone_mode=False)
        except typer.Abort:
            print(f"{self.prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as error:
            if not _is_click_error(error):
                raise
            print(self._usage_line(error), file=sys.stderr)
            return EXIT_USAGE
        return int(code or EXIT_OK)

    def _usage_line(self, error: Exception) -> str:
        """The one stderr line of a command-line error (with the usage if it is a usage one)."""
        message = _one_line(error.format_message())  # type: ignore[attr-defined]
        ctx = getattr(error, "ctx", None)
        if ctx is None:
            return f"{self.prog}: error: {message}"
        usage = " ".join(ctx.get_usage().split()[1:])
        return f"{ctx.command_path}: error: {message} (usage: {usage}; see --help)"

    def _add_group_options(self) -> None:
        """`--verbose` and `--version` before the command name too (`vima-x -v parse ...`)."""
        names = ",".join(self._names)
        self.app.info.subcommand_metavar = f"{{{names}}} ..."

        def options(
            verbose: Verbose = False,
            version: Annotated[bool, self._version_option()] = False,
        ) -> None:
            _Verbosity.on = _Verbosity.on or verbose

        self.app.callback()(options)

    def _version_option(self) -> Any:
        def show(value: bool) -> None:
            if value:
                from importlib.metadata import version

                print(f"{self.prog} {version(self.prog)}")
                raise typer.Exit()

        return typer.Option(
            "--version", help="Print the version and exit.", callback=show, is_eager=True
        )

    def _framed(self, func: Callable[..., Result], name: str) -> Callable[..., int]:
        """`func` with `--verbose` and `--version` added and the frame around its call."""
        title = f"{self.prog} {name}" if name != self.prog else self.prog
        signature = inspect.signature(func, eval_str=True)
        extra = {
            "verbose": Verbose,
            "version": Annotated[bool, self._version_option()],
        }
        parameters = [
            *signature.parameters.values(),
            *(
                inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=a)
                for key, a in extra.items()
            ),
        ]

        @functools.wraps(func)
        def framed(*args: Any, verbose: bool = False, version: bool = False, **kwargs: Any) -> int:
            _Verbosity.on = _Verbosity.on or verbose
            return _run_framed(title, func, args, kwargs)

        framed.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        framed.__annotations__ = {**func.__annotations__, **extra}
        return framed


class _FastFlags:
    """Flags without a default (`--help`, `--install-completion`) default to False: for a None
    flag Typer builds a pydantic validator, 0.3 s of imports on every `--help`."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.default is None:
                param.default = False
        return params


class _Group(_FastFlags, TyperGroup):
    pass


class _Command(_FastFlags, TyperCommand):
    pass


class _Verbosity:
    """Whether the running command shows debug messages and tracebacks."""

    on = False


def _env_verbose() -> bool:
    return os.environ.get("VIMA_VERBOSE") == "1"


def _is_click_error(error: Exception) -> bool:
    """Whether `error` is one of Click's command-line errors (Typer's own copy of Click, whose
    classes are not public): those carry an exit code and format their message."""
    return isinstance(getattr(error, "exit_code", None), int) and callable(
        getattr(error, "format_message", None)
    )


def _run_framed(
    title: str, func: Callable[..., Result], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> int:
    """Call a command inside the frame; map what happens to an exit code."""
    verbose = _Verbosity.on
    one_native_thread_per_worker(int(kwargs.get("workers") or 1))
    handler = _log_to_stderr(verbose)
    start = time.perf_counter()
    code = EXIT_OK
    try:
        result = func(*args, **kwargs)
        code, product = (result, None) if isinstance(result, int) else result
        _closing_line(title, start)
        if product is not None:
            print(product)
        sys.stdout.flush()  # here, where a closed or full stdout is handled
    except KeyboardInterrupt:
        log.error("%s: interrupted", title)
        return EXIT_INTERRUPTED
    except InputError as error:
        log.error("%s: error: %s", title, _one_line(str(error)))
        log.debug("traceback:", exc_info=error)
        return EXIT_USAGE
    except Exception as error:
        if isinstance(error, OSError) and _stdout_failed(error):
            if error.errno == errno.EPIPE:
                return code  # `| head`: the reader has what it wanted
            error.filename = error.filename or "stdout"
        if _is_click_error(error):
            log.error("%s: error: %s", title, _one_line(error.format_message()))  # type: ignore[attr-defined]
            return EXIT_USAGE
        return _report_error(title, error, verbose)
    finally:
        _remove_handler(handler)
    return code


def _closing_line(title: str, start: float) -> None:
    """The wall time and peak memory of the command, on stderr."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{title}: {time.perf_counter() - start:.1f} s, peak RSS {own:.0f} MB"
        + (f" (largest worker {workers:.0f} MB)" if workers else ""),
        file=sys.stderr,
    )


def _stdout_failed(error: OSError) -> bool:
    """Whether `error` is stdout's: a pipe whose reader has gone, or a stream that still cannot
    take what is buffered. Its rest then goes to /dev/null, so that Python's final flush does
    not fail again (a broken pipe of another file, such as a worker's, is no such error)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # not a file descriptor (captured in-process)
    if error.errno == errno.EPIPE:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        failed = any(events & select.POLLERR for _, events in poller.poll(0))
    else:
        try:
            sys.stdout.flush()
            failed = False
        except OSError:
            failed = True
    if failed:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return failed


def _report_error(title: str, error: Exception, verbose: bool) -> int:
    """One stderr line for an exception (its traceback too under `--verbose`); the exit code."""
    message = _one_line(str(error)) or type(error).__name__
    problem = error if isinstance(error, OutputError) else environment_problem(error)
    if problem is not None:
        log.error("%s: stopped: %s", title, problem)
        log.debug("traceback:", exc_info=error)
        return EXIT_ERROR
    if isinstance(error, USAGE_ERRORS) and not work_started():
        log.error("%s: error: %s", title, message)
        log.debug("traceback:", exc_info=error)
        return EXIT_USAGE
    hint = "" if verbose else " (rerun with --verbose for the traceback)"
    log.error("%s: unexpected error: %s: %s%s", title, type(error).__name__, message, hint)
    log.debug("traceback:", exc_info=error)
    return EXIT_ERROR


def _one_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _log_to_stderr(verbose: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for logger_name in PACKAGE_LOGGERS:
        logger = logging.getLogger(logger_name)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False
    return handler


def _remove_handler(handler: logging.Handler) -> None:
    for logger_name in PACKAGE_LOGGERS:
        logger = logging.getLogger(logger_name)
        logger.removeHandler(handler)
        logger.propagate = True


def completer(names: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """Shell completion from a registry: the names that start with what was typed."""

    def complete(incomplete: str) -> list[str]:
        return [name for name in names() if name.startswith(incomplete)]

    return complete


def list_completer(names: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """Shell completion of a comma-separated list (`--tasks rotate,tw` -> `rotate,twist`)."""

    def complete(incomplete: str) -> list[str]:
        done, _, last = incomplete.rpartition(",")
        prefix = f"{done}," if done else ""
        return [prefix + name for name in names() if name.startswith(last)]

    return complete


def task_names() -> list[str]:
    """The 17 VIMA-Bench task names (completion of task arguments)."""
    return [task.name for task in Task]


def difficulty_names() -> list[str]:
    """The four difficulty names (completion of `--difficulty`)."""
    return [d.value for d in Difficulty]


DifficultyOption = Annotated[
    str,
    typer.Option(
        "--difficulty",
        help=f"Scene difficulty: {', '.join(d.value for d in Difficulty)}.",
        autocompletion=completer(difficulty_names),
    ),
]
"""`--difficulty` of the commands that build scenes (vima-sim, vima-eval online and oracle)."""


def same_shape_bases_names() -> list[str]:
    """The same_shape base variants (completion of `--same-shape-bases`)."""
    return [b.value for b in SameShapeBases]


SameShapeBasesOption = Annotated[
    str,
    typer.Option(
        "--same-shape-bases",
        help="same_shape / same_texture bases: cogelot (bases but bowl, pan, pallet scaled by "
        "2.5, as in CoGeLoT's VIMA-Bench) or upstream (unscaled, as in VIMA-Bench and "
        "VIMA-Data).",
        autocompletion=completer(same_shape_bases_names),
    ),
]
"""`--same-shape-bases` of the commands that build scenes (vima-sim, vima-eval online and
oracle with the builtin simulator)."""

WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, help="Worker processes (one native thread each).")
]
"""`--workers` of the commands that process items in worker processes."""

TokenizerOption = Annotated[
    str | None,
    typer.Option(
        "--tokenizer",
        metavar="NAME_OR_PATH",
        help="tokenizer.json file, folder, or hub name. [default: the shipped VIMA tokenizer]",
    ),
]
"""`--tokenizer` of the commands that tokenize (vima-tokenize, vima-eval perturb)."""


def perturbation_names() -> list[str]:
    """The instruction perturbations (completion of `--perturb`)."""
    from vima_schema.perturbations import PERTURBATIONS

    return list(PERTURBATIONS)
