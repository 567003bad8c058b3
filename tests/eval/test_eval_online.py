"""`vima-eval online` / `oracle` / `merge`: closed-loop evaluation in vima-sim."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from vima_eval.online.agents import OracleAgent, PolicyAgent
from vima_eval.online.episode import run_episode
from vima_eval.online.plan import Job, level_tasks, parse_levels
from vima_eval.online.seeds import episode_seed
from vima_schema.perturbations import get_perturbation, instruction_from_row
from vima_schema.record import episode_to_record
from vima_sim.env import VimaEnv
from vima_sim.recording import EpisodeRecorder
from vima_sim.tasks import available
from vima_tokenize.actions import ACTION_KEYS, discretize, pad_positions
from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.text import encode_prompt
from vima_train.checkpoint import load_policy
from vima_train.data.batch import row_arrays
from vima_train.model.actions import axis_indices
from vima_train.model.incremental import FullHistory

from .conftest import RunEval

#: Implemented tasks that exist in L1 (every one of them, at easy, is solvable by the oracle).
IMPLEMENTED = sorted(
    t for t, info in available().items() if "placement_generalization" in info["partitions"]
)
#: Columns that differ between otherwise identical runs.
VOLATILE = ("time_s",)


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(folder / "episodes.parquet").to_pylist()
    for row in rows:
        for key in VOLATILE:
            row.pop(key)
    return rows


def test_episode_seeds_are_a_documented_function_of_the_episode() -> None:
    seeds = {episode_seed(0, lv, t, e) for lv in (1, 2, 3) for t in IMPLEMENTED for e in range(50)}
    assert len(seeds) == 3 * len(IMPLEMENTED) * 50  # every episode its own scene
    assert episode_seed(7, 1, "rotate", 3) == episode_seed(7, 1, "rotate", 3)
    assert episode_seed(7, 1, "rotate", 3) != episode_seed(8, 1, "rotate", 3)
    import hashlib

    digest = hashlib.sha256(b"vima-eval-online|7|L1|rotate|3").digest()
    assert episode_seed(7, 1, "rotate", 3) == int.from_bytes(digest[:8], "big") % 2**31
    assert parse_levels("L1,3") == [1, 3]
    assert {t for _, t in level_tasks([1], None)} == set(IMPLEMENTED)
    with pytest.raises(ValueError, match="unknown level"):
        parse_levels("L5")


def test_online_tiny_checkpoint_one_row_per_episode_identical_reruns(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path
) -> None:
    args = ["--levels", "L1", "--episodes", "1", "--time-limit", "1", "--wandb", "disabled"]
    first = run_eval("online", tiny_checkpoint, *args, "--workers", "2", "--record", "1",
                     "--out", tmp_path / "a")  # fmt: skip
    assert first.code == 0, first.err
    assert first.last_line == str(tmp_path / "a")
    rows = _rows(tmp_path / "a")
    assert sorted(r["episode"] for r in rows) == sorted(f"L1/{t}/0" for t in IMPLEMENTED)
    assert all(r["mode"] == "online" and r["steps"] <= 1 for r in rows)
    assert {r["checkpoint"].split("@")[0] for r in rows} == {"last.ckpt"}
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    cells = metrics["perturbations"]["noop"]["levels"]["L1"]["tasks"]
    assert set(cells) == set(IMPLEMENTED)
    assert all(cell["episodes"] == 1 for cell in cells.values())
    assert metrics["timing"]["episodes_run"] == len(IMPLEMENTED)
    assert "VIMA-200M" in (tmp_path / "a" / "report" / "report.md").read_text()
    assert len(list((tmp_path / "a" / "videos").glob("*.gif"))) == len(IMPLEMENTED)
    # a rerun (one worker, more steps) gives the same rows on the same scenes
    some = ["--tasks", "visual_manipulation,rotate", "--levels", "L1", "--episodes", "1",
            "--time-limit", "2", "--wandb", "disabled"]  # fmt: skip
    for name, workers in (("b", "2"), ("c", "1")):
        run = run_eval("online", tiny_checkpoint, *some, "--workers", workers,
                       "--out", tmp_path / name)  # fmt: skip
        assert run.code == 0, run.err
    rows = _rows(tmp_path / "b")
    assert len(rows) == 2 and _rows(tmp_path / "c") == rows
    # the folder is protected; --resume with nothing left does nothing
    again = run_eval("online", tiny_checkpoint, *some, "--out", tmp_path / "b")
    assert again.code == 2 and "--resume" in again.err
    resumed = run_eval("online", tiny_checkpoint, *some, "--out", tmp_path / "b", "--resume")
    assert resumed.code == 0 and "0 episodes, 2 already done" in resumed.err
    assert _rows(tmp_path / "b") == rows
    changed = run_eval("online", tiny_checkpoint, *some, "--seed", "3", "--out", tmp_path / "b",
                       "--resume")  # fmt: skip
    assert changed.code == 2 and "other settings" in changed.err
    fresh = run_eval("online", tiny_checkpoint, *some, "--seed", "3", "--out", tmp_path / "b",
                     "--overwrite")  # fmt: skip
    assert fresh.code == 0 and "2 episodes, 0 already done" in fresh.err
    assert {r["seed"] for r in _rows(tmp_path / "b")} == {3}


class OracleDouble(torch.nn.Module):
    """A stand-in policy whose greedy bins are those of the simulator oracle's next action."""

    def __init__(self, real: Any, env: VimaEnv) -> None:
        super().__init__()
        self.checkpoint_meta = real.checkpoint_meta
        self.config = real.config
        self.prompt_mask = "none"
        self.env = env
        self.real = real

    def encode_prompt(self, prompt: Any) -> Any:
        return prompt

    def act(self, cache: Any, observations: Any, actions: torch.Tensor) -> torch.Tensor:
        action = self.env.oracle_action()
        assert action is not None
        poses = {k: np.asarray(v, np.float64)[None] for k, v in action.items()}
        for key in ("pose0_position", "pose1_position"):
            poses[key], _ = pad_positions(poses[key])
        bins = discretize(poses)
        full = np.concatenate([bins[k] for k in ACTION_KEYS], axis=1)[0]
        return torch.from_numpy(full[list(axis_indices(self.config.action_axes))])[None]

    def bins_to_actions(self, bins: torch.Tensor) -> torch.Tensor:
        return self.real.bins_to_actions(bins)

    def begin_episode(self, cache: Any) -> FullHistory:
        """The online path's episode decoder: this double's own `act` at every step."""
        return FullHistory(self, cache)


def test_a_policy_acting_like_the_oracle_reaches_the_oracle_success_on_training_inputs(
    tiny_checkpoint: Path,
) -> None:
    real = load_policy(tiny_checkpoint)
    noop = get_perturbation("noop")
    oracle_wins, double_wins = [], []
    for task in ("visual_manipulation", "rotate", "follow_order"):
        env = VimaEnv(task, "placement_generalization", "easy")
        agent = PolicyAgent(tiny_checkpoint, noop, 0, policy=OracleDouble(real, env))  # type: ignore[arg-type]
        job = Job(1, task, 0, episode_seed(0, 1, task, 0), "noop")
        oracle_wins.append(run_episode(env, OracleAgent(), job).success)
        double_wins.append(run_episode(env, agent, job).success)
        env.close()
        # what the policy saw, step by step, equals the training tokenization of the episode
        row = episode_to_record(agent.recorder.episode(0))
        whole = row_arrays(preprocess_row(row, agent.tokenizer, keep_final_observation=True))
        assert agent.inputs is not None
        seen = agent.inputs.arrays
        assert seen["obs_mask_top"].shape[0] == agent.recorder.steps + 1
        for name, value in whole.items():
            assert np.array_equal(np.asarray(seen[name]), np.asarray(value)), (task, name)
    assert sum(oracle_wins) == len(oracle_wins)  # the oracle solves these easy L1 scenes
    assert double_wins == oracle_wins


def test_a_perturbation_reaches_the_tokens_the_policy_sees(tiny_checkpoint: Path) -> None:
    policy = load_policy(tiny_checkpoint)
    seen: list[tuple[list[int], str]] = []
    encode = policy.encode_prompt

    def spy(prompt: Any) -> Any:
        seen.append((prompt.word_ids[0][prompt.word_mask[0]].tolist(), policy.prompt_mask))
        return encode(prompt)

    policy.encode_prompt = spy  # type: ignore[method-assign]
    env = VimaEnv("rotate", "placement_generalization", "easy")
    job = Job(1, "rotate", 0, episode_seed(0, 1, "rotate", 0), "gobbledygook_word")
    for name in ("noop", "gobbledygook_word", "mask_text"):
        agent = PolicyAgent(tiny_checkpoint, get_perturbation(name), 5, policy=policy)
        out = run_episode(env, agent, job, time_limit="1")
        assert out.steps == 1
    obs, info = env.reset(seed=job.seed)
    recorder = EpisodeRecorder()
    recorder.start(obs, info)
    instruction = instruction_from_row(episode_to_record(recorder.episode(0)), "rotate")
    # online draws are keyed by the run's episode identity, L<level>/<task>/<n>
    garbled = get_perturbation("gobbledygook_word")(replace(instruction, episode=job.key), 5).prompt
    tokenizer = PolicyAgent(tiny_checkpoint, get_perturbation("noop"), 5, policy=policy).tokenizer
    original_ids = encode_prompt(tokenizer, info["prompt"]).word_ids.tolist()
    assert garbled != info["prompt"]
    assert seen[0] == (original_ids, "none")
    assert seen[1] == (encode_prompt(tokenizer, garbled).word_ids.tolist(), "none")
    assert seen[2] == (original_ids, "text")
    assert policy.prompt_mask == "none"  # restored after encoding
    env.close()


@pytest.mark.slow
def test_resume_after_a_kill_completes_without_duplicates_and_merge(
    tmp_path: Path, run_eval: RunEval
) -> None:
    out = tmp_path / "run"
    args = ["oracle", "--levels", "L1", "--tasks", "rotate,visual_manipulation",
            "--episodes", "3", "--wandb", "disabled", "--flush-every", "1"]  # fmt: skip
    code = f"from vima_eval.cli import main; raise SystemExit(main({[*args, '--out', str(out)]}))"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "parts").glob("part-*"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "parts").glob("part-*")))
    assert 2 <= done_before < 6, "the run was not killed part-way"
    resumed = run_eval(*args, "--out", out, "--resume")
    assert resumed.code == 0, resumed.err
    rows = _rows(out)
    assert len(rows) == 6 and len({r["episode"] for r in rows}) == 6
    assert all(r["success"] for r in rows)
    # shards of the same run (episode ranges) merge into the same table
    for start in (0, 2):
        count = "2" if start == 0 else "1"
        shard = run_eval(*args[:-4], "--episodes", count, "--start", str(start), "--wandb",
                         "disabled", "--out", tmp_path / f"shard{start}")  # fmt: skip
        assert shard.code == 0, shard.err
    merged = run_eval("merge", tmp_path / "shard0", tmp_path / "shard2", "--out", tmp_path / "m")
    assert merged.code == 0 and merged.last_line == str(tmp_path / "m")
    assert _rows(tmp_path / "m") == rows
    assert (tmp_path / "m" / "report" / "report.md").is_file()
    assert run_eval("merge", tmp_path / "run" / "parts", "--out", tmp_path / "x").code == 2


def test_online_bad_input(tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path) -> None:
    text = tmp_path / "text.ckpt"
    text.write_text("not a checkpoint")
    cases = [
        (("online", text), "not a checkpoint torch can read safely"),
        (("oracle", "--tasks", "jump"), "unknown task"),
        (("oracle", "--levels", "L9"), "unknown level"),
        (("oracle", "--levels", "L4", "--tasks", "rotate"), "exists in levels"),
        (("oracle", "--perturb", "paraphrase"), "unknown perturbation"),
        (("oracle", "--difficulty", "hard"), "unknown difficulty"),
        (("oracle", "--time-limit", "soon"), "--time-limit"),
        (("oracle", "--env", "vima-bench"), "--env-python"),
        (("oracle", "--episodes", "0"), ">= 1"),
    ]
    for args, message in cases:
        result = run_eval(*args, "--out", tmp_path / "out")
        assert result.code == 2, (args, result.err)
        assert message in result.err, (args, result.err)
    assert not (tmp_path / "out").exists()
