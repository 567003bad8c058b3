"""The tools compose in shell pipelines through the stdout-path convention (the README's
examples), and the SLURM batch scripts use only commands and options that exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "data" / "samples" / "vima-raw"
SLURM = REPO / "scripts" / "slurm"
BIN = Path(sys.executable).parent
COMMANDS = ("vima-schema", "vima-convert", "vima-tokenize", "vima-train", "vima-eval", "vima-sim")


def _shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "WANDB_MODE": "offline"}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_shell_pipeline_from_raw_episodes_to_offline_metrics(tmp_path: Path) -> None:
    convert = _shell(
        f"vima-convert parse {RAW} --out parsed"
        " | xargs -r -I{} vima-convert build {} --out dataset --valid-size 2"
        " | xargs -r vima-tokenize",
        tmp_path,
    )
    assert convert.returncode == 0, convert.stderr
    assert convert.stdout.strip() == "dataset"
    tasks = sorted(p.name for p in RAW.iterdir() if p.is_dir())
    tokenized = tmp_path / "dataset" / "original" / "preprocessed"
    assert sorted(p.name for p in tokenized.iterdir()) == tasks

    evaluate = _shell(
        "vima-train fit dataset --preset tiny --out run --max-steps 2 --max-epochs 1"
        " --wandb disabled --set data.cache_dir=cache"
        " | xargs -r -I{} vima-eval offline {} dataset --out offline --limit 1",
        tmp_path,
    )
    assert evaluate.returncode == 0, evaluate.stderr
    assert evaluate.stdout.strip() == "offline"
    rows = pq.read_table(tmp_path / "offline" / "episodes.parquet")
    assert rows.num_rows > 0
    assert (tmp_path / "offline" / "metrics.json").is_file()


def _invocations(script: str) -> list[tuple[str, list[str]]]:
    """(command, words after it) for every use of one of our commands in a batch script."""
    joined = re.sub(r"\\\n\s*", " ", script)
    found = []
    for line in joined.splitlines():
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        for match in re.finditer(
            rf"(?<![\w-])({'|'.join(COMMANDS)})(?![\w-])((?:[^|;&]|&&)*)", code
        ):
            found.append((match.group(1), match.group(2).split()))
    return found


def _help(command: str, sub: str | None) -> str:
    args = [str(BIN / command), *([sub] if sub else []), "--help"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("script", sorted(SLURM.glob("*.sbatch")), ids=lambda p: p.name)
def test_slurm_script_is_valid_bash_and_uses_existing_options(script: Path) -> None:
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    uses = _invocations(script.read_text())
    assert uses, f"{script.name} runs none of the workspace's commands"
    for command, words in uses:
        top = _help(command, None)
        sub = words[0] if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) else None
        if sub is not None and not re.search(rf"\b{re.escape(sub)}\b", top):
            sub = None  # a positional argument, not a subcommand
        if sub:
            text = _help(command, sub)
        else:  # the subcommand is a shell variable: the option must exist in one of them
            listed = re.search(r"\{([a-z,\s-]+)\}", top)  # a long list wraps
            subs = re.sub(r"\s+", "", listed.group(1)).split(",") if listed else []
            text = top + "".join(_help(command, s) for s in subs)
        for option in (w.split("=", 1)[0] for w in words if w.startswith("--")):
            assert option in text, f"{script.name}: {command} {sub or ''} has no {option}"


def test_eval_online_submit_resolves_a_linked_checkpoint(tmp_path: Path) -> None:
    """`eval-online.sbatch submit` hands its array tasks the file `last.ckpt` links to when it
    submits (training moves the link on; every shard must evaluate one file). sbatch is a
    stand-in that records the CKPT each job would see."""
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "epoch00-step0000002.ckpt").write_bytes(b"weights")
    (checkpoints / "last.ckpt").symlink_to("epoch00-step0000002.ckpt")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sbatch").write_text(f'#!/bin/sh\necho "$CKPT" >> {tmp_path}/seen\necho 7\n')
    (fake / "sbatch").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "REPO": str(REPO),
           "CKPT": str(checkpoints / "last.ckpt"), "OUT": str(tmp_path / "out"),
           "LEVELS": "L1", "TASKS": "visual_manipulation", "EPISODES": "2"}  # fmt: skip
    done = subprocess.run(["bash", str(SLURM / "eval-online.sbatch"), "submit"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    target = str((checkpoints / "epoch00-step0000002.ckpt").resolve())
    assert (tmp_path / "seen").read_text().splitlines() == [target, target]
