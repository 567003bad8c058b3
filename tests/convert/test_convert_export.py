"""`vima-convert export-raw`: dataset rows back to raw episode folders, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from vima_convert.build import build
from vima_convert.parse import parse
from vima_schema.enums import Task
from vima_schema.equality import exactly_equal
from vima_schema.layout import FRAME_DIRS
from vima_schema.reader import read_episode

from .conftest import (
    CORPUS_EPISODES,
    CORPUS_VALID,
    GENERATED_SAMPLES,
    RAW_SAMPLES,
    RunCli,
    episode_keys,
    parsed_files,
    valid_members,
)


def assert_same_episodes(exported: Path, source: Path, keys: set[tuple[str, int]]) -> None:
    """Every exported episode equals its source: same data, arrays bitwise, same JPEG bytes."""
    assert episode_keys(exported) == keys
    for task, index in sorted(keys):
        name = f"{task}/{index:06d}"
        ours, theirs = exported / name, source / name
        assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
        assert exactly_equal(read_episode(ours, deep=True), read_episode(theirs)), name
        for folder in FRAME_DIRS.values():
            frames = sorted(p.name for p in (theirs / folder).iterdir())
            assert sorted(p.name for p in (ours / folder).iterdir()) == frames, name
            for frame in frames:
                data = (ours / folder / frame).read_bytes()
                assert data == (theirs / folder / frame).read_bytes(), f"{name}/{folder}/{frame}"


def test_export_raw_round_trip(
    tmp_path: Path,
    run_cli: RunCli,
    clean_dataset: Path,
    clean_parsed: Path,
    corpus: Path,
    corpus_keys: set[tuple[str, int]],
) -> None:
    raw = tmp_path / "raw"
    run = run_cli("export-raw", clean_dataset, "--out", raw)
    assert run.code == 0, run.err
    assert run.last_line == str(raw)
    assert f"{CORPUS_EPISODES} episodes written" in run.err
    assert_same_episodes(raw, corpus, corpus_keys)
    # Parsing the export again gives the very same parsed files.
    assert parse([str(raw)], tmp_path / "parsed").written == CORPUS_EPISODES
    assert parsed_files(tmp_path / "parsed") == parsed_files(clean_parsed)


@pytest.mark.parametrize("root", [RAW_SAMPLES, GENERATED_SAMPLES], ids=["vima-raw", "generated"])
def test_export_raw_round_trip_of_the_samples(tmp_path: Path, run_cli: RunCli, root: Path) -> None:
    # The untouched sample episodes (both pickle namespaces), valid-size 0: all in train.
    assert parse([str(root)], tmp_path / "parsed").failed == 0
    build(tmp_path / "parsed", tmp_path / "dataset", valid_size=0)
    run = run_cli("export-raw", tmp_path / "dataset", "--out", tmp_path / "raw")
    assert run.code == 0, run.err
    assert_same_episodes(tmp_path / "raw", root, episode_keys(root))


def test_export_raw_valid_split_and_one_task(
    tmp_path: Path, run_cli: RunCli, clean_dataset: Path, corpus: Path
) -> None:
    raw = tmp_path / "valid"
    run = run_cli("export-raw", clean_dataset, "--out", raw, "--split", "valid")
    assert run.code == 0, run.err
    assert f"{CORPUS_VALID} episodes written" in run.err
    valid = {(Task(task).name, index) for task, index in valid_members(clean_dataset)}
    assert len(valid) == CORPUS_VALID
    assert_same_episodes(raw, corpus, valid)
    twist = tmp_path / "twist"
    config = "original--parsed--twist"
    run = run_cli("export-raw", clean_dataset, "--out", twist, "--config", config)
    assert run.code == 0, run.err
    assert {task for task, _ in episode_keys(twist)} == {"twist"}
    assert len(episode_keys(twist)) == 3


def test_export_raw_existing_folder_needs_overwrite(
    tmp_path: Path, run_cli: RunCli, clean_dataset: Path, corpus: Path
) -> None:
    raw = tmp_path / "raw"
    options = ("--config", "original--parsed--rotate")
    assert run_cli("export-raw", clean_dataset, "--out", raw, *options).code == 0
    run = run_cli("export-raw", clean_dataset, "--out", raw, *options)
    assert run.code == 2
    assert "already exists" in run.err
    run = run_cli("export-raw", clean_dataset, "--out", raw, *options, "--overwrite")
    assert run.code == 0, run.err
    assert_same_episodes(raw, corpus, episode_keys(raw))


@pytest.mark.parametrize(
    "options",
    [
        ("--config", "original--parsed--nope"),
        ("--config", "reworded--parsed"),
        ("--config", "bogus"),
        ("--split", "test"),
    ],
)
def test_export_raw_unknown_config_is_usage_error(
    tmp_path: Path, run_cli: RunCli, clean_dataset: Path, options: tuple[str, ...]
) -> None:
    run = run_cli("export-raw", clean_dataset, "--out", tmp_path / "raw", *options)
    assert run.code == 2
    assert options[1] in run.err
    assert run.out == ""
    assert not (tmp_path / "raw").exists()
