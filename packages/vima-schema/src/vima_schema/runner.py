"""Running one function over many items with workers, progress on stderr, and failures."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

#: Exit codes of every vima-* command: all done / done except listed failures / usage or
#: configuration error / unexpected error (a bug or an environment problem such as a full disk;
#: one line on stderr, the traceback with `--verbose`).
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome:
    """Result of one item: `error` is None on success, else the message, with the exception's
    type name in `error_type` and its formatted traceback in `traceback`."""

    item: Any
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None


_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_native_thread_per_worker(workers: int) -> None:
    """With several workers, keep BLAS/OpenMP to one thread each (call before importing numpy).

    Worker processes already use every core; threaded BLAS inside each of them oversubscribes
    the machine (measured: 2 workers took 13.2 s instead of 7.9 s on 2 cores).
    """
    if workers > 1:
        for name in _THREAD_VARIABLES:
            os.environ.setdefault(name, "1")


class _Work:
    """Whether the running command has started its work (its inputs were accepted)."""

    started = False


class InputError(ValueError):
    """A problem with the arguments or inputs that only shows once work has started (an empty
    split, a batch larger than the data): exit 2 like a usage error, not 3 like a bug."""


def mark_work_started() -> None:
    """Say that the inputs were accepted and work began: from now on a `ValueError` is a bug
    (exit 3 with its traceback under `--verbose`), no longer a usage error (exit 2)."""
    _Work.started = True


def reset_work_started() -> None:
    """Forget an earlier command's start (the frame calls it before each command)."""
    _Work.started = False


def work_started() -> bool:
    """Whether `mark_work_started` was called since the command began."""
    return _Work.started


def _call(job: tuple[Callable[[Any], Any], Any]) -> Outcome:
    func, item = job
    try:
        return Outcome(item, func(item))
    except Exception as error:  # one bad item must not stop the run
        return Outcome(
            item,
            error=str(error) or type(error).__name__,
            error_type=type(error).__name__,
            traceback=traceback.format_exc(),
        )


def run_items(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    desc: str = "",
    unit: str = "ep",
    total: int | None = None,
    chunksize: int = 8,
) -> Iterator[Outcome]:
    """Apply `func` to each item in `workers` processes, yielding outcomes as they finish
    (the command's work has started: see `mark_work_started`).

    Exceptions become failed outcomes; a tqdm bar with the rate goes to stderr. Use
    `chunksize=1` for few large items (shards), so that no worker idles while another queues.
    """
    from tqdm import tqdm  # here, not at the top: every command's `--help` imports this module

    mark_work_started()
    jobs = ((func, item) for item in items)
    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
    try:
        if workers <= 1:
            for job in jobs:
                yield _call(job)
                bar.update()
            return
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with context.Pool(workers) as pool:
            for outcome in pool.imap_unordered(_call, jobs, chunksize=chunksize):
                yield outcome
                bar.update()
    finally:
        bar.close()


def append_failure(
    path: Path,
    item: str,
    error: str,
    *,
    error_type: str | None = None,
    traceback: str | None = None,
) -> None:
    """Append one `{"path", "error", "type", "traceback", "time"}` line to a failures.jsonl
    file (`type` and `traceback` are null for failures found without an exception)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "path": item,
        "error": error,
        "type": error_type,
        "traceback": traceback,
        "time": time.strftime("%FT%T"),
    }
    line = json.dumps(record)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
