"""Running one function over many items with workers, progress on stderr, and failures."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, TypeVar

from vima_schema.processes import Answer, Died, ProcessPool, serve

#: Exit codes of every vima-* command: all done / done except listed failures / usage or
#: configuration error / unexpected error (a bug or an environment problem such as a full disk;
#: one line on stderr, the traceback with `--verbose`).
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: Hand-outs of an item whose worker process died (the first and one retry).
WORKER_ATTEMPTS = 2

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


class OutputError(Exception):
    """The machine cannot take the output (a full disk, a read-only, unwritable or vanished
    output folder): not the data's fault, so the whole command stops at once (exit 3) with one
    line saying what, where, and that a rerun resumes."""


#: errno values that mean the file system cannot take what is written, whatever the path,
#: with what the user has to do about it.
_NO_ROOM = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space",
    errno.EFBIG: "free some space",
    errno.EROFS: "make it writable",
}
#: errno values that are the environment's fault when they concern the output.
_UNWRITABLE = {errno.EACCES: "fix its permissions", errno.EPERM: "fix its permissions"}


def environment_problem(error: BaseException, output: Path | None = None) -> OutputError | None:
    """An `OutputError` describing `error` if it (or what caused it) is an environment error,
    else None: a full disk, quota or read-only file system anywhere; permission denied on the
    output (anywhere when `output` is None: a command's own file I/O)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if cause is None or cause.errno is None:
        return None
    where = cause.filename or output or "its output"
    fix = _NO_ROOM.get(cause.errno)
    if fix is None and cause.errno in _UNWRITABLE:
        inside = output is None or (
            cause.filename is not None and _inside(os.fsdecode(cause.filename), output)
        )
        fix = _UNWRITABLE[cause.errno] if inside else None
    if fix is None:
        return None
    what = os.strerror(cause.errno).lower()
    return OutputError(f"{what}: {where} ({fix}, then rerun: it resumes where this run stopped)")


def _inside(path: str, folder: Path) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


class OutputWatch:
    """Notices that the output folder vanished or was replaced (deleted, unmounted) while a run
    was writing into it, instead of letting writes recreate it somewhere else. It holds the
    folder open, so that a new folder cannot take over its inode number."""

    def __init__(self, output: Path | None) -> None:
        self.output = output
        self.fd: int | None = None
        if output is not None:
            with contextlib.suppress(OSError):  # not there yet: nothing to watch
                self.fd = os.open(output, os.O_RDONLY | os.O_DIRECTORY)

    def check(self) -> None:
        """Raise `OutputError` if the output folder is no longer the one the run began with."""
        if self.fd is None:
            return
        held = os.fstat(self.fd)
        try:
            same = held.st_nlink > 0 and os.path.samestat(held, os.stat(self.output or "."))
        except FileNotFoundError:
            same = False
        if not same:
            raise OutputError(
                f"the output folder {self.output} vanished or was replaced while being written "
                "(restore or recreate it, then rerun: it resumes where this run stopped)"
            )

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


@contextmanager
def output_guard(output: Path) -> Iterator[OutputWatch]:
    """For a command that writes into `output` itself (not through `run_items`): yields the
    folder's `OutputWatch` (`check()` it as items finish) and raises an environment error of
    the block as the `OutputError` naming `output` (a failed write often names no file)."""
    watch = OutputWatch(output)
    try:
        yield watch
    except OutputError:
        raise
    except Exception as error:
        problem = environment_problem(error, output)
        if problem is None:
            raise
        raise problem from error
    finally:
        watch.close()


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


def _call(func: Callable[[Any], Any], item: Any, output: Path | None) -> Outcome:
    try:
        return Outcome(item, func(item))
    except Exception as error:  # one bad item must not stop the run, a full disk must
        problem = environment_problem(error, output)
        if problem is not None:
            raise problem from error
        return Outcome(
            item,
            error=str(error) or type(error).__name__,
            error_type=type(error).__name__,
            traceback=traceback.format_exc(),
        )


def _serve_items(conn: Connection, func: Callable[[Any], Any], output: Path | None) -> None:
    """A `run_items` worker: answer each item with its `Outcome`, or the `OutputError`."""

    def answer(item: Any) -> Outcome | OutputError:
        try:
            return _call(func, item, output)
        except OutputError as problem:
            return problem

    serve(conn, answer)


def _died(answer: Answer) -> Outcome:
    message = f"{answer.value} on both tries"
    return Outcome(answer.item, error=message, error_type="WorkerDied", traceback=None)


def run_items(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    desc: str = "",
    unit: str = "ep",
    total: int | None = None,
    chunksize: int = 8,
    output: Path | None = None,
) -> Iterator[Outcome]:
    """Apply `func` to each item in `workers` processes, yielding outcomes as they finish
    (the command's work has started: see `mark_work_started`).

    Exceptions become failed outcomes, except environment errors (`environment_problem`: a
    full disk, a read-only or unwritable `output` folder, or `output` vanishing), which stop
    the run with an `OutputError`. An item whose worker process dies (SIGKILL, the OOM
    killer, a crash in native code) is retried once in a new worker, then is a failed outcome
    (`error_type` "WorkerDied"). A tqdm bar with the rate goes to stderr. Use `chunksize=1`
    for few large items (shards), so that no worker idles while another queues.
    """
    from tqdm import tqdm  # here, not at the top: every command's `--help` imports this module

    mark_work_started()
    watch = OutputWatch(output)
    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
    try:
        if workers <= 1:
            for item in items:
                outcome = _call(func, item, output)
                watch.check()
                yield outcome
                bar.update()
            return
        with ProcessPool(workers, _serve_items, (func, output)) as pool:
            for answer in pool.answers(items, chunksize):
                if isinstance(answer.value, OutputError):
                    raise answer.value
                watch.check()
                if isinstance(answer.value, Died):
                    if answer.attempt < WORKER_ATTEMPTS:
                        pool.retry(answer)
                        continue
                    answer = Answer(answer.item, _died(answer), answer.attempt)
                yield answer.value
                bar.update()
    finally:
        bar.close()
        watch.close()


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
    with _locked(path) as handle:
        handle.write(json.dumps(record) + "\n")


def tidy_failures(path: Path, done: Collection[str]) -> None:
    """Rewrite a failures.jsonl file after a run: drop the lines of items in `done` (written,
    or found complete, by this run), keep only the newest line of every other item, and delete
    the file when no line is left.

    Safe beside other runs appending to the same file (`--shard` array jobs): both hold its
    lock, and the file is replaced atomically.
    """
    from vima_schema.atomic import atomic_write_text

    if not path.exists():
        return
    with _locked(path) as handle:
        handle.seek(0)
        lines = handle.readlines()
        newest = {_failure_item(line) or line: line for line in lines}  # the last one wins
        kept = [line for item, line in newest.items() if item not in done]
        if not kept:
            path.unlink()
        elif len(kept) < len(lines):
            atomic_write_text(path, "".join(kept))


def _failure_item(line: str) -> str | None:
    try:
        return json.loads(line).get("path")
    except (ValueError, AttributeError):
        return None  # a line of another writer: kept


@contextmanager
def _locked(path: Path) -> Iterator[IO[str]]:
    """`path` opened for appending under an exclusive lock, and still the file at `path` (not
    one that `forget_failures` replaced while this process waited for the lock)."""
    while True:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
            except FileNotFoundError:
                current = False
            if current:
                yield handle
                return
        finally:
            handle.close()  # also releases the lock
