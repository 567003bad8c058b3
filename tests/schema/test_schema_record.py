"""The dataset record: episode <-> row, in memory and through a real zstd parquet file."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from vima_schema.enums import View
from vima_schema.models import Episode
from vima_schema.reader import read_episode
from vima_schema.record import (
    OBJECT_DETAILS,
    SCHEMA,
    asset_rgb,
    episode_to_record,
    features,
    hf_schema,
    record_to_episode,
    segm_frames,
)


def test_record_round_trip(sample_dir: Path) -> None:
    episode = read_episode(sample_dir)
    record = episode_to_record(episode)
    assert list(record) == list(features()) == SCHEMA.names
    assert record_to_episode(record) == episode


def test_record_values_decode(sample_dir: Path) -> None:
    episode = read_episode(sample_dir)
    record = episode_to_record(episode)
    frames = episode.num_frames
    assert features()["task"].int2str(record["task"]) == episode.task.name
    assert record["frames_front"] == episode.frames[View.front]  # JPEG bytes as stored
    segm = segm_frames(record["segm_top"], frames)
    assert segm.shape == (frames, 128, 256)
    assert np.array_equal(segm, episode.segm[View.top])
    for asset in record["prompt_assets"]:
        model = episode.prompt_assets[asset["name"]]
        assert np.array_equal(asset_rgb(asset["rgb_front"]), model.rgb[View.front])
        assert asset["view_order"] == [view.value for view in model.rgb]
    for obj in record["objects"]:
        details = json.loads(obj["details"])
        assert list(details) == list(OBJECT_DETAILS)
        assert obj["obj_name"] == episode.objects[obj["obj_id"]].obj_name
    config = record["generation_config"]
    assert (config is None) == (episode.generation_config is None)
    if config is not None:
        assert json.loads(config)["values"]["modalities"] == ["rgb", "segm"]


def test_schema_matches_features() -> None:
    assert features()["task"].names[0] == "visual_manipulation"
    assert len(features()["task"].names) == 17
    assert hf_schema().names == SCHEMA.names
    assert b"huggingface" in hf_schema().metadata
    assert datasets.Features.from_arrow_schema(hf_schema()) == features()


def test_parquet_round_trip(sample_episodes: list[Episode], tmp_path: Path) -> None:
    table = pa.Table.from_pylist(
        [episode_to_record(e) for e in sample_episodes], schema=hf_schema()
    )
    path = tmp_path / "episodes.parquet"
    pq.write_table(table, path, compression="zstd")
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"

    loaded = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert loaded.features == features()
    assert len(loaded) == len(sample_episodes)
    for row, episode in zip(loaded, sample_episodes, strict=True):
        assert record_to_episode(row) == episode


def test_parquet_via_pyarrow_only(sample_episodes: list[Episode], tmp_path: Path) -> None:
    """The plain `SCHEMA` (no Hugging Face metadata) round-trips with pyarrow alone."""
    path = tmp_path / "episodes.parquet"
    table = pa.Table.from_pylist([episode_to_record(e) for e in sample_episodes], schema=SCHEMA)
    pq.write_table(table, path, compression="zstd")
    rows = pq.read_table(path).to_pylist()
    assert [record_to_episode(row) for row in rows] == sample_episodes


def test_task_name_accepted_in_row(sample_episodes: list[Episode]) -> None:
    episode = sample_episodes[0]
    record = episode_to_record(episode) | {"task": episode.task.name}
    assert record_to_episode(record) == episode
