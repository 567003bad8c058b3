"""The frame every `vima-*` command runs in: logging, exit codes, thread limits, timing line.

`run_command` parses the arguments, sends log records to stderr, runs the command and maps what
happens to the exit codes of `vima_schema.runner`: the command's own code (0 all done, 1 done
except listed failures), 2 for a usage or configuration error (a `ValueError`, a missing or
existing path: one line naming the problem), 3 for any other exception (one line with its type;
the traceback only with `--verbose`), 130 on Ctrl-C. The product path is printed last on stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable

from vima_schema.runner import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    one_native_thread_per_worker,
)

#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exceptions that mean "the arguments or the input are wrong", not "the program is".
USAGE_ERRORS = (ValueError, FileNotFoundError, FileExistsError)
#: Loggers of the workspace's packages, shown at INFO (DEBUG with `--verbose`).
PACKAGE_LOGGERS = ("vima_schema", "vima_convert", "vima_tokenize")

Command = Callable[[argparse.Namespace], tuple[int, str | None]]
"""Runs a parsed command line; returns (exit code, product path or None)."""


def verbose_option() -> argparse.ArgumentParser:
    """A parent parser adding `--verbose` (pass it in `parents=` of every (sub)parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="store_true", help="debug messages and error tracebacks"
    )
    return parent


def run_command(
    prog: str,
    parser: argparse.ArgumentParser,
    command: Command,
    argv: list[str] | None = None,
) -> int:
    """Parse `argv` with `parser`, run `command` and return the exit code (see module doc).

    A `workers` argument limits native threads per worker; a last stderr line gives the wall
    time and the peak RSS of this process and of its largest worker.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else EXIT_OK
    verbose = bool(getattr(args, "verbose", False))
    name = " ".join(part for part in (prog, getattr(args, "command", None)) if part)
    one_native_thread_per_worker(getattr(args, "workers", 1) or 1)
    handler = _log_to_stderr(verbose)
    log = logging.getLogger(PACKAGE_LOGGERS[0])
    start = time.perf_counter()
    try:
        code, product = command(args)
    except KeyboardInterrupt:
        log.error("%s: interrupted", name)
        return EXIT_INTERRUPTED
    except USAGE_ERRORS as error:
        log.error("%s: error: %s", prog, error)
        log.debug("traceback:", exc_info=True)
        return EXIT_USAGE
    except Exception as error:
        hint = "" if verbose else " (rerun with --verbose for the traceback)"
        log.error("%s: unexpected error: %s: %s%s", prog, type(error).__name__, error, hint)
        log.debug("traceback:", exc_info=True)
        return EXIT_ERROR
    finally:
        _remove_handler(handler)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{name}: {time.perf_counter() - start:.1f} s, peak RSS {own:.0f} MB"
        + (f" (largest worker {workers:.0f} MB)" if workers else ""),
        file=sys.stderr,
    )
    if product is not None:
        print(product)
    return code


def report_unexpected(prog: str, error: Exception) -> int:
    """For commands outside `run_command`: one stderr line naming an unexpected exception (its
    traceback too when the environment sets `VIMA_VERBOSE=1`); returns `EXIT_ERROR`."""
    if os.environ.get("VIMA_VERBOSE") == "1":
        traceback.print_exception(error, file=sys.stderr)
    hint = "" if os.environ.get("VIMA_VERBOSE") == "1" else " (VIMA_VERBOSE=1 for the traceback)"
    first = (str(error).strip().splitlines() or [""])[0]
    print(f"{prog}: unexpected error: {type(error).__name__}: {first}{hint}", file=sys.stderr)
    return EXIT_ERROR


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
