"""Online evaluation decodes incrementally (`LocalModel.incremental`; the policy server's rows
equal the per-worker ones, tests/eval/test_eval_policy_server.py): the same actions at every
step and the same result rows as re-reading the whole history each step; a step without an
episode fails with a message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from vima_eval.online.agents import PolicyAgent
from vima_eval.online.episode import run_episode
from vima_eval.online.model import LocalModel
from vima_eval.online.plan import Job
from vima_eval.online.seeds import episode_seed
from vima_schema.perturbations import get_perturbation
from vima_schema.runner import EXIT_OK
from vima_sim.env import VimaEnv
from vima_train.checkpoint import load_policy
from vima_train.data.batch import collate_observations

from .conftest import RunEval


class Recording(LocalModel):
    """The local model, keeping the actions it answers."""

    def __init__(self, policy: Any, incremental: bool) -> None:
        super().__init__(policy)
        self.incremental = incremental
        self.actions: list[np.ndarray] = []

    def step(self, prompt: Any, mask: str, observations: Any, actions: Any) -> np.ndarray:
        self.actions.append(super().step(prompt, mask, observations, actions))
        return self.actions[-1]


def _actions(checkpoint: Path, incremental: bool) -> list[list[np.ndarray]]:
    """Each step's action in three 5-step episodes (two tasks, a perturbation among them)."""
    policy = load_policy(checkpoint)
    policy.shuffle_objects = False
    jobs = [("rotate", 0, "noop"), ("rotate", 1, "shuffle_objects"), ("follow_order", 0, "noop")]
    found = []
    for task, episode, perturbation in jobs:
        model = Recording(policy, incremental)
        env = VimaEnv(task, "placement_generalization", "easy")
        job = Job(1, task, episode, episode_seed(0, 1, task, episode), perturbation)
        agent = PolicyAgent(checkpoint, get_perturbation(perturbation), 0, model=model)
        run_episode(env, agent, job, time_limit="5")
        env.close()
        found.append(model.actions)
    return found


def test_each_step_acts_as_the_whole_history(tiny_checkpoint: Path) -> None:
    incremental, full = _actions(tiny_checkpoint, True), _actions(tiny_checkpoint, False)
    assert [len(a) for a in incremental] == [len(a) for a in full]
    assert sum(len(a) for a in full) >= 8  # several episodes of several steps
    for steps, expected in zip(incremental, full, strict=True):
        for action, want in zip(steps, expected, strict=True):
            assert np.array_equal(action, want)


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(folder / "episodes.parquet").to_pylist()
    for row in rows:
        row.pop("time_s")
    return sorted(rows, key=lambda row: (row["episode"], row["perturbation"]))


def test_rows_equal_those_of_the_whole_history(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--levels", "L1", "--wandb", "disabled", "--workers", "2", "--tasks",
            "visual_manipulation,follow_order", "--episodes", "3")  # fmt: skip
    incremental = run_eval("online", tiny_checkpoint, *args, "--out", tmp_path / "new")
    monkeypatch.setattr(LocalModel, "incremental", False)  # workers fork: inherited
    full = run_eval("online", tiny_checkpoint, *args, "--out", tmp_path / "full")
    assert incremental.code == full.code == EXIT_OK, full.err
    rows = _rows(tmp_path / "full")
    assert len(rows) == 6 and _rows(tmp_path / "new") == rows


def test_a_step_without_an_episode_fails_with_a_message(tiny_checkpoint: Path) -> None:
    model = LocalModel(load_policy(tiny_checkpoint).eval())
    arrays = {
        "obs_mask_front": np.ones((1, 2), bool),
        "obs_mask_top": np.ones((1, 2), bool),
        "obs_crops_front": np.zeros((1, 2, 3, 32, 32), np.uint8),
        "obs_crops_top": np.zeros((1, 2, 3, 32, 32), np.uint8),
        "obs_bbox_front": np.zeros((1, 2, 4), np.int16),
        "obs_bbox_top": np.zeros((1, 2, 4), np.int16),
        "end_effector": 0,
    }
    observations = collate_observations([arrays], frames=False)
    with pytest.raises(ValueError, match="the first step of an episode brings its prompt"):
        model.step(None, "none", observations, torch.zeros(1, 0, 14))
