"""Shared fixtures of the vima-schema tests: sample episodes and editable copies of them."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vima_schema.enums import PickleNamespace
from vima_schema.models import Episode
from vima_schema.reader import read_episode
from vima_schema.safe_pickle import dump_pickle, load_pickle

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_ROOT = REPO_ROOT / "data" / "samples"
#: Every sample episode folder, `<variant>/<task>/000000`, in sorted order (11 of them).
SAMPLE_DIRS: list[Path] = sorted(SAMPLES_ROOT.glob("*/*/000000"))


def sample_id(path: Path) -> str:
    """Short test id of a sample folder: `<variant>/<task>`."""
    return f"{path.parent.parent.name}/{path.parent.name}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that takes `sample_dir` over all sample episodes."""
    if "sample_dir" in metafunc.fixturenames:
        metafunc.parametrize("sample_dir", SAMPLE_DIRS, ids=[sample_id(p) for p in SAMPLE_DIRS])


def _make_writable(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    root.chmod(root.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(scope="session")
def samples_root() -> Path:
    """Root of the sample episodes (`data/samples`), holding both format variants."""
    assert len(SAMPLE_DIRS) == 11, f"expected 11 sample episodes under {SAMPLES_ROOT}"
    return SAMPLES_ROOT


@pytest.fixture(scope="session")
def sample_episodes() -> list[Episode]:
    """All 11 sample episodes, read once per session (do not modify them)."""
    return [read_episode(path) for path in SAMPLE_DIRS]


CopyEpisode = Callable[..., Path]


@pytest.fixture
def copy_episode(tmp_path: Path) -> CopyEpisode:
    """Factory: copy a sample episode to `tmp_path/<root>/<task>/<index>/` (writable).

    `copy_episode(task="rotate", variant="vima-raw", folder_task=None, index="000000",
    root="raw")`; `folder_task` renames the task folder of the copy.
    """

    def copy(
        task: str = "rotate",
        variant: str = "vima-raw",
        *,
        folder_task: str | None = None,
        index: str = "000000",
        root: str = "raw",
    ) -> Path:
        source = SAMPLES_ROOT / variant / task / "000000"
        target = tmp_path / root / (folder_task or task) / index
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, copy_function=shutil.copyfile)
        _make_writable(target)
        return target

    return copy


@pytest.fixture
def episode(copy_episode: CopyEpisode) -> Path:
    """A writable copy of the VIMA-Data `rotate` sample (1 step, 2 objects, 1 asset)."""
    return copy_episode()


EditPickle = Callable[[Path, Callable[[Any], object]], None]


@pytest.fixture
def edit_pickle() -> EditPickle:
    """`edit_pickle(path, change)`: load a pickle safely, let `change` edit it in place, save it.

    The pickle is written back under the encyclopedia namespace it was read with.
    """

    def edit(path: Path, change: Callable[[Any], object]) -> None:
        obj, namespaces = load_pickle(path)
        change(obj)
        namespace = next(iter(namespaces), PickleNamespace.vimasim)
        path.write_bytes(dump_pickle(obj, namespace))

    return edit
