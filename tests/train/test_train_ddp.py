"""Two-process DDP on CPU (gloo) through the CLI: both ranks train, on disjoint episodes.

`ddp_fork` forks the ranks from the running command (the `ddp` launcher used on GPUs and
SLURM starts each rank as a new process, which here only adds the import time)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from vima_train.checkpoint import load_policy, read_meta

from .conftest import EPISODES, VALID


@pytest.mark.slow
def test_two_process_ddp_trains_on_disjoint_episodes(train_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "VIMA_TRAIN_CACHE": str(tmp_path / "cache"),
        "MASTER_ADDR": "127.0.0.1",
    }
    command = [
        sys.executable, "-m", "vima_train", "fit", str(train_dataset), "--preset", "tiny",
        "--out", str(run), "--max-steps", "2", "--devices", "2", "--strategy", "ddp_fork",
        "--accelerator", "cpu", "--wandb", "disabled", "--set", "train.record_episodes=true",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    last = run / "checkpoints" / "last.ckpt"
    assert result.stdout.splitlines() == [str(last)]  # printed once, by rank 0
    ranks = [(run / "episodes" / f"rank{r}.txt").read_text().splitlines() for r in (0, 1)]
    # 7 train episodes, batch 2 x 2 ranks: one global batch per epoch, two epochs.
    assert [len(r) for r in ranks] == [4, 4]
    for epoch in (0, 1):
        first, second = ranks[0][2 * epoch : 2 * epoch + 2], ranks[1][2 * epoch : 2 * epoch + 2]
        assert not set(first) & set(second), (first, second)
    assert max(Counter(ranks[0] + ranks[1]).values()) <= 2
    assert len({line for r in ranks for line in r}) <= EPISODES - VALID
    meta = read_meta(last)
    assert meta["global_step"] == 2 and meta["examples_seen"] == 8
    policy = load_policy(last)
    assert all(torch.isfinite(p).all() for p in policy.parameters())
