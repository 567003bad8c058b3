"""`vima-eval online --policy-server`: one policy process answers the workers' steps (each on
its episode's incremental decoder; on the whole-history path in batches of equal shapes); the
result rows equal those of per-worker policies, a batch acts as each of its requests alone, and
faults are handled as without the server (a failed step costs its episode, a killed worker its
retry; a killed server stops the run, which `--resume` finishes)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from vima_eval.online import policy_server
from vima_eval.online.agents import PolicyAgent
from vima_eval.online.episode import run_episode
from vima_eval.online.model import LocalModel, shape_key, to_arrays
from vima_eval.online.plan import Job
from vima_eval.online.policy_server import PolicyServer, Request
from vima_eval.online.seeds import episode_seed
from vima_schema.perturbations import get_perturbation
from vima_schema.runner import EXIT_ERROR, EXIT_FAILURES, EXIT_OK
from vima_sim.env import VimaEnv
from vima_train.checkpoint import load_policy

from .conftest import RunEval

ARGS = ("--levels", "L1", "--wandb", "disabled", "--workers", "2")


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(folder / "episodes.parquet").to_pylist()
    for row in rows:
        row.pop("time_s")
    return sorted(rows, key=lambda row: (row["episode"], row["perturbation"]))


def test_server_rows_equal_per_worker_policies(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path
) -> None:
    some = (*ARGS, "--tasks", "visual_manipulation,follow_order", "--episodes", "3")
    alone = run_eval("online", tiny_checkpoint, *some, "--out", tmp_path / "alone")
    served = run_eval("online", tiny_checkpoint, *some, "--policy-server", "--out",
                      tmp_path / "served")  # fmt: skip
    assert alone.code == served.code == EXIT_OK, served.err
    rows = _rows(tmp_path / "alone")
    assert len(rows) == 6 and _rows(tmp_path / "served") == rows
    settings = json.loads((tmp_path / "served" / "metrics.json").read_text())["settings"]
    assert settings["policy_server"] is True


class Recording(LocalModel):
    """The local model, keeping every step's inputs as the server would receive them."""

    def __init__(self, policy: Any) -> None:
        super().__init__(policy)
        self.requests: list[Request] = []
        self.actions: list[np.ndarray] = []

    def step(self, prompt: Any, mask: str, observations: Any, actions: Any) -> np.ndarray:
        self.requests.append(Request(None if prompt is None else to_arrays(prompt), mask,
                                     to_arrays(observations), actions.numpy()))  # fmt: skip
        self.actions.append(super().step(prompt, mask, observations, actions))
        return self.actions[-1]


def _episode(checkpoint: Path, policy: Any, perturbation: str) -> Recording:
    """L1/rotate/0 for 3 steps under `perturbation`, its inputs recorded."""
    model = Recording(policy)
    env = VimaEnv("rotate", "placement_generalization", "easy")
    job = Job(1, "rotate", 0, episode_seed(0, 1, "rotate", 0), perturbation)
    agent = PolicyAgent(checkpoint, get_perturbation(perturbation), 0, model=model)
    assert run_episode(env, agent, job, time_limit="3").steps == 3
    env.close()
    return model


def _logits(policy: Any, requests: list[Request]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and greedy bins of `requests` (each a first step) computed as one batch (by the
    whole-history path, which batches steps)."""
    server = PolicyServer(policy, "cpu", None)
    server.incremental = False
    seen: list[torch.Tensor] = []
    logits = policy.action_logits

    def spy(*args: Any) -> torch.Tensor:
        seen.append(logits(*args))
        return seen[-1]

    policy.action_logits = spy
    try:
        replies = server.answer([(object(), r) for r in requests])
    finally:
        del policy.action_logits
    assert all(kind == "ok" for kind, _ in replies), replies
    return seen[-1], seen[-1].argmax(-1)


def test_a_batch_of_equal_shapes_acts_as_each_request_alone(tiny_checkpoint: Path) -> None:
    policy = load_policy(tiny_checkpoint)
    plain = _episode(tiny_checkpoint, policy, "noop")
    shuffled = _episode(tiny_checkpoint, policy, "shuffle_objects")
    a, b = plain.requests[0], shuffled.requests[0]  # the same scene, other object orders
    assert shape_key(a.prompt, a.observations, a.actions) == shape_key(
        b.prompt, b.observations, b.actions
    )
    together, bins = _logits(policy, [a, b])
    assert together.shape[0] == 2  # one batch
    for n, request in enumerate((a, b)):
        alone, alone_bins = _logits(policy, [request])
        assert (together[n] - alone[0]).abs().max() <= 1e-6
        assert torch.equal(bins[n], alone_bins[0])
    # whole episodes, both at once, step by step: the actions of each alone (both paths)
    for incremental in (True, False):
        server = PolicyServer(policy, "cpu", None)
        server.incremental = incremental
        first, second = object(), object()
        for step in range(3):
            both = [(first, plain.requests[step]), (second, shuffled.requests[step])]
            replies = server.answer(both)
            assert [kind for kind, _ in replies] == ["ok", "ok"]
            assert np.array_equal(replies[0][1], plain.actions[step])
            assert np.array_equal(replies[1][1], shuffled.actions[step])
    # other shapes (a first and a third step) are answered one by one, as alone
    replies = server.answer([(object(), plain.requests[0]), (second, shuffled.requests[2])])
    assert np.array_equal(replies[0][1], plain.actions[0])
    assert np.array_equal(replies[1][1], shuffled.actions[2])


def test_a_step_the_server_cannot_compute_costs_its_episode_not_the_run(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    act = policy_server.act

    def second_steps_fail(policy: Any, cache: Any, observations: Any, *rest: Any) -> Any:
        if observations.step_mask.shape[1] >= 2:
            raise ValueError("no second step")
        return act(policy, cache, observations, *rest)

    monkeypatch.setattr(policy_server, "act", second_steps_fail)  # the server forks: inherited
    out = tmp_path / "run"
    run = run_eval("online", tiny_checkpoint, *ARGS, "--tasks", "rotate", "--episodes", "2",
                   "--time-limit", "2", "--policy-server", "--out", out)  # fmt: skip
    assert run.code == EXIT_FAILURES, run.err
    errors = json.loads((out / "errors.json").read_text())
    assert sorted(e["episode"] for e in errors) == ["L1/rotate/0", "L1/rotate/1"]
    assert all("policy server" in e["problem"] and "no second step" in e["problem"]
               for e in errors)  # fmt: skip


def test_a_killed_worker_or_server(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed on an episode's reset is replaced and reconnects (the episode is retried,
    then listed); a killed server stops the run with one line, and `--resume` finishes it."""
    import vima_sim.env

    doomed = episode_seed(0, 1, "rotate", 1)
    reset = vima_sim.env.VimaEnv.reset

    def killing(self: Any, *args: Any, seed: int | None = None, **kwargs: Any) -> Any:
        if seed == doomed:
            os.kill(os.getpid(), signal.SIGKILL)
        return reset(self, *args, seed=seed, **kwargs)

    monkeypatch.setattr(vima_sim.env.VimaEnv, "reset", killing)
    some = (*ARGS, "--tasks", "rotate", "--episodes", "3", "--time-limit", "2", "--policy-server")
    run = run_eval("online", tiny_checkpoint, *some, "--out", tmp_path / "worker")
    assert run.code == EXIT_FAILURES, run.err
    (error,) = json.loads((tmp_path / "worker" / "errors.json").read_text())
    assert error["episode"] == "L1/rotate/1" and "killed by SIGKILL" in error["problem"]
    assert [r["episode"] for r in _rows(tmp_path / "worker")] == ["L1/rotate/0", "L1/rotate/2"]
    monkeypatch.undo()

    answer = PolicyServer.answer
    marks = tmp_path / "marks"
    marks.mkdir()

    def dying(self: Any, requests: Any) -> Any:
        (marks / str(len(list(marks.iterdir())))).touch()
        if len(list(marks.iterdir())) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return answer(self, requests)

    monkeypatch.setattr(PolicyServer, "answer", dying)
    out = tmp_path / "server"
    stopped = run_eval("online", tiny_checkpoint, *some, "--out", out)
    assert stopped.code == EXIT_ERROR, stopped.err
    (line,) = [line for line in stopped.err.splitlines() if "PolicyServerError" in line]
    # a worker sees it die mid-step ("went away") or, starting late, finds no server
    assert ("went away" in line or "cannot reach" in line) and "--resume" in line
    assert "failed twice" not in stopped.err
    monkeypatch.undo()
    resumed = run_eval("online", tiny_checkpoint, *some, "--out", out, "--resume")
    assert resumed.code == EXIT_OK, resumed.err
    assert [r["episode"] for r in _rows(out)] == [f"L1/rotate/{n}" for n in range(3)]
