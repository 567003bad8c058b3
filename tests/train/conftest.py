"""Session fixtures of the vima-train tests: the sample episodes converted and tokenized once
(variants `original` and `reworded`), their rows as `row_arrays` dicts, a collated batch.

Torch runs on one thread: on the shared 2-core machine two threads per process slow the tiny
models down more than tenfold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import torch
from vima_convert.build import build
from vima_convert.parse import parse
from vima_convert.reword_dataset import reword_dataset
from vima_schema.dataset_layout import list_shards
from vima_tokenize.pipeline import tokenize_dataset
from vima_train.data import Batch, collate, row_arrays

from ..conftest import RunCli

REPO_ROOT = Path(__file__).resolve().parents[2]
RAW = REPO_ROOT / "data" / "samples" / "vima-raw"
#: Sample episodes under data/samples/vima-raw (one per task).
EPISODES = 9
VALID = 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests of this folder when the sample episodes are missing (a `pytestmark` in a
    conftest applies to nothing; this hook marks the items themselves)."""
    if RAW.is_dir():
        return
    skip = pytest.mark.skip(reason=f"sample data missing: {RAW}")
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def train_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATASET with original and reworded preprocessed configs of the 9 sample episodes
    (7 train, 2 valid). Read-only by convention."""
    root = tmp_path_factory.mktemp("train-data")
    parsed = root / "parsed"
    assert parse([str(RAW)], parsed).written == EPISODES
    dataset = root / "dataset"
    build(parsed, dataset, valid_size=VALID)
    reword_dataset(dataset, seed=0)
    for variant in ("original", "reworded"):
        summary = tokenize_dataset(dataset, variant=variant)
        assert summary.episodes == EPISODES and not summary.failures
    return dataset


def read_rows(dataset: Path, variant: str = "original", split: str = "train") -> list[dict]:
    """Raw preprocessed rows of a variant and split, read with pyarrow, in shard order."""
    rows: list[dict[str, Any]] = []
    for shard in list_shards(dataset, variant, "preprocessed"):
        if shard.split == split:
            rows += pq.read_table(shard.path).to_pylist()
    return rows


@pytest.fixture(scope="session")
def train_rows(train_dataset: Path) -> list[dict[str, Any]]:
    """`row_arrays` of the 7 original train episodes."""
    return [row_arrays(row) for row in read_rows(train_dataset)]


@pytest.fixture(scope="session")
def batch(train_rows: list[dict[str, Any]]) -> Batch:
    """All original train episodes collated (crops and frames)."""
    return collate(train_rows)


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cli_runner: Callable[[Callable[[list[str]], int]], RunCli],
) -> RunCli:
    """`run_cli("fit", DATASET, ...)`: `vima_train.cli.main` in-process, W&B kept offline and
    the Arrow cache under tmp_path."""
    from vima_train.cli import main

    monkeypatch.setenv("VIMA_TRAIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WANDB_MODE", "offline")

    return cli_runner(main)
