"""Shared fixtures of the vima-convert pipeline tests: a small synthetic corpus made from the
sample episodes, its parsed files and its dataset (each built once per session; treat them as
read-only and copy them before changing anything), plus helpers to run the CLI in-process.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from synthetic_corpus import write_corpus
from vima_convert.build import build
from vima_convert.cli import main
from vima_convert.parse import parse
from vima_schema.dataset_layout import shards_of_config
from vima_schema.models import Episode
from vima_schema.reader import read_episode

from ..conftest import CliRun, RunCli

__all__ = ["CliRun", "RunCli"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_ROOT = REPO_ROOT / "data" / "samples"
RAW_SAMPLES = SAMPLES_ROOT / "vima-raw"
GENERATED_SAMPLES = SAMPLES_ROOT / "vima-bench-generated"
#: Every sample episode folder, `<variant>/<task>/000000`, in sorted order (11 of them).
SAMPLE_DIRS: list[Path] = sorted(SAMPLES_ROOT.glob("*/*/000000"))

#: Episodes of the session corpus: 3 copies of each sample, indices 0..32 (all distinct).
#: Per task: follow_order and sweep_without_exceeding 6 each (two samples), the 7 others 3 each.
CORPUS_EPISODES = 33
#: `--valid-size` of the session dataset: exactly 2 valid episodes for the two 6-episode tasks
#: and 1 for each 3-episode task, so every per-task config has both splits.
CORPUS_VALID = 11


@pytest.fixture
def run_cli(cli_runner: Callable[[Callable[[list[str]], int]], RunCli]) -> RunCli:
    """`run_cli("parse", RAW, "--out", PARSED)`: `vima_convert.cli.main` in-process."""
    return cli_runner(main)


def make_writable(root: Path) -> None:
    """Give the owner write permission on everything below `root` (sample copies)."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    root.chmod(root.stat().st_mode | stat.S_IWUSR)


def copy_tree(source: Path, target: Path) -> Path:
    """Writable copy of the folder `source` at `target`; returns `target`."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    make_writable(target)
    return target


def file_bytes(root: Path, pattern: str = "**/*") -> dict[str, bytes]:
    """Bytes of every non-hidden file below `root` matching `pattern`, by relative path."""
    found: dict[str, bytes] = {}
    for path in sorted(root.glob(pattern)):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found[relative.as_posix()] = path.read_bytes()
    return found


def parsed_files(parsed: Path) -> dict[str, bytes]:
    """Bytes of every parsed episode file below `parsed`, by relative path."""
    return file_bytes(parsed, "*/*.arrow")


def shard_files(dataset: Path) -> dict[str, bytes]:
    """Bytes of every parquet shard below `dataset`, by relative path."""
    return file_bytes(dataset, "*/*/*/*.parquet")


def rows_by_split(dataset: Path, config: str) -> dict[str, list[dict[str, Any]]]:
    """Rows (task, index) of a config read with pyarrow, per split, in shard order."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for shard in shards_of_config(dataset, config):
        table = pq.read_table(shard.path, columns=["task", "index"])
        found[shard.split] += table.to_pylist()
    return dict(found)


def valid_members(dataset: Path, variant: str = "original") -> set[tuple[int, int]]:
    """(task, index) of every valid episode of a dataset."""
    return {
        (row["task"], row["index"])
        for row in rows_by_split(dataset, f"{variant}--parsed").get("valid", [])
    }


def episode_keys(root: Path) -> set[tuple[str, int]]:
    """(task, index) of every raw episode folder `root/<task>/<NNNNNN>`."""
    return {(p.parent.name, int(p.name)) for p in root.glob("*/*") if p.name.isdigit()}


@pytest.fixture(scope="session")
def sample_episodes() -> list[Episode]:
    """All 11 sample episodes, read once per session (do not modify them)."""
    assert len(SAMPLE_DIRS) == 11, f"expected 11 sample episodes under {SAMPLES_ROOT}"
    return [read_episode(path) for path in SAMPLE_DIRS]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, sample_episodes: list[Episode]) -> Path:
    """Raw root of 33 distinct episodes of the 9 sample tasks (read-only by convention)."""
    root = tmp_path_factory.mktemp("corpus") / "raw"
    write_corpus(sample_episodes, root, CORPUS_EPISODES)
    return root


@pytest.fixture(scope="session")
def corpus_keys(corpus: Path) -> set[tuple[str, int]]:
    """(task, index) of every corpus episode."""
    keys = episode_keys(corpus)
    assert len(keys) == CORPUS_EPISODES
    return keys


@pytest.fixture(scope="session")
def clean_parsed(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """PARSED folder of one clean, uninterrupted parse of the corpus (read-only)."""
    parsed = tmp_path_factory.mktemp("clean") / "parsed"
    summary = parse([str(corpus)], parsed)
    assert (summary.written, summary.failed) == (CORPUS_EPISODES, 0)
    return parsed


@pytest.fixture(scope="session")
def clean_dataset(tmp_path_factory: pytest.TempPathFactory, clean_parsed: Path) -> Path:
    """DATASET folder built from `clean_parsed` with `--valid-size 11` (read-only)."""
    dataset = tmp_path_factory.mktemp("clean") / "dataset"
    summary = build(clean_parsed, dataset, valid_size=CORPUS_VALID)
    assert (summary.episodes, summary.failures) == (CORPUS_EPISODES, [])
    return dataset


@pytest.fixture
def dataset_copy(tmp_path: Path, clean_dataset: Path) -> Path:
    """A writable copy of the session dataset."""
    return copy_tree(clean_dataset, tmp_path / "dataset")
