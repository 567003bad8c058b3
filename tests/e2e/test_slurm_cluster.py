"""The batch scripts of scripts/slurm on a real single-node SLURM (Debian's slurm-wlm and munge,
started for localhost by `local_slurm`; skipped with the reason where they are not installed or
the tests do not run as root): the parse, build and tokenize jobs write byte for byte what
local runs write, the online-evaluation array and its merge give a single machine's rows, and
a DDP training run over two CPU tasks, cancelled with scancel and resubmitted, ends at the
weights of an uninterrupted one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from local_slurm import Job, LocalSlurm, unavailable

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "data" / "samples" / "vima-raw"
SLURM = REPO / "scripts" / "slurm"
BIN = Path(sys.executable).parent
#: Every job asks for what a 2-core test machine has (the scripts ask for cluster nodes).
SMALL = ("--cpus-per-task=1", "--mem=1G")


@pytest.fixture(scope="module")
def slurm() -> Iterator[LocalSlurm]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no local SLURM cluster: {reason}")
    with LocalSlurm.running() as cluster:
        yield cluster


def _local(*command: str | Path, cwd: Path) -> str:
    """Run one of the workspace's commands here, outside SLURM; its stderr."""
    done = subprocess.run(
        [str(BIN / str(command[0])), *map(str, command[1:])],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stderr


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample episodes parsed, built with 2 validation episodes, reworded and tokenized
    by local runs (`parsed/`, `dataset/`)."""
    root = tmp_path_factory.mktemp("local")
    _local("vima-convert", "parse", RAW, "--out", "parsed", cwd=root)
    _local("vima-convert", "build", "parsed", "--out", "dataset", "--valid-size", "2", cwd=root)
    _local("vima-convert", "reword", "dataset", "--seed", "0", cwd=root)
    for variant in ("original", "reworded"):
        _local("vima-tokenize", "dataset", "--variant", variant, cwd=root)
    return root


def _submit_dir(tmp_path: Path) -> Path:
    """The folder jobs are submitted from, with the `logs/` their #SBATCH --output names."""
    (tmp_path / "logs").mkdir(parents=True)
    return tmp_path


def _assert_succeeded(jobs: list[Job]) -> None:
    for job in jobs:
        assert job.succeeded, f"job {job.id}: {job.state} {job.exit_code}\n{job.log()[-4000:]}"


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_parse_build_and_tokenize_jobs_write_what_local_runs_write(
    slurm: LocalSlurm, local: Path, tmp_path: Path
) -> None:
    submit = _submit_dir(tmp_path)
    env = {"REPO": str(REPO), "RAW": str(RAW), "PARSED": "parsed", "DATASET": "dataset"}
    parse = slurm.sbatch("--array=0-2", *SMALL, SLURM / "parse.sbatch", cwd=submit, env=env)
    build = slurm.sbatch(
        f"--dependency=afterok:{parse}", *SMALL, SLURM / "build.sbatch",
        cwd=submit, env={**env, "VALID_SIZE": "2"},
    )  # fmt: skip
    tokenize = slurm.sbatch(
        "--array=0-1", f"--dependency=afterok:{build}", *SMALL, SLURM / "tokenize.sbatch",
        cwd=submit, env={**env, "VARIANTS": "original,reworded"},
    )  # fmt: skip
    parse_tasks = slurm.wait(parse)
    jobs = [*parse_tasks, *slurm.wait(build, tokenize)]
    _assert_succeeded(jobs)
    assert len(jobs) == 3 + 1 + 2
    # each array task parsed its own share of the 9 episodes
    written = [int(re.findall(r"parse: (\d+) written", job.log())[-1]) for job in parse_tasks]
    assert sum(written) == 9 and max(written) < 9, written
    assert _tree(submit / "parsed") == _tree(local / "parsed")
    built = _tree(submit / "dataset")
    assert any("/preprocessed/" in name for name in built)
    assert built == _tree(local / "dataset")


def test_online_evaluation_array_and_merge_give_a_single_machines_rows(
    slurm: LocalSlurm, tmp_path: Path
) -> None:
    """Three episodes of rotate in array tasks of 2 and 1 (episode seeds depend on the episode
    number, so the second task must start at episode 2)."""
    single = tmp_path / "single"
    _local(
        "vima-eval", "oracle", "--levels", "L1", "--tasks", "rotate", "--episodes", "3",
        "--wandb", "disabled", "--out", single, cwd=tmp_path,
    )  # fmt: skip
    submit = _submit_dir(tmp_path / "submit")
    env = {"REPO": str(REPO), "OUT": "evaluation", "LEVELS": "L1", "TASKS": "rotate",
           "EPISODES": "3", "CHUNK": "2"}  # fmt: skip
    done = slurm.client(
        "bash", str(SLURM / "eval-online.sbatch"), "submit", *SMALL, cwd=submit, env=env
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"array job (\d+) \((\d+) tasks\), merge job (\d+)", done.stdout)
    assert found, done.stdout
    assert found.group(2) == "2"  # episodes {0, 1} and {2}
    _assert_succeeded(slurm.wait(found.group(1), found.group(3)))

    def rows(folder: Path) -> list[dict[str, object]]:
        table = pq.read_table(folder / "episodes.parquet").drop_columns(["time_s"])
        return sorted(table.to_pylist(), key=lambda row: str(row["episode"]))

    merged = rows(submit / "evaluation")
    assert len(merged) == 3
    assert merged == rows(single)


def _steps(run: Path) -> list[int]:
    """Optimiser steps of a run's epoch checkpoints."""
    names = (path.name for path in (run / "checkpoints").glob("epoch*.ckpt"))
    return sorted(int(re.sub(r".*-step(\d+)\.ckpt", r"\1", name)) for name in names)


def test_ddp_training_cancelled_and_resubmitted_ends_at_the_uninterrupted_weights(
    slurm: LocalSlurm, local: Path, tmp_path: Path
) -> None:
    """train.sbatch on two CPU tasks (ACCELERATOR=cpu, one rank per task): 7 training
    episodes, batch 1 per rank, 3 steps per epoch, 24 steps."""
    submit = _submit_dir(tmp_path)
    env = {"REPO": str(REPO), "ACCELERATOR": "cpu", "WANDB_MODE": "disabled"}
    options = ("--gpus-per-node=0", "--ntasks-per-node=2", "--cpus-per-task=1")
    flags = ("--max-steps", "24", "--batch-size", "1", "--set", "train.run_validation=false")

    def train(run: str) -> str:
        return slurm.sbatch(
            *options, SLURM / "train.sbatch", local / "dataset", run, "tiny", *flags,
            cwd=submit, env=env,
        )  # fmt: skip

    cancelled = train("interrupted")
    deadline = time.monotonic() + 300
    while not _steps(submit / "interrupted"):  # cancel once it has an epoch checkpoint
        (job,) = slurm.jobs(cancelled)
        assert not job.ended and time.monotonic() < deadline, f"{job.state}\n{job.log()}"
        time.sleep(0.1)
    slurm.cancel(cancelled)
    (job,) = slurm.wait(cancelled)
    assert job.state == "CANCELLED", job.log()
    reached = _steps(submit / "interrupted")
    assert reached[-1] < 24, f"the run ended before scancel: {reached}"
    _assert_succeeded(slurm.wait(train("interrupted")))  # resumes from last.ckpt
    _assert_succeeded(slurm.wait(train("uninterrupted")))

    def weights(run: str) -> tuple[int, dict[str, torch.Tensor]]:
        checkpoint = torch.load(
            submit / run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
        )
        return checkpoint["global_step"], checkpoint["state_dict"]

    step, resumed = weights("interrupted")
    uninterrupted_step, uninterrupted = weights("uninterrupted")
    assert step == uninterrupted_step == 24
    assert resumed.keys() == uninterrupted.keys()
    for name, tensor in uninterrupted.items():
        assert torch.equal(resumed[name], tensor), name
