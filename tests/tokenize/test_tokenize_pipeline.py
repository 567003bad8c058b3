"""End-to-end tests of vima-tokenize on the converted sample episodes.

The sample episodes are converted with vima-convert (parse + build) once per session, then
tokenized with the `vima-tokenize` CLI. Expected values are computed independently here from
the raw episode files (Pillow + numpy) or the parsed rows, never with the tokenizer's helpers.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub.constants
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from killed_writer import leftovers_of_a_killed_writer
from PIL import Image
from small_filesystem import remount, small_filesystem
from vima_convert.cli import main as convert_main
from vima_schema.atomic import temporary_path
from vima_schema.dataset_layout import PARQUET_OPTIONS
from vima_schema.enums import TASK_NAMES
from vima_schema.record import hf_schema as parsed_hf_schema
from vima_schema.safe_pickle import load_pickle
from vima_tokenize import pipeline
from vima_tokenize.actions import ACTION_KEYS, bin_width, discretize, undiscretize
from vima_tokenize.cli import main as tokenize_main
from vima_tokenize.image_coding import image_decode, image_encode
from vima_tokenize.pipeline import SETTINGS_KEY, TokenizeJob, tokenize_dataset, tokenize_shard
from vima_tokenize.preprocessed import ARRAYS, load_arrays
from vima_tokenize.text import EncodedPrompt, decode_prompt, load_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "data" / "samples"
RAW = SAMPLES / "vima-raw"
GENERATED = SAMPLES / "vima-bench-generated"
VIEWS = ("front", "top")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
H, W = 128, 256

pytestmark = pytest.mark.skipif(
    not (RAW.is_dir() and GENERATED.is_dir()), reason="sample data missing"
)

Key = tuple[str, int]  # (task name, episode index)


# --------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class CliRun:
    """Exit code and captured output of one in-process CLI call."""

    code: int
    stdout: str
    stderr: str


def run_cli(main: Callable[[list[str]], int], argv: list[str]) -> CliRun:
    """Call a CLI `main(argv)` in-process, capturing stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return CliRun(code, out.getvalue(), err.getvalue())


def tokenize(*argv: str | Path) -> CliRun:
    """`vima-tokenize ARGV...` in-process."""
    return run_cli(tokenize_main, [str(arg) for arg in argv])


@dataclass(frozen=True)
class Tokenized:
    """A converted dataset folder after one `vima-tokenize` run."""

    dataset: Path
    run: CliRun


def _convert(samples: Path, work: Path, valid_size: str) -> Path:
    parsed, dataset = work / "parsed", work / "dataset"
    run = run_cli(convert_main, ["parse", str(samples), "--out", str(parsed)])
    assert run.code == 0, run.stderr
    argv = ["build", str(parsed), "--out", str(dataset), "--valid-size", valid_size]
    run = run_cli(convert_main, argv)
    assert run.code == 0, run.stderr
    return dataset


def _tokenized(converted: Path, work: Path, *options: str) -> Tokenized:
    dataset = work / "dataset"
    shutil.copytree(converted, dataset)
    return Tokenized(dataset, tokenize(dataset, *options))


def shards(dataset: Path, stage: str) -> dict[tuple[str, str], Path]:
    """(task, shard file name) -> path of every shard of `original/<stage>`."""
    return {(p.parent.name, p.name): p for p in (dataset / "original" / stage).glob("*/*.parquet")}


def shard_keys(path: Path) -> list[Key]:
    """(task name, index) of every row of a shard, in order."""
    table = pq.read_table(path, columns=["task", "index"])
    return [(TASK_NAMES[t], i) for t, i in zip(*table.to_pydict().values(), strict=True)]


def parsed_rows(dataset: Path) -> dict[Key, dict[str, Any]]:
    """Every parsed row of a dataset, read with pyarrow, keyed by (task name, index)."""
    rows = {}
    for path in shards(dataset, "parsed").values():
        for row in pq.read_table(path).to_pylist():
            rows[TASK_NAMES[row["task"]], row["index"]] = row
    return rows


def load_preprocessed(dataset: Path, cache: Path) -> dict[Key, tuple[str, dict[str, Any]]]:
    """Every row of `original--preprocessed` via `datasets.load_dataset`: key -> (split, row)."""
    loaded = datasets.load_dataset(str(dataset), "original--preprocessed", cache_dir=str(cache))
    return {
        (TASK_NAMES[row["task"]], row["index"]): (split, row)
        for split, part in loaded.items()
        for row in part
    }


def decode_jpeg(path_or_bytes: Path | bytes) -> np.ndarray:
    """A JPEG as uint8 (3, H, W) with Pillow."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).transpose(2, 0, 1)


def half_size(rgb: np.ndarray) -> np.ndarray:
    """2x2 block mean of a (3, 128, 256) image, rounded half up: the 64x128 frame."""
    sums = rgb.astype(np.int64).reshape(3, H // 2, 2, W // 2, 2).sum(axis=(2, 4))
    return ((2 * sums + 4) // 8).astype(np.uint8)


def extents(segm: np.ndarray, obj: int) -> tuple[int, int, int, int] | None:
    """(ymin, ymax, xmin, xmax) of the pixels of `obj`, None with fewer than 2 pixels."""
    found = np.argwhere(segm == obj)
    if len(found) < 2:
        return None
    (y0, x0), (y1, x1) = found.min(axis=0), found.max(axis=0)
    return int(y0), int(y1), int(x0), int(x1)


def bbox(box: tuple[int, int, int, int]) -> list[int]:
    """[xc, yc, h, w] of extents (model reference section 3.1)."""
    y0, y1, x0, x1 = box
    return [(x0 + x1) // 2, (y0 + y1) // 2, y1 - y0, x1 - x0]


def area_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Exact area resize of a square (3, S, S) image to (3, size, size), rounded half up."""
    channels, side, _ = image.shape
    rows = np.repeat(image.astype(np.int64), size, axis=1)  # (3, side*size, side)
    rows = rows.reshape(channels, size, side, side).sum(axis=2)
    cols = np.repeat(rows, size, axis=2).reshape(channels, size, size, side).sum(axis=3)
    area = side * side
    return ((2 * cols + area) // (2 * area)).astype(np.uint8)


def oracle_crop(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 32x32 crop of extents `box`: zero-padded to a centred square, area-resized."""
    y0, y1, x0, x1 = box
    patch = rgb[:, y0 : y1 + 1, x0 : x1 + 1]
    ph, pw = patch.shape[1:]
    side = max(ph, pw)
    square = np.zeros((3, side, side), np.uint8)
    by, bx = (side - ph) // 2, (side - pw) // 2
    square[:, by : by + ph, bx : bx + pw] = patch
    return area_resize(square, 32)


def asset_images(asset: dict[str, Any], view: str) -> tuple[np.ndarray, np.ndarray]:
    """(rgb (3, H, W), segm (H, W)) of one view of a parsed prompt asset."""
    rgb = np.frombuffer(asset[f"rgb_{view}"], np.uint8).reshape(3, H, W)
    return rgb, np.frombuffer(asset[f"segm_{view}"], np.uint8).reshape(H, W)


def expected_actions(row: dict[str, Any]) -> np.ndarray:
    """The parsed row's poses as (T, 14) float32, positions padded to 3-D with z = 0."""
    parts = []
    for key in ACTION_KEYS:
        pose = np.asarray(row[key], np.float32).reshape(row["steps"], -1)
        if key.endswith("position") and pose.shape[1] == 2:
            pose = np.concatenate([pose, np.zeros((len(pose), 1), np.float32)], axis=1)
        parts.append(pose)
    return np.concatenate(parts, axis=1)


def files_state(root: Path) -> dict[str, tuple[int, bytes]]:
    """Relative path -> (mtime_ns, bytes) of every file below `root`."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def converted_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 9 vima-raw samples converted (parsed configs only, 2 in `valid`); do not modify."""
    return _convert(RAW, tmp_path_factory.mktemp("raw"), "2")


@pytest.fixture(scope="session")
def converted_generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2 vima-bench-generated samples converted (1 in `valid`); do not modify."""
    return _convert(GENERATED, tmp_path_factory.mktemp("generated"), "1")


@pytest.fixture(scope="session")
def tokenized_raw(tmp_path_factory: pytest.TempPathFactory, converted_raw: Path) -> Tokenized:
    """A copy of `converted_raw` tokenized with `--workers 2`; do not modify."""
    return _tokenized(converted_raw, tmp_path_factory.mktemp("tok-raw"), "--workers", "2")


@pytest.fixture(scope="session")
def tokenized_final(tmp_path_factory: pytest.TempPathFactory, converted_raw: Path) -> Tokenized:
    """A copy of `converted_raw` tokenized with `--keep-final-observation`; do not modify."""
    work = tmp_path_factory.mktemp("tok-final")
    return _tokenized(converted_raw, work, "--keep-final-observation")


@pytest.fixture(scope="session")
def tokenized_generated(
    tmp_path_factory: pytest.TempPathFactory, converted_generated: Path
) -> Tokenized:
    """A copy of `converted_generated` tokenized with the defaults; do not modify."""
    return _tokenized(converted_generated, tmp_path_factory.mktemp("tok-generated"))


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private `datasets` cache, so the tests neither read nor fill the user's cache."""
    return tmp_path_factory.mktemp("hf-cache")


@pytest.fixture(scope="session")
def raw_rows(tokenized_raw: Tokenized, hf_cache: Path) -> dict[Key, tuple[str, dict[str, Any]]]:
    """Preprocessed vima-raw rows read with `datasets.load_dataset`."""
    return load_preprocessed(tokenized_raw.dataset, hf_cache)


@pytest.fixture
def copy_dataset(tmp_path: Path) -> Callable[[Path], Path]:
    """Copy a dataset folder (mtimes kept) into this test's `tmp_path`."""

    def copy(source: Path) -> Path:
        return Path(shutil.copytree(source, tmp_path / "dataset"))

    return copy


# ------------------------------------------------------------------------ CLI and layout


def test_cli_writes_one_preprocessed_shard_per_parsed_shard(tokenized_raw: Tokenized) -> None:
    dataset, run = tokenized_raw.dataset, tokenized_raw.run
    assert run.code == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str(dataset)
    assert "9 episodes in 9 shards (0 already done)" in run.stderr
    assert "0 failed" in run.stderr
    parsed, preprocessed = shards(dataset, "parsed"), shards(dataset, "preprocessed")
    assert len(parsed) == 9
    assert sorted(preprocessed) == sorted(parsed)  # same task folders and shard names
    for name, source in parsed.items():
        # same rows in the same order, so every episode keeps its split
        assert shard_keys(preprocessed[name]) == shard_keys(source)
    assert {name[1].split("-")[0] for name in preprocessed} == {"train", "valid"}
    assert not (dataset / "original" / "preprocessed" / "failures.jsonl").exists()
    assert not [p for p in dataset.rglob("*") if p.name.endswith(".tmp")]


def test_card_lists_preprocessed_configs_and_load_dataset_opens_them(
    tokenized_raw: Tokenized, hf_cache: Path
) -> None:
    dataset = tokenized_raw.dataset
    card = (dataset / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- config_name: (\S+)$", card, flags=re.MULTILINE))
    tasks = {task for task, _ in shards(dataset, "parsed")}
    wanted = {f"original--preprocessed--{task}" for task in tasks} | {"original--preprocessed"}
    assert wanted <= listed
    assert {f"original--parsed--{task}" for task in tasks} <= listed  # parsed configs kept
    splits_of = {}
    for (_, shard), path in shards(dataset, "parsed").items():
        for key in shard_keys(path):
            splits_of[key] = shard.split("-")[0]
    for name in sorted(wanted):
        loaded = datasets.load_dataset(str(dataset), name, cache_dir=str(hf_cache))
        keys = {
            (TASK_NAMES[t], i): split
            for split, part in loaded.items()
            for t, i in zip(part["task"], part["index"], strict=True)
        }
        task = name.split("--")[2] if name.count("--") == 2 else None
        assert keys == {k: s for k, s in splits_of.items() if task in (None, k[0])}, name
    assert sorted(splits_of.values()).count("valid") == 2


# ------------------------------------------------------------------- the loaded record


def test_load_arrays_shapes_dtypes_and_prompt_image_order(
    raw_rows: dict[Key, tuple[str, dict[str, Any]]], converted_raw: Path
) -> None:
    parsed = parsed_rows(converted_raw)
    assert sorted(raw_rows) == sorted(parsed)
    tokenizer = load_tokenizer()
    for key, (_, row) in raw_rows.items():
        source = parsed[key]
        arrays = load_arrays(row)
        steps = source["steps"]
        assert row["steps"] == steps and row["num_observations"] == steps
        assert len(source["frames_front"]) == steps + 1  # the final observation is dropped
        # dtypes and shapes
        for name, (dtype, _) in ARRAYS.items():
            assert arrays[name].dtype == np.dtype(dtype), name
        n_img, k = row["num_images"], row["prompt_objects"]
        n_obj = len(source["objects"])
        for view in VIEWS:
            assert arrays[f"prompt_crops_{view}"].shape == (n_img, k, 3, 32, 32)
            assert arrays[f"prompt_bbox_{view}"].shape == (n_img, k, 4)
            assert arrays[f"prompt_mask_{view}"].shape == (n_img, k)
            assert arrays[f"prompt_frames_{view}"].shape == (n_img, 3, 64, 128)
            assert arrays[f"obs_crops_{view}"].shape == (steps, n_obj, 3, 32, 32)
            assert arrays[f"obs_bbox_{view}"].shape == (steps, n_obj, 4)
            assert arrays[f"obs_mask_{view}"].shape == (steps, n_obj)
            assert arrays[f"obs_frames_{view}"].shape == (steps, 3, 64, 128)
        assert arrays["actions"].shape == (steps, 14) and arrays["actions"].dtype == np.float32
        assert arrays["action_bins"].shape == (steps, 14)
        assert arrays["object_ids"].tolist() == [o["obj_id"] for o in source["objects"]]
        assert row["end_effector"] == {"suction": 0, "spatula": 1}[source["end_effector_type"]]
        # placeholders -> image tokens, in prompt order
        order = PLACEHOLDER.findall(source["prompt"])
        assets = {asset["name"]: asset for asset in source["prompt_assets"]}
        assert order and set(order) <= set(assets)
        types = arrays["token_types"]
        assert types.dtype == np.int8 and set(types.tolist()) <= {0, 1}
        assert int(types.sum()) == n_img == len(order)
        assert len(arrays["word_ids"]) == len(types) - n_img
        decoded = decode_prompt(tokenizer, EncodedPrompt(types, arrays["word_ids"], order))
        assert decoded == source["prompt"]
        wanted_ids = [[o["obj_id"] for o in assets[name]["obj_info"]] for name in order]
        assert k == max(len(ids) for ids in wanted_ids)
        padded = [ids + [-1] * (k - len(ids)) for ids in wanted_ids]
        assert arrays["prompt_object_ids"].tolist() == padded
        for view in VIEWS:
            for i, name in enumerate(order):
                rgb, segm = asset_images(assets[name], view)
                np.testing.assert_array_equal(arrays[f"prompt_frames_{view}"][i], half_size(rgb))
                for slot, obj in enumerate(padded[i]):
                    box = None if obj < 0 else extents(segm, obj)
                    assert arrays[f"prompt_mask_{view}"][i, slot] == (box is not None)
                    expected = [0, 0, 0, 0] if box is None else bbox(box)
                    assert arrays[f"prompt_bbox_{view}"][i, slot].tolist() == expected
            for t in range(steps):
                frame = decode_jpeg(source[f"frames_{view}"][t])
                np.testing.assert_array_equal(arrays[f"obs_frames_{view}"][t], half_size(frame))


def test_scene_placeholders_use_scene_ids_and_object_placeholders_id_0(
    raw_rows: dict[Key, tuple[str, dict[str, Any]]],
) -> None:
    ids = {
        key: load_arrays(row)["prompt_object_ids"].tolist() for key, (_, row) in raw_rows.items()
    }
    assert ids["twist", 0] == [[2]] * 6
    assert ids["follow_order", 0] == [[2, 3, 4]] * 3
    assert ids["rearrange", 0] == [[2, 3]]
    assert ids["visual_manipulation", 0] == [[0], [0]]


def test_keep_final_observation_keeps_t_plus_1_observations(
    tokenized_final: Tokenized, hf_cache: Path, raw_rows: dict[Key, tuple[str, dict[str, Any]]]
) -> None:
    assert tokenized_final.run.code == 0, tokenized_final.run.stderr
    final = load_preprocessed(tokenized_final.dataset, hf_cache / "final")
    assert sorted(final) == sorted(raw_rows)
    for key, (split, row) in final.items():
        default_split, default_row = raw_rows[key]
        assert split == default_split
        steps = row["steps"]
        assert row["num_observations"] == steps + 1
        arrays, default = load_arrays(row), load_arrays(default_row)
        for view in VIEWS:
            for kind in ("crops", "bbox", "mask", "frames"):
                name = f"obs_{kind}_{view}"
                assert len(arrays[name]) == steps + 1
                np.testing.assert_array_equal(arrays[name][:steps], default[name])
            np.testing.assert_array_equal(
                arrays[f"prompt_crops_{view}"], default[f"prompt_crops_{view}"]
            )
        assert arrays["actions"].shape == (steps, 14)
        np.testing.assert_array_equal(arrays["actions"], default["actions"])


# ------------------------------------------------------------------ crops against raw data


VM = RAW / "visual_manipulation" / "000000"


def test_known_object_bbox_and_crop_from_raw_episode(
    raw_rows: dict[Key, tuple[str, dict[str, Any]]],
) -> None:
    """Object 5 of visual_manipulation/000000, computed from rgb_*/0.jpg and obs.pkl."""
    arrays = load_arrays(raw_rows["visual_manipulation", 0][1])
    obs, _ = load_pickle(VM / "obs.pkl")
    traj, _ = load_pickle(VM / "trajectory.pkl")
    ids = list(traj["obj_id_to_info"])
    assert ids == [5, 6, 7] and arrays["object_ids"].tolist() == ids
    slot = ids.index(5)
    # hand-checked extents of id 5 in frame 0: front rows 32..77, cols 183..236
    front = obs["segm"]["front"][0]
    assert extents(front, 5) == (32, 77, 183, 236)
    assert arrays["obs_bbox_front"][0, slot].tolist() == [209, 54, 45, 53]
    assert arrays["obs_bbox_top"][0, slot].tolist() == [209, 35, 52, 53]
    for view in VIEWS:
        rgb = decode_jpeg(VM / f"rgb_{view}" / "0.jpg")
        segm = obs["segm"][view][0]
        for k, obj in enumerate(ids):
            box = extents(segm, obj)
            assert box is not None
            assert arrays[f"obs_mask_{view}"][0, k]
            assert arrays[f"obs_bbox_{view}"][0, k].tolist() == bbox(box)
            np.testing.assert_array_equal(arrays[f"obs_crops_{view}"][0, k], oracle_crop(rgb, box))
        crop = arrays[f"obs_crops_{view}"][0, slot]
        assert crop.any() and crop.std() > 5  # a textured object, not a blank


def test_prompt_object_crop_holds_the_object_not_the_background(
    raw_rows: dict[Key, tuple[str, dict[str, Any]]],
) -> None:
    row = raw_rows["visual_manipulation", 0][1]
    arrays = load_arrays(row)
    traj, _ = load_pickle(VM / "trajectory.pkl")
    order = PLACEHOLDER.findall(row["prompt"])
    assert order == ["dragged_obj_1", "base_obj"]
    for view in VIEWS:
        for i, name in enumerate(order):
            asset = traj["prompt_assets"][name]
            rgb, segm = asset["rgb"][view], asset["segm"][view]
            assert set(np.unique(segm).tolist()) == {0, 255}  # object 0 on background 255
            crop = arrays[f"prompt_crops_{view}"][i, 0]
            box = extents(segm, 0)
            assert box is not None and arrays[f"prompt_mask_{view}"][i, 0]
            assert arrays[f"prompt_bbox_{view}"][i, 0].tolist() == bbox(box)
            np.testing.assert_array_equal(crop, oracle_crop(rgb, box))
            white = rgb[:, segm == 255].mean()
            assert white > 240 and crop.mean() < white - 40
            background = oracle_crop(rgb, extents(segm, 255))  # the reference's id-255 crop
            band = background[:, 8:24]  # the 128x256 frame padded to 256x256
            assert band.min(axis=0).mean() > 200  # mostly white
            assert np.abs(crop.astype(int) - background.astype(int)).mean() > 40


def test_absent_object_has_false_mask_and_zero_crop(
    tokenized_generated: Tokenized, hf_cache: Path
) -> None:
    """Object 6 of vima-bench-generated/follow_order has 1 top-view pixel in frame 1."""
    assert tokenized_generated.run.code == 0, tokenized_generated.run.stderr
    rows = load_preprocessed(tokenized_generated.dataset, hf_cache / "generated")
    arrays = load_arrays(rows["follow_order", 0][1])
    obs, _ = load_pickle(GENERATED / "follow_order" / "000000" / "obs.pkl")
    assert int((obs["segm"]["top"][1] == 6).sum()) == 1
    assert int((obs["segm"]["front"][1] == 6).sum()) > 2
    slot = arrays["object_ids"].tolist().index(6)
    assert not arrays["obs_mask_top"][1, slot]
    assert not arrays["obs_crops_top"][1, slot].any()
    assert not arrays["obs_bbox_top"][1, slot].any()
    assert arrays["obs_mask_front"][1, slot] and arrays["obs_crops_front"][1, slot].any()
    assert arrays["obs_mask_top"][0, slot]  # visible in the first frame


# ------------------------------------------------------------------------------ actions


@pytest.mark.parametrize("variant", ["vima-raw", "vima-bench-generated"])
def test_actions_and_bins_match_parsed_poses(
    variant: str, request: pytest.FixtureRequest, hf_cache: Path
) -> None:
    if variant == "vima-raw":
        tokenized: Tokenized = request.getfixturevalue("tokenized_raw")
        converted: Path = request.getfixturevalue("converted_raw")
    else:
        tokenized = request.getfixturevalue("tokenized_generated")
        converted = request.getfixturevalue("converted_generated")
    parsed = parsed_rows(converted)
    rows = load_preprocessed(tokenized.dataset, hf_cache / variant)
    assert sorted(rows) == sorted(parsed)
    widths = {"position": 3, "rotation": 4}
    for key, (_, row) in rows.items():
        source = parsed[key]
        arrays = load_arrays(row)
        expected = expected_actions(source)
        assert arrays["actions"].dtype == np.float32
        np.testing.assert_array_equal(arrays["actions"], expected)
        is_2d = np.asarray(source["pose0_position"]).shape[-1] == 2
        assert is_2d == (variant == "vima-bench-generated")
        assert row["position_is_2d"] is is_2d
        start, poses, bins = 0, {}, {}
        for name in ACTION_KEYS:
            stop = start + widths[name.split("_")[1]]
            poses[name] = arrays["actions"][:, start:stop]
            bins[name] = arrays["action_bins"][:, start:stop]
            start = stop
        assert arrays["action_bins"].dtype == np.uint8
        binned = discretize(poses)
        restored = undiscretize(bins)
        for name in ACTION_KEYS:
            np.testing.assert_array_equal(bins[name], binned[name])
            error = np.abs(restored[name].astype(np.float64) - poses[name])
            assert (error <= bin_width(name) / 2 + 1e-6).all(), (key, name, error)


# ------------------------------------------------------------------- resumable, atomic


def test_rerun_skips_and_redoes_only_missing_or_corrupt_shards(
    tokenized_raw: Tokenized, copy_dataset: Callable[[Path], Path]
) -> None:
    dataset = copy_dataset(tokenized_raw.dataset)
    preprocessed = dataset / "original" / "preprocessed"
    first = files_state(preprocessed)
    run = tokenize(dataset, "--workers", "2")
    assert run.code == 0, run.stderr
    assert "0 episodes in 0 shards (9 already done)" in run.stderr
    assert files_state(preprocessed) == first  # untouched: same bytes, same mtimes
    targets = sorted(p for p in preprocessed.glob("*/*.parquet"))
    deleted, truncated = targets[0], targets[-1]
    deleted.unlink()
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    summary = tokenize_dataset(dataset)
    assert (summary.shards_written, summary.shards_skipped, summary.episodes) == (2, 7, 2)
    assert summary.bytes_out == deleted.stat().st_size + truncated.stat().st_size
    assert not summary.failures
    again = files_state(preprocessed)
    assert {name: data for name, (_, data) in again.items()} == {
        name: data for name, (_, data) in first.items()
    }  # byte for byte the first run's shards
    changed = {name for name in first if again[name][0] != first[name][0]}
    assert changed == {
        str(deleted.relative_to(preprocessed)),
        str(truncated.relative_to(preprocessed)),
    }
    assert not [p for p in dataset.rglob("*") if p.name.endswith(".tmp")]


def test_failed_shard_leaves_no_temporary_file(tmp_path: Path) -> None:
    source = tmp_path / "parsed" / "twist" / "train-00000-of-00001.parquet"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"PAR1 not a parquet file")
    target = tmp_path / "preprocessed" / "twist" / source.name
    with pytest.raises(pa.ArrowInvalid):
        tokenize_shard(TokenizeJob(source, target, None))
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def _corrupt_rows(path: Path, edits: dict[int, Callable[[dict[str, Any]], None]]) -> list[int]:
    """Rewrite a one-row parsed shard as copies of its row, indices 0, 1, ..., with `edits`."""
    (row,) = pq.read_table(path).to_pylist()
    rows = []
    for index in range(max(edits) + 2):
        copy = {**row, "index": index}
        if index in edits:
            edits[index](copy)
        rows.append(copy)
    pq.write_table(pa.Table.from_pylist(rows, schema=parsed_hf_schema()), path, **PARQUET_OPTIONS)
    return [i for i in range(len(rows)) if i not in edits]


def test_bad_episodes_are_listed_and_skipped(
    converted_raw: Path, copy_dataset: Callable[[Path], Path], hf_cache: Path
) -> None:
    dataset = copy_dataset(converted_raw)
    parsed = shards(dataset, "parsed")
    (twist,) = [path for (task, _), path in parsed.items() if task == "twist"]
    (rotate,) = [path for (task, _), path in parsed.items() if task == "rotate"]

    def short_segm(row: dict[str, Any]) -> None:
        row["segm_front"] = row["segm_front"][:1000]

    def garbage_jpeg(row: dict[str, Any]) -> None:
        row["frames_top"] = [b"not a jpeg", *row["frames_top"][1:]]

    good_twist = _corrupt_rows(twist, {1: short_segm})
    good_rotate = _corrupt_rows(rotate, {0: garbage_jpeg})
    run = tokenize(dataset)
    assert run.code == 1, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str(dataset)
    failures = [
        json.loads(line)
        for line in (dataset / "original" / "preprocessed" / "failures.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert len(failures) == 2
    by_episode = {f["path"].rsplit("#", 1)[1]: f["error"] for f in failures}
    assert set(by_episode) == {"twist/1", "rotate/0"}
    assert "reshape" in by_episode["twist/1"] and "twist/1" in by_episode["twist/1"]
    assert "cannot identify image" in by_episode["rotate/0"]
    assert "2 failed" in run.stderr
    preprocessed = shards(dataset, "preprocessed")
    assert shard_keys(preprocessed["twist", twist.name]) == [("twist", i) for i in good_twist]
    assert shard_keys(preprocessed["rotate", rotate.name]) == [("rotate", i) for i in good_rotate]
    assert len(preprocessed) == 9
    assert not [p for p in dataset.rglob("*") if p.name.endswith(".tmp")]
    loaded = load_preprocessed(dataset, hf_cache / "bad")
    assert ("twist", 1) not in loaded and ("twist", 2) in loaded
    assert len(loaded) == 9 + 3 - 2  # 9 samples + 3 extra copies - 2 bad episodes


# ------------------------------------------------------------------- options and errors


def test_tokenizer_path_gives_the_default_result(
    converted_raw: Path, tokenized_raw: Tokenized, copy_dataset: Callable[[Path], Path]
) -> None:
    dataset = copy_dataset(converted_raw)
    shipped = resources.files("vima_tokenize") / "data" / "tokenizer.json"
    run = tokenize(dataset, "--tokenizer", str(shipped))
    assert run.code == 0, run.stderr
    for name, path in shards(tokenized_raw.dataset, "preprocessed").items():
        assert shards(dataset, "preprocessed")[name].read_bytes() == path.read_bytes()


def test_unknown_tokenizer_name_exits_2_naming_it(
    converted_raw: Path,
    copy_dataset: Callable[[Path], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    dataset = copy_dataset(converted_raw)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    for offline in (False, True):
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
        run = tokenize(dataset, "--tokenizer", "nonexistent-hub-name-xyz")
        assert run.code == 2, run.stderr
        assert "nonexistent-hub-name-xyz" in run.stderr
    assert not (dataset / "original" / "preprocessed").exists()


def test_usage_errors_exit_2(converted_raw: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = tokenize(empty)
    assert run.code == 2 and "no parsed shards" in run.stderr
    assert tokenize(tmp_path / "missing").code == 2
    run = tokenize(converted_raw, "--variant", "reworded")
    assert run.code == 2 and "reworded" in run.stderr
    assert tokenize(converted_raw, "--workers", "0").code == 2
    assert not (converted_raw / "original" / "preprocessed").exists()


def test_rerun_with_other_settings_redoes_every_shard(
    tokenized_raw: Tokenized, tmp_path: Path
) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(tokenized_raw.dataset, dataset)
    count = len(shards(dataset, "preprocessed"))
    run = tokenize(dataset, "--keep-final-observation")
    assert run.code == 0, run.stderr
    assert f"in {count} shards (0 already done)" in run.stderr
    for path in shards(dataset, "preprocessed").values():
        table = pq.read_table(path, columns=["num_observations", "steps"])
        observations = table["num_observations"].to_pylist()
        assert observations == [s + 1 for s in table["steps"].to_pylist()]
    again = tokenize(dataset, "--keep-final-observation")
    assert f"in 0 shards ({count} already done)" in again.stderr


def test_shards_of_another_tokenize_version_are_redone(
    tokenized_raw: Tokenized, copy_dataset: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The format version is part of every shard's provenance: shards of version 2 (one binary
    column per array) are redone, never mixed with current ones."""
    dataset = copy_dataset(tokenized_raw.dataset)
    monkeypatch.setattr(pipeline, "TOKENIZE_VERSION", 2)
    assert tokenize_dataset(dataset).shards_written == 9
    monkeypatch.undo()
    summary = tokenize_dataset(dataset)
    assert (summary.shards_written, summary.shards_skipped) == (9, 0)
    for path in shards(dataset, "preprocessed").values():
        settings = json.loads(pq.read_schema(path).metadata[SETTINGS_KEY])
        assert settings["tokenize_version"] == pipeline.TOKENIZE_VERSION == 3


# ------------------------------------------------------------------------------- sizes

#: The reference's parsed dataset per episode (decoded pixels) and its tokenized records on
#: the same kind of episodes (docs/PERFORMANCE.md).
REFERENCE_DATASET_BYTES = 1.19e6
REFERENCE_PREPROCESSED_BYTES = 148e3


def test_sizes_of_one_episode_shards(tokenized_raw: Tokenized) -> None:
    """One real episode per shard, as `build` writes small tasks: the footers carry no
    statistics of the binary columns nor a second copy of the schema, and the tokenized arrays
    are one `arrays` blob with crops coded from their source patches. The dataset target (20x)
    is met; the tokenized target (4x) is met on the 13 real VIMA-Bench episodes (4.1x,
    docs/PERFORMANCE.md) and nearly on these 9 (3.97x), so this guards 3.9x."""
    for stage, reference, factor in (
        ("parsed", REFERENCE_DATASET_BYTES, 20),
        ("preprocessed", REFERENCE_PREPROCESSED_BYTES, 3.9),
    ):
        paths = list(shards(tokenized_raw.dataset, stage).values())
        assert len(paths) == 9
        per_episode = sum(p.stat().st_size for p in paths) / len(paths)
        assert per_episode * factor < reference, (stage, per_episode)
        for path in paths:
            assert pq.read_metadata(path).serialized_size < 10_000, path


@pytest.mark.parametrize("shape", [(0, 3, 32, 32), (2, 3, 32, 32), (1, 4, 3, 32, 32)])
def test_image_coding_is_exact(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    for images in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        np.full(shape, 255, np.uint8),
        np.zeros(shape, np.uint8),
    ):
        coded = image_encode(images)
        assert coded.dtype == np.uint8 and coded.shape == images.shape
        assert np.array_equal(image_decode(coded), images)


# ------------------------------------------------- environment errors, killed runs, reruns


def _disk_kb(root: Path) -> int:
    """KiB a tmpfs needs to hold the files below `root` (whole pages each)."""
    pages = sum(-(-p.stat().st_size // 4096) for p in root.rglob("*") if p.is_file())
    folders = sum(1 for p in root.rglob("*") if p.is_dir())
    return 4 * (pages + folders + 1)


def test_full_disk_stops_tokenize_at_once_and_a_rerun_resumes(
    tmp_path: Path, converted_raw: Path, tokenized_raw: Tokenized
) -> None:
    # room for the parsed dataset and about a third of its preprocessed shards
    with small_filesystem(tmp_path / "disk", _disk_kb(converted_raw) + 160) as disk:
        dataset = Path(shutil.copytree(converted_raw, disk / "dataset"))
        done = subprocess.run(
            [Path(sys.executable).parent / "vima-tokenize", dataset, "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 3, done.stderr
        (line,) = [line for line in done.stderr.splitlines() if "stopped" in line]
        assert line.startswith(f"vima-tokenize: stopped: no space left on device: {dataset}/")
        assert "then rerun: it resumes" in line and "Traceback" not in done.stderr
        preprocessed = dataset / "original" / "preprocessed"
        assert not (preprocessed / "failures.jsonl").exists()  # no episode was bad
        assert len(shards(dataset, "preprocessed")) < 9
        remount(disk, "size=8m")
        run = tokenize(dataset)
        assert run.code == 0, run.stderr
        ours = {key: path.read_bytes() for key, path in shards(dataset, "preprocessed").items()}
        clean = shards(tokenized_raw.dataset, "preprocessed")
        assert ours == {key: path.read_bytes() for key, path in clean.items()}
        assert not [p for p in dataset.rglob("*") if p.name.endswith(".tmp")]


def test_next_run_removes_the_temporary_files_of_a_killed_run(
    tokenized_raw: Tokenized, copy_dataset: Callable[[Path], Path]
) -> None:
    dataset = copy_dataset(tokenized_raw.dataset)
    (target,) = [p for (task, _), p in shards(dataset, "preprocessed").items() if task == "twist"]
    target.unlink()  # as a killed run leaves it: the shard still to do, its temporary file
    left = leftovers_of_a_killed_writer(target, target.parent / "staging")
    live = temporary_path(target.with_name("valid-00000-of-00001.parquet"))  # a running writer
    run = tokenize(dataset)
    assert run.code == 0, run.stderr
    assert not any(path.exists() for path in left) and live.exists()
    assert (
        target.read_bytes()
        == shards(tokenized_raw.dataset, "preprocessed")["twist", target.name].read_bytes()
    )


def test_failures_are_no_longer_listed_once_a_rerun_tokenizes_them(
    converted_raw: Path, copy_dataset: Callable[[Path], Path]
) -> None:
    dataset = copy_dataset(converted_raw)
    (twist,) = [path for (task, _), path in shards(dataset, "parsed").items() if task == "twist"]
    original = twist.read_bytes()

    def short_segm(row: dict[str, Any]) -> None:
        row["segm_front"] = row["segm_front"][:1000]

    _corrupt_rows(twist, {1: short_segm})
    failures_file = dataset / "original" / "preprocessed" / "failures.jsonl"
    for _ in range(2):  # a rerun with the same bad episode lists it once
        run = tokenize(dataset)
        assert run.code == 1, run.stderr
        (failure,) = [json.loads(line) for line in failures_file.read_text().splitlines()]
        assert failure["path"].endswith("#twist/1")
    twist.write_bytes(original)  # repaired
    run = tokenize(dataset)
    assert run.code == 0, run.stderr
    assert not failures_file.exists()
