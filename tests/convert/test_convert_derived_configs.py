"""Derived configs (reworded, preprocessed) after rebuilds, and the dataset's `meta/` files.

Regression tests of issue 7: a rebuild with another seed used to leave preprocessed shards of
the old split in place (train/valid leakage), tasks dropped by a rebuild stayed published in
derived variants, unexpected errors exited 1 with a traceback, and stats read whole shards.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from vima_convert.cli import main as convert_main
from vima_convert.reword_dataset import reword_dataset
from vima_convert.stats import load_metadata
from vima_schema.dataset_layout import PARSED, PREPROCESSED, list_shards
from vima_schema.dataset_meta import (
    FORMAT_VERSION,
    info_path,
    read_episode_index,
    read_meta,
)
from vima_schema.enums import TASK_NAMES
from vima_schema.runner import EXIT_ERROR
from vima_tokenize.cli import main as tokenize_main
from vima_tokenize.pipeline import tokenize_dataset

from .conftest import CORPUS_EPISODES, CORPUS_VALID, RunCli, copy_tree
from .test_convert_build import card_configs

VARIANTS = ("original", "reworded")
Members = dict[str, set[tuple[str, int]]]


def members(dataset: Path, variant: str, stage: str) -> Members:
    """(task, index) of every episode of `<variant>--<stage>`, per split, read from the shards."""
    found: Members = defaultdict(set)
    for shard in list_shards(dataset, variant, stage):
        table = pq.read_table(shard.path, columns=["task", "index"])
        for task, index in zip(table["task"].to_pylist(), table["index"].to_pylist(), strict=True):
            assert TASK_NAMES[task] == shard.task
            found[shard.split].add((shard.task, index))
    return dict(found)


def derive_everything(dataset: Path) -> None:
    """reword, then tokenize both variants (what a user reruns after a build)."""
    reword_dataset(dataset, seed=0)
    for variant in VARIANTS:
        summary = tokenize_dataset(dataset, variant=variant)
        assert not summary.failures


def assert_derived_mirror_parsed(dataset: Path) -> None:
    """Every derived config holds exactly the parsed episodes, split by split, and the
    episode index agrees with the shards."""
    parsed = members(dataset, "original", PARSED)
    for variant, stage in (("reworded", PARSED), *((v, PREPROCESSED) for v in VARIANTS)):
        assert members(dataset, variant, stage) == parsed, (variant, stage)
    index = read_episode_index(dataset)
    for variant in VARIANTS:
        for stage in (PARSED, PREPROCESSED):
            rows = [
                row
                for row in index.to_pylist()
                if (row["variant"], row["stage"]) == (variant, stage)
            ]
            by_split: Members = defaultdict(set)
            for row in rows:
                by_split[row["split"]].add((row["task"], row["index"]))
                table = pq.read_table(dataset / row["shard"], columns=["index"])
                assert table["index"][row["row"]].as_py() == row["index"]
            assert dict(by_split) == parsed, (variant, stage)


def test_rebuild_with_another_seed_redoes_every_derived_config(
    tmp_path: Path, clean_parsed: Path
) -> None:
    dataset = tmp_path / "dataset"
    convert = ["build", str(clean_parsed), "--out", str(dataset)]
    assert convert_main([*convert, "--valid-size", str(CORPUS_VALID), "--seed", "1"]) == 0
    derive_everything(dataset)
    assert_derived_mirror_parsed(dataset)
    first = members(dataset, "original", PARSED)

    assert convert_main([*convert, "--valid-size", str(CORPUS_VALID), "--seed", "2"]) == 0
    second = members(dataset, "original", PARSED)
    assert second["valid"] != first["valid"]  # the split really changed
    derive_everything(dataset)
    assert_derived_mirror_parsed(dataset)  # no preprocessed shard of the seed-1 split is left

    # Unchanged inputs: every derived shard is kept as it is.
    again = tokenize_dataset(dataset, variant="original")
    assert (again.shards_written, again.episodes) == (0, 0)
    assert again.shards_skipped == len(list_shards(dataset, "original", PARSED))


def test_tasks_dropped_by_a_rebuild_leave_every_derived_config(
    tmp_path: Path, clean_parsed: Path
) -> None:
    parsed = copy_tree(clean_parsed, tmp_path / "parsed")
    dataset = tmp_path / "dataset"
    convert = ["build", str(parsed), "--out", str(dataset), "--valid-size", "0.3"]
    assert convert_main(convert) == 0
    derive_everything(dataset)
    assert "reworded--preprocessed--twist" in card_configs(dataset)

    shutil.rmtree(parsed / "twist")
    assert convert_main(convert) == 0
    derive_everything(dataset)
    assert_derived_mirror_parsed(dataset)
    for variant in VARIANTS:
        for stage in (PARSED, PREPROCESSED):
            assert not (dataset / variant / stage / "twist").exists()
    assert not [name for name in card_configs(dataset) if name.endswith("--twist")]
    assert "twist" not in read_episode_index(dataset)["task"].to_pylist()


def test_unexpected_error_exits_3_with_one_line(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = run_cli("build", clean_parsed, "--out", blocker / "dataset", "--valid-size", "1")
    assert run.code == EXIT_ERROR == 3
    assert "unexpected error: NotADirectoryError" in run.err
    assert "Traceback" not in run.err and "--verbose" in run.err
    verbose = run_cli(
        "build", clean_parsed, "--out", blocker / "dataset", "--valid-size", "1", "--verbose"
    )
    assert verbose.code == 3 and "Traceback" in verbose.err


def test_meta_describes_every_config(tmp_path: Path, clean_dataset: Path) -> None:
    dataset = copy_tree(clean_dataset, tmp_path / "dataset")
    derive_everything(dataset)
    info = read_meta(dataset)
    assert info["format_version"] == FORMAT_VERSION
    assert set(info["configs"]) == {f"{v}--{s}" for v in VARIANTS for s in (PARSED, PREPROCESSED)}
    parsed = info["configs"]["original--parsed"]
    assert parsed["settings"] == {"variant": "original", "valid_size": CORPUS_VALID, "seed": 1000}
    assert parsed["features"]["task"]["_type"] == "ClassLabel"
    assert parsed["arrays"]["segm_front"] == {"dtype": "uint8", "shape": ["steps+1", 128, 256]}
    tokenized = info["configs"]["original--preprocessed"]
    assert len(tokenized["settings"]["tokenizer_sha256"]) == 64
    assert tokenized["arrays"]["obs_crops_front"]["shape"] == [
        "num_observations",
        "num_objects",
        3,
        32,
        32,
    ]
    actions = tokenized["actions"]
    assert actions["bins"][:3] == [50, 100, 50] and len(actions["axes"]) == 14
    statistics = actions["statistics"]
    assert statistics["split"] == "train"
    train = [
        r
        for r in read_episode_index(dataset, "original", PREPROCESSED).to_pylist()
        if r["split"] == "train"
    ]
    assert statistics["overall"]["count"] == sum(r["steps"] for r in train)
    assert (
        sum(s["count"] for s in statistics["per_task"].values()) == statistics["overall"]["count"]
    )
    overall = statistics["overall"]
    for low, mean, high, std in zip(
        overall["min"], overall["mean"], overall["max"], overall["std"], strict=True
    ):
        assert low <= mean <= high and std >= 0
    index = read_episode_index(dataset, "original", PREPROCESSED)
    assert index.num_rows == CORPUS_EPISODES
    assert min(index["prompt_tokens"].to_pylist()) > min(index["prompt_words"].to_pylist())


def test_future_format_version_is_refused(tmp_path: Path, clean_dataset: Path) -> None:
    dataset = copy_tree(clean_dataset, tmp_path / "dataset")
    path = info_path(dataset)
    info = json.loads(path.read_text())
    info["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(info))
    code = tokenize_main([str(dataset)])
    assert code == 2
    assert not (dataset / "original" / PREPROCESSED).exists()
    with pytest.raises(ValueError, match="newer"):
        reword_dataset(dataset)
    with pytest.raises(ValueError, match="newer"):
        load_metadata(dataset)


def test_stats_reads_the_episode_index_not_the_shards(
    tmp_path: Path, run_cli: RunCli, clean_dataset: Path
) -> None:
    dataset = copy_tree(clean_dataset, tmp_path / "dataset")
    for shard in list_shards(dataset):
        shard.path.write_bytes(b"shard bytes are not needed for stats")
    run = run_cli("stats", dataset, "--json")
    assert run.code == 0, run.err
    stats = json.loads(run.last_line)
    assert stats["episodes"] == CORPUS_EPISODES
    data = load_metadata(dataset)
    assert "objects" not in data.columns and data["task"].dtype.is_(__import__("polars").String)


def test_failed_reword_leaves_no_temporary_file(
    tmp_path: Path, clean_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = copy_tree(clean_dataset, tmp_path / "dataset")
    reword_dataset(dataset, seed=0)
    before = list_shards(dataset, "reworded", PARSED)

    def crash(*args: object) -> str:
        raise RuntimeError("paraphraser crashed")

    monkeypatch.setattr("vima_convert.reword_dataset.reword_prompt", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        reword_dataset(dataset, seed=1)
    assert not [p for p in dataset.rglob("*") if p.name.startswith(".") and p.name != ".lock"]
    after = list_shards(dataset, "reworded", PARSED)
    assert len(after) == len(before) - 1  # the shard being redone is not left stale
