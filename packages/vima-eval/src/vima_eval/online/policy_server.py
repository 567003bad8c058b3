"""One policy process for N simulator workers (`vima-eval online --policy-server`).

The server loads the checkpoint once and listens on a Unix socket in a private folder (random
authentication key). Each worker connects (`RemoteModel`), receives the policy's config and
checkpoint metadata, and then sends one request per step: the collated inputs of its episode
(with the prompt at the episode's first step) as numpy arrays. The server answers whatever
requests have arrived and keeps each connection's episode decoder (its encoded prompt and its
incremental decoding state, `vima_train.model.incremental`) for the rest of its episode. New
prompts are encoded in batches where their shapes agree (`vima_eval.online.model`); each step
is decoded on its own episode's state. With `incremental` off (the whole history every step,
the reference path) steps of equal shapes are answered in batches too.

Faults: a request that fails in a batch is answered again on its own, so an error belongs to
its episode only (the worker retries the episode once, then lists it, as without the server);
a worker that dies closes its connection and the server forgets it (the pool starts another,
which connects anew). A server that dies stops the run (`PolicyServerError`, exit 3;
`--resume` continues it).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener, wait
from typing import Any

import numpy as np
import torch
from vima_train.data.batch import Observations, Prompt
from vima_train.model.incremental import FullHistory, begin_episode

from vima_eval.online.model import (
    act,
    concatenate,
    encode,
    from_arrays,
    group,
    row,
    shape_key,
    to_arrays,
)

#: Seconds the parent waits for the server to load the policy and listen.
START_TIMEOUT = 600.0


class PolicyServerError(RuntimeError):
    """The policy server could not start, or its process ended while the run needed it."""


@dataclass
class Request:
    """One step of one episode: its inputs (`prompt` at the episode's first step)."""

    prompt: dict[str, np.ndarray | None] | None
    mask: str
    observations: dict[str, np.ndarray | None]
    actions: np.ndarray


@dataclass(frozen=True)
class ServerAddress:
    """Where workers reach the server: a Unix socket path and its authentication key."""

    path: str
    key: bytes


class RemoteModel:
    """A worker's connection to the policy server (a `vima_eval.online.model.Model`)."""

    def __init__(self, address: ServerAddress) -> None:
        try:
            self.conn = Client(address.path, "AF_UNIX", authkey=address.key)
            _, self.config, self.meta = self.conn.recv()
        except (OSError, EOFError) as error:
            raise PolicyServerError(f"cannot reach the policy server ({error})") from None

    def step(
        self, prompt: Prompt | None, mask: str, observations: Observations, actions: torch.Tensor
    ) -> np.ndarray:
        """See `Model.step`: the server computes it."""
        request = Request(
            None if prompt is None else to_arrays(prompt),
            mask,
            to_arrays(observations),
            actions.numpy(),
        )
        try:
            self.conn.send(request)
            kind, value = self.conn.recv()
        except (OSError, EOFError) as error:
            raise PolicyServerError(f"the policy server went away ({error})") from None
        if kind == "error":
            raise RuntimeError(f"policy server: {value}")
        return np.asarray(value)


class PolicyServer:
    """The server's loop: accept connections, answer the requests that arrived, batched."""

    #: Decode each step's new tokens only (`LocalModel.incremental`); False: the whole history
    #: every step, steps of equal shapes batched.
    incremental = True

    def __init__(self, policy: Any, device: str, listener: Listener | None) -> None:
        self.policy, self.device, self.listener = policy, device, listener
        self.caches: dict[Connection, Any] = {}  # a connection's current episode's decoder
        self.accepted: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self.wake_reader, self.wake_writer = os.pipe()
        self.hello = ("hello", policy.config, dict(policy.checkpoint_meta or {}))

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                conn = self.listener.accept()
            except OSError:
                return
            except Exception:  # a client with the wrong key: ignore it
                continue
            self.accepted.put(conn)
            os.write(self.wake_writer, b"x")

    def run(self) -> None:
        """Serve until the process is ended."""
        threading.Thread(target=self._accept, daemon=True).start()
        while True:
            ready = wait([self.wake_reader, *self.caches])
            if self.wake_reader in ready:
                os.read(self.wake_reader, 4096)
                while not self.accepted.empty():
                    conn = self.accepted.get()
                    if self._send(conn, self.hello):
                        self.caches[conn] = None
            requests = []
            for item in ready:
                if isinstance(item, Connection):
                    try:
                        requests.append((item, item.recv()))
                    except (OSError, EOFError):
                        self._drop(item)
            for conn, reply in zip([c for c, _ in requests], self.answer(requests), strict=True):
                self._send(conn, reply)

    def _send(self, conn: Connection, message: Any) -> bool:
        try:
            conn.send(message)
        except OSError:
            self._drop(conn)
            return False
        return True

    def _drop(self, conn: Connection) -> None:
        self.caches.pop(conn, None)
        with contextlib.suppress(OSError):
            conn.close()

    def answer(self, requests: list[tuple[Connection, Request]]) -> list[tuple[str, Any]]:
        """("ok", action) or ("error", text) for each request: new prompts encoded in batches of
        equal shapes, then the actions (incremental: each on its episode's state; else in
        batches of equal shapes); a failed batch is redone one by one."""
        replies: list[tuple[str, Any] | None] = [None] * len(requests)
        starts = [i for i, (_, r) in enumerate(requests) if r.prompt is not None]
        for i in starts:  # a new episode: the previous one's prompt is gone, even on an error
            self.caches[requests[i][0]] = None
        prompts = {i: from_arrays(Prompt, requests[i][1].prompt or {}) for i in starts}
        for batch in group(starts, lambda i: (requests[i][1].mask, shape_key(prompts[i]))):
            for indices, outcome in self._run(batch, lambda b: self._encode(b, requests, prompts)):
                for i, value in zip(indices, outcome, strict=True):
                    if isinstance(value, str):
                        replies[i] = ("error", value)
                    else:
                        self.caches[requests[i][0]] = begin_episode(
                            self.policy, value, self.incremental
                        )
        for i, (conn, _) in enumerate(requests):
            if replies[i] is None and self.caches.get(conn) is None:
                replies[i] = ("error", "no prompt for this episode")
        inputs = {i: self._inputs(conn, r) for i, (conn, r) in enumerate(requests)
                  if replies[i] is None}  # fmt: skip

        def batchable(i: int) -> Any:
            return i if self.incremental else shape_key(inputs[i][0].cache, *inputs[i][1:])

        for batch in group(list(inputs), batchable):
            for indices, outcome in self._run(batch, lambda b: self._act(b, inputs)):
                for i, value in zip(indices, outcome, strict=True):
                    replies[i] = ("error", value) if isinstance(value, str) else ("ok", value)
        return [reply or ("error", "not answered") for reply in replies]

    def _inputs(self, conn: Connection, request: Request) -> tuple[Any, Observations, Any]:
        observations = from_arrays(Observations, request.observations)
        return self.caches[conn], observations, torch.from_numpy(request.actions)

    def _run(self, batch: list[int], compute: Any) -> Iterator[tuple[list[int], list[Any]]]:
        """`compute(batch)`, or each index alone when the batch fails (its error text)."""
        try:
            yield batch, compute(batch)
            return
        except Exception:
            if len(batch) == 1:
                yield batch, [traceback.format_exc(limit=-3).strip()]
                return
        for index in batch:
            yield from self._run([index], compute)

    def _encode(self, batch: list[int], requests: Any, prompts: dict[int, Prompt]) -> list[Any]:
        mask = requests[batch[0]][1].mask
        cache = encode(self.policy, concatenate([prompts[i] for i in batch]), mask, self.device)
        return [row(cache, n) for n in range(len(batch))] if len(batch) > 1 else [cache]

    def _act(self, batch: list[int], inputs: dict[int, Any]) -> list[np.ndarray]:
        episodes, observations, actions = zip(*(inputs[i] for i in batch), strict=True)
        if len(batch) == 1:
            return list(act(self.policy, episodes[0], observations[0], actions[0], self.device))
        joined = FullHistory(self.policy, concatenate([e.cache for e in episodes]))
        together = (concatenate(observations), concatenate(actions))
        return list(act(self.policy, joined, *together, self.device))


def serve_policy(path: str, key: bytes, checkpoint: str, device: str, ready: Connection) -> None:
    """Process entry point: load the policy, listen at `path`, say so on `ready` (None, or the
    error's text), then serve."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)  # as the per-worker policies: the same kernels, the same numbers
    try:
        from vima_train.checkpoint import load_policy

        policy = load_policy(checkpoint, device)
        policy.shuffle_objects = False
        listener = Listener(path, "AF_UNIX", authkey=key)
    except Exception as error:
        ready.send(f"{type(error).__name__}: {error}")
        return
    ready.send(None)
    ready.close()
    PolicyServer(policy, device, listener).run()


@contextlib.contextmanager
def policy_server(
    checkpoint: str, device: str, context: Any
) -> Iterator[tuple[Any, ServerAddress]]:
    """A running policy server process and its address; ended on leaving the block."""
    folder = tempfile.mkdtemp(prefix="vima-policy-")
    address = ServerAddress(os.path.join(folder, "socket"), os.urandom(32))
    parent, child = context.Pipe(duplex=False)
    proc = context.Process(
        target=serve_policy, args=(address.path, address.key, checkpoint, device, child),
        daemon=True,
    )  # fmt: skip
    proc.start()
    child.close()
    try:
        if not parent.poll(START_TIMEOUT):
            raise PolicyServerError(f"the policy server did not start in {START_TIMEOUT:.0f} s")
        try:
            problem = parent.recv()
        except EOFError:
            raise PolicyServerError(
                f"the policy server ended while starting (exit code {proc.exitcode})"
            ) from None
        if problem is not None:
            raise PolicyServerError(f"the policy server could not start: {problem}")
        yield proc, address
    finally:
        parent.close()
        proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
        shutil.rmtree(folder, ignore_errors=True)
