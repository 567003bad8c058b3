"""Shared fixtures of the vima-eval tests: a small dataset built from the sample episodes
(parsed and tokenized once per session; copy it before changing anything) and a CLI runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from synthetic_corpus import write_corpus
from vima_convert.build import build
from vima_convert.parse import parse
from vima_eval.cli import main
from vima_schema.reader import read_episode
from vima_tokenize.pipeline import tokenize_dataset

from ..conftest import RunCli

REPO_ROOT = Path(__file__).resolve().parents[2]
EVAL_SAMPLE_DIRS = sorted((REPO_ROOT / "data" / "samples").glob("*/*/000000"))
#: Episodes of the eval corpus (two varied copies of each of the 11 samples) and valid split.
EVAL_EPISODES = 22
EVAL_VALID = 11


RunEval = RunCli


@pytest.fixture
def run_eval(cli_runner: Callable[[Callable[[list[str]], int]], RunCli]) -> RunEval:
    """`run_eval("report", RESULT, "--out", DIR)`: `vima_eval.cli.main` in-process."""
    return cli_runner(main)


@pytest.fixture(scope="session")
def eval_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATASET with `original--parsed--*` and `original--preprocessed--*` (read-only)."""
    root = tmp_path_factory.mktemp("eval")
    samples = [read_episode(path) for path in EVAL_SAMPLE_DIRS]
    write_corpus(samples, root / "raw", EVAL_EPISODES)
    parse([str(root / "raw")], root / "parsed")
    summary = build(root / "parsed", root / "dataset", valid_size=EVAL_VALID)
    assert summary.episodes == EVAL_EPISODES
    tokenized = tokenize_dataset(root / "dataset")
    assert tokenized.episodes == EVAL_EPISODES and not tokenized.failures
    return root / "dataset"


@pytest.fixture
def eval_dataset_copy(tmp_path: Path, eval_dataset: Path) -> Path:
    """A writable copy of the session dataset."""
    return Path(shutil.copytree(eval_dataset, tmp_path / "dataset"))


def train_tiny(root: Path, dataset: Path, steps: int, *settings: str) -> Path:
    """A `tiny` policy trained for `steps` steps on `dataset` with vima-train's CLI (extra
    `--set KEY=VALUE` settings); its last checkpoint."""
    from vima_train.cli import main as train

    extra = [arg for setting in settings for arg in ("--set", setting)]
    code = train([
        "fit", str(dataset), "--preset", "tiny", "--out", str(root / "run"),
        "--max-steps", str(steps), "--batch-size", "4", "--wandb", "disabled",
        "--set", f"data.cache_dir={root / 'cache'}", *extra,
    ])  # fmt: skip
    assert code == 0
    return root / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, eval_dataset: Path) -> Path:
    """A `tiny` policy trained for 3 steps on the session dataset with vima-train's CLI."""
    return train_tiny(tmp_path_factory.mktemp("tiny"), eval_dataset, 3)
