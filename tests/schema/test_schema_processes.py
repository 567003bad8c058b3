"""A worker process that dies (SIGKILL) does not hang `run_items`: its item is retried once in
a new worker, then listed as failed, and the other items' outcomes are kept
(`vima_schema.processes`, `vima_schema.runner`)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from vima_schema.processes import Died, ProcessPool, serve
from vima_schema.runner import run_items


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block takes longer than `seconds`."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: a lost item hangs the run")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class _Killer:
    """Kills its own (worker) process on item "kill", and on item "once" the first time."""

    def __init__(self, marks: Path) -> None:
        self.marks = marks

    def __call__(self, item: str) -> str:
        mark = self.marks / f"{item}-{os.getpid()}"
        mark.touch()
        if item == "kill" or (item == "once" and len(list(self.marks.glob("once-*"))) == 1):
            os.kill(os.getpid(), signal.SIGKILL)
        return item.upper()


@pytest.mark.parametrize("chunksize", [1, 3])
def test_a_killed_worker_is_retried_once_then_listed_and_the_rest_kept(
    tmp_path: Path, chunksize: int
) -> None:
    items = ["a", "kill", "b", "once", "c", "d", "e"]
    with deadline(120):
        outcomes = list(run_items(_Killer(tmp_path), items, workers=2, chunksize=chunksize))
    by_item = {outcome.item: outcome for outcome in outcomes}
    assert sorted(by_item) == sorted(items) and len(outcomes) == len(items)
    failed = by_item.pop("kill")
    assert failed.error == "worker process died (exit code -9, killed by SIGKILL) on both tries"
    assert failed.error_type == "WorkerDied"
    assert {item: o.value for item, o in by_item.items()} == {i: i.upper() for i in by_item}
    assert all(o.error is None for o in by_item.values())
    killers = {path.name.split("-")[1] for path in tmp_path.glob("kill-*")}
    assert len(list(tmp_path.glob("kill-*"))) == 2 and len(killers) == 2  # two workers
    assert len(list(tmp_path.glob("once-*"))) == 2  # died once, then done by a new worker


def _echo(conn: object, factor: int) -> None:
    serve(conn, lambda item: item * factor)  # type: ignore[arg-type]


def test_pool_answers_every_item_and_stops_its_workers() -> None:
    with deadline(60), ProcessPool(2, _echo, (10,)) as pool:
        answers = list(pool.answers(range(7), chunksize=2))
        procs = list(pool.procs.values())
    assert sorted(a.value for a in answers) == [i * 10 for i in range(7)]
    assert all(a.attempt == 1 for a in answers)
    assert procs and all(p.exitcode == 0 for p in procs)  # asked to finish, not killed


def test_died_names_the_signal() -> None:
    assert str(Died(-9)) == "worker process died (exit code -9, killed by SIGKILL)"
    assert str(Died(1)) == "worker process died (exit code 1)"
    assert str(Died(None)) == "worker process died (exit code None)"
