"""Online evaluation under perturbations: reproducible for obj-shuffle checkpoints, perturbation
draws per level, `applies` on every row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from vima_eval.online.agents import PolicyAgent
from vima_eval.online.episode import run_episode
from vima_eval.online.plan import Job
from vima_eval.online.seeds import episode_seed
from vima_schema.perturbations import get_perturbation, instruction_from_row
from vima_schema.record import episode_to_record
from vima_sim.env import VimaEnv
from vima_train.checkpoint import load_policy

from .conftest import RunEval, train_tiny


@pytest.fixture(scope="module")
def shuffle_checkpoint(tmp_path_factory: pytest.TempPathFactory, eval_dataset: Path) -> Path:
    """A `tiny` policy trained for 2 steps with the training-time object shuffle on."""
    root = tmp_path_factory.mktemp("tiny-shuffle")
    return train_tiny(root, eval_dataset, 2, "model.shuffle_objects=true")


def _actions(checkpoint: Path, torch_seed: int) -> list[np.ndarray]:
    """The actions a fresh agent takes in L1/rotate/0 (3 steps) after seeding torch."""
    env = VimaEnv("rotate", "placement_generalization", "easy")
    job = Job(1, "rotate", 0, episode_seed(0, 1, "rotate", 0), "noop")
    agent = PolicyAgent(checkpoint, get_perturbation("noop"), 0)
    assert agent.policy.config.shuffle_objects  # trained with the shuffle
    torch.manual_seed(torch_seed)
    run_episode(env, agent, job, time_limit="3")
    env.close()
    actions = agent.recorder.episode(0).actions
    keys = ("pose0_position", "pose0_rotation", "pose1_position", "pose1_rotation")
    return [np.concatenate([getattr(actions, k)[i] for k in keys]) for i in range(actions.steps)]


def test_obj_shuffle_checkpoint_acts_the_same_whatever_the_global_generator(
    shuffle_checkpoint: Path,
) -> None:
    # defect: the agent left the training-time shuffle on, drawing from torch's global
    # generator at every step, so the actions depended on the process's random state
    first, second = _actions(shuffle_checkpoint, 1), _actions(shuffle_checkpoint, 2)
    assert len(first) == len(second) == 3
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def _run(run_eval: RunEval, checkpoint: Path, out: Path, workers: str) -> list[dict[str, Any]]:
    args = ["--levels", "L1", "--tasks", "visual_manipulation,rotate", "--episodes", "1",
            "--time-limit", "2", "--wandb", "disabled", "--record", "1",
            "--perturb", "noop", "--perturb", "shuffle_objects"]  # fmt: skip
    run = run_eval("online", checkpoint, *args, "--workers", workers, "--out", out)
    assert run.code == 0, run.err
    rows = pq.read_table(out / "episodes.parquet").to_pylist()
    for row in rows:
        row.pop("time_s")
    return rows


def test_obj_shuffle_online_run_is_identical_with_one_and_two_workers_and_on_rerun(
    tmp_path: Path, run_eval: RunEval, shuffle_checkpoint: Path
) -> None:
    one = _run(run_eval, shuffle_checkpoint, tmp_path / "one", "1")
    two = _run(run_eval, shuffle_checkpoint, tmp_path / "two", "2")
    again = _run(run_eval, shuffle_checkpoint, tmp_path / "again", "2")
    assert len(one) == 4 and one == two == again
    assert all(row["applies"] for row in one)
    # the videos show every executed action: identical frames, identical trajectories
    for gif in sorted((tmp_path / "one" / "videos").glob("*.gif")):
        for other in ("two", "again"):
            assert (tmp_path / other / "videos" / gif.name).read_bytes() == gif.read_bytes()


def test_online_perturbation_draws_differ_between_levels(tiny_checkpoint: Path) -> None:
    # defect: the draws were keyed by `<task>/<n>`, so L1/visual_manipulation/0 and
    # L2/visual_manipulation/0 got the identical gobbledygook prompt
    perturbation = get_perturbation("gobbledygook_word")
    policy = load_policy(tiny_checkpoint)
    prompts = {}
    for level, partition in ((1, "placement_generalization"), (2, "combinatorial_generalization")):
        env = VimaEnv("visual_manipulation", partition, "easy")
        job = Job(level, "visual_manipulation", 0, episode_seed(0, level, "visual_manipulation", 0),
                  "gobbledygook_word")  # fmt: skip
        agent = PolicyAgent(tiny_checkpoint, perturbation, 0, policy=policy)
        out = run_episode(env, agent, job, time_limit="1")
        env.close()
        original = instruction_from_row(episode_to_record(agent.recorder.episode(0)),
                                        "visual_manipulation")  # fmt: skip
        assert agent.inputs is not None and agent.inputs.instruction.episode == job.key
        expected = perturbation(replace(original, episode=job.key))
        assert out.prompt == expected.prompt != original.prompt and out.applies
        prompts[level] = (original.prompt, out.prompt)
    assert prompts[1][0] == prompts[2][0]  # the same instruction in both levels ...
    assert prompts[1][1] != prompts[2][1]  # ... perturbed with the level's own draws
