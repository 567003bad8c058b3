"""Data side: Arrow cache rows equal the parquet rows, collation pads every ragged axis with
masks, the sampler is seeded, disjoint per rank and resumable, variants mix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vima_tokenize.preprocessed import load_arrays
from vima_train.config import DataConfig
from vima_train.data import collate
from vima_train.data.datamodule import VimaDataModule
from vima_train.data.sampler import EpisodeBatchSampler
from vima_train.data.store import DataError, build_cache, cached_arrays, find_shards, open_store

from .conftest import read_rows


def test_cached_rows_equal_parquet_rows(train_dataset: Path, tmp_path: Path) -> None:
    shards = find_shards(train_dataset, ["original"], "train")
    store = open_store(shards, ["original"], tmp_path)
    rows = read_rows(train_dataset)
    assert len(store) == len(rows) == 7
    for i, row in enumerate(rows):
        cached = cached_arrays(store.row(i))
        expected = load_arrays(row)
        assert set(expected) <= set(cached)
        for key, value in expected.items():
            assert np.array_equal(cached[key], value), key
        assert (cached["end_effector"], cached["task"], cached["steps"]) == (
            row["end_effector"],
            row["task"],
            row["steps"],
        )


def test_cache_is_reused_and_redone_when_the_shard_changes(
    train_dataset: Path, tmp_path: Path
) -> None:
    shard = find_shards(train_dataset, ["original"], "train")[0].path
    copy = tmp_path / "rotate" / shard.name
    copy.parent.mkdir()
    shutil.copyfile(shard, copy)
    first = build_cache(copy, tmp_path / "cache")
    stamp = first.stat().st_mtime_ns
    assert build_cache(copy, tmp_path / "cache") == first and first.stat().st_mtime_ns == stamp
    os.utime(copy, ns=(stamp + 10**9, stamp + 10**9))
    second = build_cache(copy, tmp_path / "cache")
    assert second != first and second.is_file()
    assert not list((tmp_path / "cache").glob(".*"))  # no temporary leftovers


def test_collate_pads_every_ragged_axis(train_rows: list[dict[str, Any]]) -> None:
    batch = collate(train_rows)
    size = len(train_rows)
    steps = [int(r["steps"]) for r in train_rows]
    objects = [r["obs_mask_front"].shape[1] for r in train_rows]
    images = [r["prompt_mask_front"].shape[0] for r in train_rows]
    words = [len(r["word_ids"]) for r in train_rows]
    obs = batch.observations
    assert obs.crops is not None and obs.frames is not None and obs.bbox is not None
    assert tuple(obs.crops.shape) == (size, max(steps), 2, max(objects), 3, 32, 32)
    assert tuple(obs.frames.shape) == (size, max(steps), 2, 3, 64, 128)
    assert tuple(batch.prompt.word_ids.shape) == (size, max(words))
    assert batch.prompt.image_mask.sum(1).tolist() == images
    assert batch.prompt.word_mask.sum(1).tolist() == words
    assert batch.step_mask.sum(1).tolist() == steps
    for i, row in enumerate(train_rows):
        t, n = steps[i], objects[i]
        for v, view in enumerate(("front", "top")):
            assert np.array_equal(obs.crops[i, :t, v, :n].numpy(), row[f"obs_crops_{view}"])
            assert np.array_equal(obs.bbox[i, :t, v, :n].numpy(), row[f"obs_bbox_{view}"])
            assert np.array_equal(obs.object_mask[i, :t, v, :n].numpy(), row[f"obs_mask_{view}"])
            assert not obs.object_mask[i, :t, v, n:].any() and not obs.object_mask[i, t:].any()
            assert not obs.crops[i, :t, v, n:].any()
        assert np.array_equal(batch.action_bins[i, :t].numpy(), row["action_bins"])
        assert (batch.action_bins[i, t:] == -100).all()
        assert (obs.end_effector[i, :t] == row["end_effector"]).all()
        k = len(row["token_types"])
        assert (batch.prompt.token_types[i, k:] == -1).all()
    lean = collate(train_rows, frames=False)
    assert lean.observations.frames is None and lean.prompt.frames is None


def test_collate_rejects_bad_rows(train_rows: list[dict[str, Any]]) -> None:
    row = dict(train_rows[0])
    del row["end_effector"]
    with pytest.raises(KeyError, match="end_effector"):
        collate([row])
    row = dict(train_rows[0])
    bins = row["action_bins"].astype(np.int64)
    bins[0, 0] = 50  # x has 50 bins: 0..49
    row["action_bins"] = bins
    with pytest.raises(ValueError, match="action_bins"):
        collate([row])
    row = dict(train_rows[0])
    row["token_types"] = np.asarray(row["token_types"])[:-1]
    with pytest.raises(ValueError, match="token_types"):
        collate([row])
    with pytest.raises(ValueError, match="at least one"):
        collate([])


def test_sampler_seeded_disjoint_and_resumable() -> None:
    size, batch = 103, 4
    ranks = [EpisodeBatchSampler(size, batch, seed=7, rank=r, world_size=3) for r in range(3)]
    for epoch in (0, 1):
        for sampler in ranks:
            sampler.set_epoch(epoch)
        parts = [list(sampler) for sampler in ranks]
        assert all(len(p) == len(ranks[0]) == 103 // 12 for p in parts)
        flat = [i for p in parts for b in p for i in b]
        assert len(flat) == len(set(flat)) == 96  # disjoint; tail of 7 dropped
        if epoch == 0:
            first = flat
    assert first != flat  # a new order each epoch
    again = EpisodeBatchSampler(size, batch, seed=7, rank=1, world_size=3)
    again.set_epoch(1)
    assert list(again) == parts[1]
    again.skip(1, 3)
    again.set_epoch(1)
    assert list(again) == parts[1][3:] and len(again) == len(parts[1])
    assert list(again) == parts[1]  # the skip applies once
    again.skip(0, 3)  # for another epoch: ignored
    assert list(again) == parts[1]


def test_sampler_bucketing_and_evaluation_order() -> None:
    lengths = np.arange(400) % 37
    sampler = EpisodeBatchSampler(400, 8, seed=0, lengths=lengths)
    batches = list(sampler)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    plain = np.mean([np.ptp(lengths[b]) for b in EpisodeBatchSampler(400, 8, seed=0)])
    assert spread < plain / 4
    assert sorted(i for b in batches for i in b) == list(range(400))
    evaluation = [EpisodeBatchSampler(10, 3, rank=r, world_size=2, shuffle=False) for r in (0, 1)]
    assert [list(s) for s in evaluation] == [[[0, 2, 4], [6, 8]], [[1, 3, 5], [7, 9]]]


def test_datamodule_mixes_variants(train_dataset: Path, tmp_path: Path) -> None:
    config = DataConfig(variants=["original", "reworded"], batch_size=4, cache_dir=str(tmp_path))
    module = VimaDataModule(train_dataset, config, seed=0, frames=False)
    module.prepare_data()
    module.setup("fit")
    seen = [b for batch in module.train_dataloader() for b in batch.variant.tolist()]
    assert len(seen) == 12 and set(seen) == {0, 1}  # 14 episodes, 3 batches of 4
    valid = [b for batch in module.val_dataloader() for b in batch.variant.tolist()]
    assert sorted(valid) == [0, 0, 1, 1]
    assert module.settings.keep_final_observation is False
    reworded = read_rows(train_dataset, "reworded")
    original = read_rows(train_dataset, "original")
    assert [r["prompt"] for r in reworded] != [r["prompt"] for r in original]


def test_missing_configs_are_reported(train_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="gobbledygook_word--preprocessed"):
        find_shards(train_dataset, ["gobbledygook_word"], "train")
    with pytest.raises(DataError, match="unknown task"):
        find_shards(train_dataset, ["original"], "train", ["no_such_task"])
    with pytest.raises(DataError, match="not a folder"):
        find_shards(tmp_path / "absent", ["original"], "train")
    only = find_shards(train_dataset, ["original"], "train", ["twist"])
    assert [s.task for s in only] == ["twist"]


def test_any_variant_name_is_a_config(train_dataset: Path, tmp_path: Path) -> None:
    """Perturbed variants (`<perturbation>--preprocessed--<task>`) train like the others."""
    dataset = tmp_path / "dataset"
    shutil.copytree(train_dataset / "reworded" / "preprocessed",
                    dataset / "gobbledygook_word" / "preprocessed")  # fmt: skip
    config = DataConfig(variants=["gobbledygook_word"], batch_size=2, cache_dir=str(tmp_path))
    module = VimaDataModule(dataset, config, seed=0, frames=False)
    module.prepare_data()
    module.setup("fit")
    batches = list(module.train_dataloader())
    assert len(batches) == 3 and all(b.size == 2 for b in batches)
