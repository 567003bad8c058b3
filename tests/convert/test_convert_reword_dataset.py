"""`vima-convert reword`: the paraphrased variant of a dataset (the engine itself is tested in
tests/schema/test_schema_paraphrase.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from vima_schema.dataset_layout import list_shards
from vima_schema.layout import placeholders
from vima_schema.provenance import PROVENANCE_KEY, file_sha256
from vima_schema.variant_rewrite import FINGERPRINT_KEY

from .conftest import (
    CORPUS_EPISODES,
    CORPUS_VALID,
    REPO_ROOT,
    RunCli,
    copy_tree,
    rows_by_split,
    shard_files,
)


def prompts(dataset: Path, variant: str) -> dict[tuple[str, int], str]:
    """Prompt of every episode of a variant, by (task, index)."""
    found: dict[tuple[str, int], str] = {}
    for shard in list_shards(dataset, variant, "parsed"):
        for row in pq.read_table(shard.path, columns=["index", "prompt"]).to_pylist():
            found[shard.task, row["index"]] = row["prompt"]
    return found


def reword(run_cli: RunCli, dataset: Path, *options: str) -> None:
    run = run_cli("reword", dataset, *options)
    assert run.code == 0, run.err
    assert run.last_line == str(dataset)
    assert f"{CORPUS_EPISODES}/{CORPUS_EPISODES} prompts paraphrased, 0 kept" in run.err


@pytest.fixture(scope="module")
def reworded(tmp_path_factory: pytest.TempPathFactory, clean_dataset: Path) -> Path:
    """A copy of the session dataset with the `reworded` variant made with seed 3."""
    from vima_convert.cli import main

    dataset = copy_tree(clean_dataset, tmp_path_factory.mktemp("reword") / "dataset")
    assert main(["reword", str(dataset), "--seed", "3"]) == 0
    return dataset


def test_reword_cli_writes_loadable_configs(
    tmp_path: Path, run_cli: RunCli, dataset_copy: Path, reworded: Path, clean_dataset: Path
) -> None:
    reword(run_cli, dataset_copy, "--seed", "3")
    assert shard_files(dataset_copy) == shard_files(reworded)
    originals = {
        name: data
        for name, data in shard_files(dataset_copy).items()
        if name.startswith("original/")
    }
    assert originals == shard_files(clean_dataset)  # the source variant is left alone
    text = (dataset_copy / "README.md").read_text()
    tasks = sorted({s.task for s in list_shards(clean_dataset)})
    cache = str(tmp_path / "hf-cache")
    for config in ["reworded--parsed", *(f"reworded--parsed--{t}" for t in tasks)]:
        assert f"- config_name: {config}\n" in text
        loaded = datasets.load_dataset(str(dataset_copy), config, cache_dir=cache)
        source = rows_by_split(dataset_copy, config.replace("reworded", "original"))
        assert loaded.num_rows == {split: len(rows) for split, rows in source.items()}, config
    whole = datasets.load_dataset(str(dataset_copy), "reworded--parsed", cache_dir=cache)
    assert whole.num_rows == {"train": CORPUS_EPISODES - CORPUS_VALID, "valid": CORPUS_VALID}
    assert set(whole["valid"]["prompt"]) <= set(prompts(dataset_copy, "reworded").values())


def test_reword_keeps_placeholders_and_textures(reworded: Path) -> None:
    before, after = prompts(reworded, "original"), prompts(reworded, "reworded")
    assert set(before) == set(after)
    assert len(before) == CORPUS_EPISODES
    textures: dict[tuple[str, int], list[str]] = {}
    for shard in list_shards(reworded, "original", "parsed"):
        for row in pq.read_table(shard.path, columns=["index", "objects"]).to_pylist():
            textures[shard.task, row["index"]] = [o["texture_name"] for o in row["objects"]]
    for key, prompt in before.items():
        assert Counter(placeholders(after[key])) == Counter(placeholders(prompt)), key
        for texture in set(textures[key]):
            if texture in prompt:
                assert texture in after[key], (key, texture)
    assert sum(after[key] != before[key] for key in before) == CORPUS_EPISODES


def test_reword_other_columns_identical(reworded: Path) -> None:
    for shard in list_shards(reworded, "original", "parsed"):
        target = reworded / "reworded" / "parsed" / shard.task / shard.path.name
        source_table, target_table = pq.read_table(shard.path), pq.read_table(target)
        assert target_table.schema == source_table.schema
        metadata = dict(target_table.schema.metadata)
        assert metadata.pop(FINGERPRINT_KEY)  # what the shard was derived from
        source_metadata = dict(source_table.schema.metadata)
        provenance = json.loads(metadata.pop(PROVENANCE_KEY))
        assert provenance["source"] == shard.path.relative_to(reworded).as_posix()
        assert provenance["source_sha256"] == file_sha256(shard.path)
        assert source_metadata.pop(PROVENANCE_KEY)
        assert metadata == source_metadata  # HF features
        assert target_table.drop_columns(["prompt"]).equals(source_table.drop_columns(["prompt"]))
    assert {s.path.name for s in list_shards(reworded, "reworded")} == {
        s.path.name for s in list_shards(reworded, "original")
    }


def test_reword_reproducible_and_seed_dependent(
    run_cli: RunCli, reworded: Path, dataset_copy: Path
) -> None:
    reword(run_cli, dataset_copy, "--seed", "3")
    assert prompts(dataset_copy, "reworded") == prompts(reworded, "reworded")
    reword(run_cli, dataset_copy, "--seed", "3")  # again, over the existing variant
    assert shard_files(dataset_copy) == shard_files(reworded)
    reword(run_cli, dataset_copy, "--seed", "4")
    first, second = prompts(reworded, "reworded"), prompts(dataset_copy, "reworded")
    assert first.keys() == second.keys()
    assert any(first[key] != second[key] for key in first)
    original = prompts(reworded, "original")
    for key, prompt in second.items():
        assert Counter(placeholders(prompt)) == Counter(placeholders(original[key]))


def test_reword_reproducible_across_processes(reworded: Path, dataset_copy: Path) -> None:
    # Another interpreter with another string-hash seed gives the same shards, byte for byte.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    command = [sys.executable, "-m", "vima_convert", "reword", str(dataset_copy), "--seed", "3"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str(dataset_copy)
    assert shard_files(dataset_copy) == shard_files(reworded)


def test_reword_after_rebuild_with_other_shards(
    tmp_path: Path, run_cli: RunCli, reworded: Path, dataset_copy: Path, clean_parsed: Path
) -> None:
    reword(run_cli, dataset_copy, "--seed", "3")
    run = run_cli(
        "build", clean_parsed, "--out", dataset_copy, "--valid-size", str(CORPUS_VALID),
        "--max-shard-mb", "0.06",
    )  # fmt: skip
    assert run.code == 0, run.err
    reword(run_cli, dataset_copy, "--seed", "3")
    for task in {s.task for s in list_shards(dataset_copy)}:
        names = {v: {s.path.name for s in list_shards(dataset_copy, v, "parsed", task)}
                 for v in ("original", "reworded")}  # fmt: skip
        assert names["reworded"] == names["original"], task
        assert len(names["original"]) > 1
    assert prompts(dataset_copy, "reworded") == prompts(reworded, "reworded")
    loaded = datasets.load_dataset(
        str(dataset_copy), "reworded--parsed", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.num_rows == {"train": CORPUS_EPISODES - CORPUS_VALID, "valid": CORPUS_VALID}


def test_reword_to_another_variant_name(run_cli: RunCli, dataset_copy: Path) -> None:
    reword(run_cli, dataset_copy, "--seed", "3", "--to", "para")
    assert {s.variant for s in list_shards(dataset_copy)} == {"original", "para"}
    assert "- config_name: para--parsed--twist\n" in (dataset_copy / "README.md").read_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--to", "original"), "different variants"),
        (("--from", "nothing"), "'nothing' has no parsed shards"),
    ],
)
def test_reword_usage_errors(
    run_cli: RunCli, dataset_copy: Path, options: tuple[str, ...], message: str
) -> None:
    run = run_cli("reword", dataset_copy, *options)
    assert run.code == 2
    assert message in run.err
    assert run.out == ""
