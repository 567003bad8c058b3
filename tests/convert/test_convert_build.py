"""`vima-convert build`: layout, dataset card, `datasets.load_dataset`, shards, split sizes and
split membership, losslessness."""

from __future__ import annotations

import hashlib
import io
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from vima_convert.split import valid_quotas
from vima_schema.dataset_layout import list_shards
from vima_schema.enums import Task
from vima_schema.equality import exactly_equal
from vima_schema.reader import read_episode
from vima_schema.record import record_to_episode

from .conftest import (
    CORPUS_EPISODES,
    CORPUS_VALID,
    RunCli,
    copy_tree,
    rows_by_split,
    shard_files,
    valid_members,
)

SAMPLE_TASKS = {
    "follow_order",
    "novel_noun",
    "pick_in_order_then_restore",
    "rearrange",
    "rotate",
    "same_shape",
    "sweep_without_exceeding",
    "twist",
    "visual_manipulation",
}
#: Corpus episodes per task (two samples of follow_order and of sweep_without_exceeding).
TASK_EPISODES = {task: 3 for task in SAMPLE_TASKS} | {
    "follow_order": 6,
    "sweep_without_exceeding": 6,
}
_SHARD_PATH = re.compile(
    r"^original/parsed/(?P<task>[a-z_]+)/(?P<split>train|valid)-(?P<i>\d{5})-of-(?P<n>\d{5})"
    r"\.parquet$"
)


def card_configs(dataset: Path) -> dict[str, dict[str, str]]:
    """`configs:` of the YAML front matter of the card: config -> split -> path pattern."""
    text = (dataset / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    return {
        config["config_name"]: {item["split"]: item["path"] for item in config["data_files"]}
        for config in front["configs"]
    }


def valid_per_task(dataset: Path) -> dict[str, int]:
    counted = Counter(Task(task).name for task, _ in valid_members(dataset))
    return {task: counted.get(task, 0) for task in SAMPLE_TASKS}


def build_cli(run_cli: RunCli, parsed: Path, dataset: Path, *options: str) -> None:
    run = run_cli("build", parsed, "--out", dataset, *options)
    assert run.code == 0, run.err
    assert run.last_line == str(dataset)


def test_build_cli_layout_and_card(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, clean_dataset: Path
) -> None:
    dataset = tmp_path / "dataset"
    run = run_cli("build", clean_parsed, "--out", dataset, "--valid-size", str(CORPUS_VALID))
    assert run.code == 0, run.err
    assert run.last_line == str(dataset)
    assert f"{CORPUS_EPISODES} episodes in 18 shards" in run.err
    assert shard_files(dataset) == shard_files(clean_dataset)  # CLI == python API
    files = sorted(p.relative_to(dataset).as_posix() for p in dataset.rglob("*") if p.is_file())
    meta = ["meta/.lock", "meta/episodes.parquet", "meta/info.json"]
    assert files[: 1 + len(meta)] == ["README.md", *meta]
    seen = set()
    for name in files[1 + len(meta) :]:
        match = _SHARD_PATH.match(name)
        assert match, name
        assert (match["i"], match["n"]) == ("00000", "00001")
        seen.add((match["task"], match["split"]))
    assert seen == {(task, split) for task in SAMPLE_TASKS for split in ("train", "valid")}
    configs = card_configs(dataset)
    assert set(configs) == {"original--parsed"} | {f"original--parsed--{t}" for t in SAMPLE_TASKS}
    assert configs["original--parsed"] == {
        "train": "original/parsed/*/train-*.parquet",
        "valid": "original/parsed/*/valid-*.parquet",
    }
    for task in SAMPLE_TASKS:
        assert configs[f"original--parsed--{task}"] == {
            split: f"original/parsed/{task}/{split}-*.parquet" for split in ("train", "valid")
        }


def test_load_dataset_opens_every_config(tmp_path: Path, clean_dataset: Path) -> None:
    configs = card_configs(clean_dataset)
    cache = str(tmp_path / "hf-cache")
    for config, patterns in configs.items():
        loaded = datasets.load_dataset(str(clean_dataset), config, cache_dir=cache)
        assert set(loaded) == set(patterns) == {"train", "valid"}, config
        task = config.split("--")[2] if config.count("--") == 2 else None
        pyarrow_rows = rows_by_split(clean_dataset, config)
        for split, data in loaded.items():
            assert data.num_rows == len(pyarrow_rows[split]), (config, split)
            assert data.features["task"].names[Task.twist] == "twist"
            indices = data["index"]
            if task is not None:
                assert set(data["task"]) == {int(Task.from_name(task))}
                assert indices == sorted(indices)  # rows in index order
        expected = TASK_EPISODES[task] if task else CORPUS_EPISODES
        assert sum(loaded.num_rows.values()) == expected, config
    whole = datasets.load_dataset(str(clean_dataset), "original--parsed", cache_dir=cache)
    assert whole.num_rows == {"train": CORPUS_EPISODES - CORPUS_VALID, "valid": CORPUS_VALID}


def test_card_counts_match_shards(clean_dataset: Path) -> None:
    text = (clean_dataset / "README.md").read_text()
    for config in ("original--parsed", "original--parsed--twist"):
        for split, rows in rows_by_split(clean_dataset, config).items():
            assert f"| `{config}` | {split} | {len(rows):,} |" in text


def test_build_rows_are_lossless(clean_dataset: Path, corpus: Path) -> None:
    seen = set()
    for shard in list_shards(clean_dataset, "original", "parsed"):
        for row in pq.read_table(shard.path).to_pylist():
            task = Task(row["task"])
            original = read_episode(corpus / task.name / f"{row['index']:06d}")
            assert exactly_equal(record_to_episode(row), original), (task.name, row["index"])
            seen.add((task.name, row["index"]))
    assert len(seen) == CORPUS_EPISODES


def test_load_dataset_rows_are_lossless(tmp_path: Path, clean_dataset: Path, corpus: Path) -> None:
    loaded = datasets.load_dataset(
        str(clean_dataset), "original--parsed--twist", cache_dir=str(tmp_path / "hf-cache")
    )
    for split in ("train", "valid"):
        for row in loaded[split]:
            original = read_episode(corpus / "twist" / f"{row['index']:06d}")
            assert exactly_equal(record_to_episode(row), original)


def test_build_small_shards_have_consistent_names(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, clean_dataset: Path
) -> None:
    dataset = tmp_path / "dataset"
    build_cli(
        run_cli, clean_parsed, dataset, "--valid-size", str(CORPUS_VALID), "--max-shard-mb", "0.06"
    )
    groups: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for name in shard_files(dataset):
        match = _SHARD_PATH.match(name)
        assert match, name
        groups[match["task"], match["split"]].append((int(match["i"]), int(match["n"])))
    assert max(len(found) for found in groups.values()) > 2
    for key, found in groups.items():
        count = found[0][1]
        assert sorted(found) == [(i, count) for i in range(count)], key
    for shard in list_shards(dataset):
        assert pq.read_metadata(shard.path).num_rows >= 1
    # Same episodes in the same splits and order as with one shard per split.
    for task in SAMPLE_TASKS:
        config = f"original--parsed--{task}"
        assert rows_by_split(dataset, config) == rows_by_split(clean_dataset, config)
    loaded = datasets.load_dataset(
        str(dataset), "original--parsed", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.num_rows == {"train": CORPUS_EPISODES - CORPUS_VALID, "valid": CORPUS_VALID}


@pytest.mark.parametrize(
    ("valid_size", "expected"),
    [
        # 11 of 33: exact shares, 2 for each 6-episode task and 1 for each 3-episode task.
        ("11", {task: n // 3 for task, n in TASK_EPISODES.items()}),
        # 4 of 33: shares 0.73 (6-episode tasks) beat 0.36; ties go to the lower task value.
        ("4", {"follow_order": 1, "sweep_without_exceeding": 1, "visual_manipulation": 1,
               "rotate": 1}),
        # 0.25 -> round(8.25) = 8: floors 1+1, then six of the seven 0.73 remainders.
        ("0.25", {task: 1 for task in SAMPLE_TASKS} | {"pick_in_order_then_restore": 0}),
    ],
)  # fmt: skip
def test_build_valid_size_count_and_fraction(
    tmp_path: Path,
    run_cli: RunCli,
    clean_parsed: Path,
    valid_size: str,
    expected: dict[str, int],
) -> None:
    dataset = tmp_path / "dataset"
    build_cli(run_cli, clean_parsed, dataset, "--valid-size", valid_size)
    wanted = {task: expected.get(task, 0) for task in SAMPLE_TASKS}
    assert valid_per_task(dataset) == wanted
    assert len(valid_members(dataset)) == sum(wanted.values())
    for task in SAMPLE_TASKS:
        splits = {s.split for s in list_shards(dataset, "original", "parsed", task)}
        assert splits == ({"train", "valid"} if wanted[task] else {"train"})
        rows = rows_by_split(dataset, f"original--parsed--{task}")
        assert sum(len(r) for r in rows.values()) == TASK_EPISODES[task]


def test_build_valid_size_zero_gives_train_only(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path
) -> None:
    dataset = tmp_path / "dataset"
    build_cli(run_cli, clean_parsed, dataset, "--valid-size", "0")
    assert {s.split for s in list_shards(dataset)} == {"train"}
    loaded = datasets.load_dataset(
        str(dataset), "original--parsed", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.num_rows == {"train": CORPUS_EPISODES}


@pytest.mark.parametrize("valid_size", ["33", "40", "0.999", "abc", "1.5", "-1"])
def test_build_bad_valid_size_is_usage_error(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, valid_size: str
) -> None:
    dataset = tmp_path / "dataset"
    run = run_cli("build", clean_parsed, "--out", dataset, f"--valid-size={valid_size}")
    assert run.code == 2
    assert "--valid-size" in run.err
    if valid_size in ("33", "40", "0.999"):
        assert f"the dataset has only {CORPUS_EPISODES}" in run.err
    assert run.out == ""
    assert not dataset.exists()


def test_build_without_parsed_files_is_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "empty").mkdir()
    run = run_cli("build", tmp_path / "empty", "--out", tmp_path / "dataset")
    assert run.code == 2
    assert "no parsed episode files" in run.err
    run = run_cli("build", tmp_path / "missing", "--out", tmp_path / "dataset")
    assert run.code == 2
    assert str(tmp_path / "missing") in run.err


def test_build_unreadable_parsed_file_is_listed(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path
) -> None:
    parsed = copy_tree(clean_parsed, tmp_path / "parsed")
    broken = parsed / "rotate" / "rotate_000006.arrow"
    broken.write_bytes(broken.read_bytes()[:500])
    dataset = tmp_path / "dataset"
    run = run_cli("build", parsed, "--out", dataset, "--valid-size", str(CORPUS_VALID))
    assert run.code == 1
    assert run.last_line == str(dataset)
    assert str(broken) in run.err
    rows = rows_by_split(dataset, "original--parsed")
    assert sum(len(r) for r in rows.values()) == CORPUS_EPISODES - 1


def test_split_membership_independent_of_workers(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, clean_dataset: Path
) -> None:
    dataset = tmp_path / "dataset"
    build_cli(run_cli, clean_parsed, dataset, "--valid-size", str(CORPUS_VALID), "--workers", "2")
    assert shard_files(dataset) == shard_files(clean_dataset)


def test_split_membership_independent_of_parse_order(
    tmp_path: Path,
    run_cli: RunCli,
    corpus: Path,
    clean_dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folders = sorted(corpus.glob("*/*"), reverse=True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(map(str, folders)) + "\n"))
    parsed = tmp_path / "parsed"
    assert run_cli("parse", "-", "--out", parsed).code == 0
    created = sorted(parsed.glob("*/*.arrow"), key=lambda p: p.stat().st_mtime_ns)
    assert created[0].parent.name == "visual_manipulation"  # written in reverse order
    dataset = tmp_path / "dataset"
    build_cli(run_cli, parsed, dataset, "--valid-size", str(CORPUS_VALID))
    assert shard_files(dataset) == shard_files(clean_dataset)


def test_split_membership_follows_documented_hash(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, clean_dataset: Path
) -> None:
    # docs/FORMAT.md: the valid episodes of a task are those with the smallest BLAKE2b hash of
    # "<seed>/<task>/<index>" (default seed 1000), as many as the task's quota.
    def smallest(task: str, indices: list[int], quota: int, seed: int) -> set[int]:
        def rank(i: int) -> bytes:
            return hashlib.blake2b(f"{seed}/{task}/{i}".encode(), digest_size=16).digest()

        return set(sorted(indices, key=rank)[:quota])

    every = {
        task: [int(p.name[-len("000000.arrow") : -len(".arrow")]) for p in files]
        for task in SAMPLE_TASKS
        if (files := list((clean_parsed / task).glob("*.arrow")))
    }
    for seed, dataset in ((1000, clean_dataset), (7, tmp_path / "seed7")):
        if seed != 1000:
            build_cli(
                run_cli, clean_parsed, dataset, "--valid-size", str(CORPUS_VALID), "--seed", "7"
            )
        members = valid_members(dataset)
        for task, indices in every.items():
            found = {i for t, i in members if Task(t).name == task}
            assert found == smallest(task, indices, TASK_EPISODES[task] // 3, seed), task


def test_split_membership_same_seed_stable_other_seed_differs(
    tmp_path: Path, run_cli: RunCli, clean_parsed: Path, clean_dataset: Path
) -> None:
    default = tmp_path / "default"
    build_cli(run_cli, clean_parsed, default, "--valid-size", str(CORPUS_VALID), "--seed", "1000")
    assert valid_members(default) == valid_members(clean_dataset)
    assert shard_files(default) == shard_files(clean_dataset)
    other = tmp_path / "other"
    build_cli(run_cli, clean_parsed, other, "--valid-size", str(CORPUS_VALID), "--seed", "1001")
    assert valid_members(other) != valid_members(clean_dataset)
    assert valid_per_task(other) == valid_per_task(clean_dataset)  # same stratified quotas
    every = {(r["task"], r["index"]) for rows in rows_by_split(other, "original--parsed").values()
             for r in rows}  # fmt: skip
    assert len(every) == CORPUS_EPISODES


@pytest.mark.parametrize(
    ("counts", "wanted", "expected"),
    [
        ({Task.rotate: 10, Task.twist: 5, Task.rearrange: 5}, 3, [1, 1, 1]),
        ({Task.rotate: 10, Task.twist: 5, Task.rearrange: 5}, 0.5, [5, 2, 3]),
        ({Task.rotate: 1, Task.twist: 1, Task.rearrange: 98}, 10, [0, 0, 10]),
        ({Task.rotate: 7, Task.twist: 7, Task.rearrange: 7}, 2, [1, 0, 1]),
    ],
)
def test_valid_quotas_largest_remainder(
    counts: dict[Task, int], wanted: int | float, expected: list[int]
) -> None:
    quotas = valid_quotas(counts, wanted)
    assert [quotas[task] for task in counts] == expected
    total = round(wanted * sum(counts.values())) if isinstance(wanted, float) else wanted
    assert sum(quotas.values()) == total
