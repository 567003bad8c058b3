"""Worker processes that take items over a pipe, and whose deaths are noticed.

`multiprocessing.Pool` loses the task of a worker that dies (SIGKILL, the OOM killer, a crash
in native code): its result never arrives and the run hangs. A `ProcessPool` knows which items
each worker holds and watches each worker's process: the item a dead worker was on is answered
with `Died` (the caller may `retry` it), the items it had not started go back in line, and a new
worker takes its place.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


@dataclass(frozen=True)
class Died:
    """The answer for the item a worker was on when its process ended."""

    exitcode: int | None

    def __str__(self) -> str:
        code = self.exitcode
        how = ""
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                how = f", killed by {signal.Signals(-code).name}"
        return f"worker process died (exit code {code}{how})"


@dataclass(frozen=True)
class Answer:
    """A worker's answer for `item` (or `Died`) on its `attempt`-th hand-out (1 the first)."""

    item: Any
    value: Any
    attempt: int


def default_context() -> Any:
    """Fork where the platform allows it (workers inherit what the parent imported), else
    spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def serve(conn: Connection, answer: Callable[[Any], Any]) -> None:
    """A worker's loop: send `answer(item)` for each item of every chunk received, until the
    parent sends None or goes away (or Ctrl-C)."""
    try:
        while (chunk := conn.recv()) is not None:
            for item in chunk:
                conn.send(answer(item))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass


class ProcessPool:
    """`size` worker processes running `target(conn, *args)` (which calls `serve`), started
    when there is work for them. Leaving its `with` block normally lets the workers finish;
    leaving it by an exception terminates them."""

    def __init__(
        self,
        size: int,
        target: Callable[..., None],
        args: tuple[Any, ...] = (),
        *,
        context: Any = None,
        stop_timeout: float = 10.0,
    ) -> None:
        if size < 1:
            raise ValueError("a process pool needs at least one worker")
        self.size, self.target, self.args = size, target, args
        self.context = context or default_context()
        self.stop_timeout = stop_timeout
        self.procs: dict[int, Any] = {}
        self.conns: dict[int, Connection] = {}
        self.held: dict[int, deque[tuple[Any, int]]] = {}  # sent, not answered, in order
        self.queue: deque[tuple[Any, int]] = deque()  # retries and returned items first

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(graceful=kind is None)

    def retry(self, answer: Answer) -> None:
        """Hand `answer.item` out again, before the items not yet handed out."""
        self.queue.appendleft((answer.item, answer.attempt + 1))

    def answers(self, items: Iterable[Any], chunksize: int = 1) -> Iterator[Answer]:
        """Send `items` to the workers in chunks and yield the answers as they arrive (with
        the items `retry` put back) until every item is answered."""
        source = iter(items)
        while True:
            self._hand_out(source, max(1, chunksize))
            if not any(self.held.values()):
                return
            yield from self._collect()

    def _hand_out(self, source: Iterator[Any], chunksize: int) -> None:
        for slot in range(self.size):
            if self.held.get(slot):
                continue
            chunk = [self.queue.popleft() for _ in range(min(chunksize, len(self.queue)))]
            chunk += [(item, 1) for item in _take(source, chunksize - len(chunk))]
            if not chunk:
                return
            self._send(slot, chunk)

    def _send(self, slot: int, chunk: list[tuple[Any, int]]) -> None:
        items = [item for item, _ in chunk]
        if slot not in self.procs:
            self._start(slot)
        try:
            self.conns[slot].send(items)
        except OSError:  # it died while idle: a new worker takes the chunk
            self._end(slot)
            self._start(slot)
            self.conns[slot].send(items)
        self.held[slot] = deque(chunk)

    def _start(self, slot: int) -> None:
        parent, child = self.context.Pipe()
        proc = self.context.Process(target=self.target, args=(child, *self.args), daemon=True)
        proc.start()
        child.close()
        self.procs[slot], self.conns[slot] = proc, parent

    def _end(self, slot: int) -> int | None:
        """Forget the (dead) worker of `slot`; its exit code."""
        proc, conn = self.procs.pop(slot), self.conns.pop(slot)
        proc.join(5)
        conn.close()
        return proc.exitcode

    def _collect(self) -> Iterator[Answer]:
        """Wait for answers and deaths; yield what they mean for the items held."""
        ready = set(wait([*self.conns.values(), *(p.sentinel for p in self.procs.values())]))
        for slot in list(self.procs):
            conn, proc = self.conns[slot], self.procs[slot]
            if conn in ready:
                try:
                    value = conn.recv()
                except (EOFError, OSError):
                    pass  # it died: below
                else:
                    if self.held.get(slot):
                        item, attempt = self.held[slot].popleft()
                        yield Answer(item, value, attempt)
                    continue
            elif proc.sentinel not in ready:
                continue
            held = self.held.pop(slot, deque())
            died = Died(self._end(slot))
            if held:
                item, attempt = held.popleft()
                self.queue.extendleft(reversed(held))  # not started: not the worker's end
                yield Answer(item, died, attempt)

    def close(self, graceful: bool = True) -> None:
        """Stop every worker: ask them to finish (`graceful`) or terminate them; kill any
        still running after `stop_timeout` seconds."""
        for conn in self.conns.values():
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs.values():
            if not graceful:
                proc.terminate()
            proc.join(self.stop_timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.conns.values():
            conn.close()
        self.procs, self.conns, self.held = {}, {}, {}


def _take(source: Iterator[Any], count: int) -> list[Any]:
    chunk: list[Any] = []
    if count <= 0:
        return chunk
    for item in source:
        chunk.append(item)
        if len(chunk) >= count:
            break
    return chunk
