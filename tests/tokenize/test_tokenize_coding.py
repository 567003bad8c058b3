"""The `arrays` blob of preprocessed rows: bit-exact round trips and clear errors.

Round trips run on the shipped sample episodes (both sample folders), with every crop
resampling: the arrays `preprocess_row` hands to `encode_arrays` must come back from
`load_arrays` with the same dtype, shape and bytes.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import vima_tokenize.image_coding as image_coding
import vima_tokenize.preprocess as preprocess
import vima_tokenize.preprocessed as preprocessed
from vima_schema.discover import find_episodes
from vima_schema.parquet_shard import shard_writer
from vima_schema.reader import read_episode
from vima_schema.record import episode_to_record
from vima_tokenize.crops import area_crop
from vima_tokenize.image_coding import CROP, EMPTY, PATCH, decode_crops, encode_crops
from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.preprocessed import (
    ARRAYS,
    ARRAYS_TAG,
    ArraysError,
    decode_arrays,
    decoded_row_groups,
    hf_schema,
    load_arrays,
)
from vima_tokenize.text import load_tokenizer

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="sample data missing")


@pytest.fixture(scope="module")
def parsed_rows() -> list[dict[str, Any]]:
    """Every sample episode (vima-raw and vima-bench-generated) as a parsed row."""
    rows = [episode_to_record(read_episode(folder)) for folder in find_episodes([SAMPLES])]
    assert len(rows) == 11
    return rows


@pytest.fixture(scope="module")
def tokenized(parsed_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tokenizer = load_tokenizer()
    return [preprocess_row(row, tokenizer) for row in parsed_rows]


@pytest.mark.parametrize(
    ("resampling", "final"), [("area", False), ("area", True), ("cogelot", False), ("cv2", False)]
)
def test_every_array_of_the_samples_round_trips_bit_exact(
    parsed_rows: list[dict[str, Any]],
    resampling: str,
    final: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if resampling == "cv2":
        pytest.importorskip("cv2")
    encoded: list[dict[str, np.ndarray]] = []
    kinds: list[np.ndarray] = []

    def keep_arrays(arrays: dict[str, np.ndarray], sources: Any) -> bytes:
        encoded.append({name: value.copy() for name, value in arrays.items()})
        return preprocessed.encode_arrays(arrays, sources)

    def keep_kinds(*args: Any) -> tuple[np.ndarray, bytes]:
        found = encode_crops(*args)
        kinds.append(found[0])
        return found

    monkeypatch.setattr(preprocess, "encode_arrays", keep_arrays)
    monkeypatch.setattr(preprocessed, "encode_crops", keep_kinds)
    tokenizer = load_tokenizer()
    for row in parsed_rows:
        out = preprocess_row(
            row, tokenizer, keep_final_observation=final, crop_resampling=resampling
        )
        decoded = load_arrays(out)
        expected = encoded[-1]
        assert set(expected) == set(ARRAYS)
        for name, (dtype, _) in ARRAYS.items():
            assert decoded[name].dtype == np.dtype(dtype) == expected[name].dtype, name
            assert decoded[name].shape == expected[name].shape, name
            assert decoded[name].tobytes() == expected[name].tobytes(), name
    counts = np.bincount(np.concatenate([k.ravel() for k in kinds]), minlength=3)
    assert counts[EMPTY] > 0 and counts[CROP] > 0  # absent objects; crops larger than 32x32
    if resampling == "cv2":
        assert counts[PATCH] < counts[CROP]  # cv2's float rounding rarely matches `area_crop`
    else:
        assert counts[PATCH] > counts[CROP]  # most objects are smaller than their crop


def test_crop_kinds_by_hand() -> None:
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (3, 40, 60), dtype=np.uint8)
    boxes = np.array([[[20, 10, 9, 13], [30, 20, 39, 39], [5, 5, 3, 3], [0, 0, 0, 0]]], np.int16)
    crops = np.zeros((1, 4, 3, 32, 32), np.uint8)
    # slot 0: the area crop of the 10x14 patch at rows 6..15, cols 14..27 (xc 20, yc 10)
    crops[0, 0] = area_crop(source[:, 6:16, 14:28])
    crops[0, 1] = rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)  # 40x40 box: kept whole
    crops[0, 2] = area_crop(source[:, 4:8, 4:8]) ^ 1  # not the patch's crop: kept whole
    kinds, coded = encode_crops(crops, boxes, [source])
    assert kinds.tolist() == [[PATCH, CROP, CROP, EMPTY]]
    assert len(coded) == 2 * 3 * 32 * 32 + 3 * 10 * 14
    decoded, used = decode_crops(
        kinds, boxes, np.frombuffer(coded + b"rest", np.uint8), crops.shape
    )
    assert used == len(coded) and np.array_equal(decoded, crops)
    with pytest.raises(ValueError, match="ends at byte"):
        decode_crops(kinds, boxes, np.frombuffer(coded[:-1], np.uint8), crops.shape)
    with pytest.raises(ValueError, match="unknown crop kind"):
        decode_crops(kinds + 3, boxes, np.frombuffer(coded, np.uint8), crops.shape)


def _blob(payload: bytes, tag: bytes = ARRAYS_TAG, length: int | None = None) -> bytes:
    header = struct.pack(
        "<4sII", tag, zlib.crc32(payload), len(payload) if length is None else length
    )
    return header + pa.Codec("zstd", compression_level=1).compress(payload, asbytes=True)


def _shapes(row: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {
        name: (*preprocessed.leading_shape(row, name), *trailing)
        for name, (_, trailing) in ARRAYS.items()
    }


def test_unknown_or_corrupt_blobs_are_refused(tokenized: list[dict[str, Any]]) -> None:
    row = tokenized[0]
    blob, shapes = row["arrays"], _shapes(row)
    assert decode_arrays(blob, shapes)  # the untouched blob decodes
    payload = pa.Codec("zstd").decompress(blob[12:], struct.unpack_from("<I", blob, 8)[0])
    with pytest.raises(ArraysError, match=r"unknown arrays encoding b'VTA0'.*rerun vima-tokenize"):
        decode_arrays(b"VTA0" + blob[4:], shapes)
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(ArraysError, match="CRC-32 mismatch"):
        decode_arrays(blob[:12] + pa.Codec("zstd").compress(bytes(flipped), asbytes=True), shapes)
    for broken in (blob[:-10], blob[:6], _blob(bytes(payload), length=len(payload) + 5)):
        with pytest.raises(ArraysError, match=r"truncated|corrupt"):
            decode_arrays(broken, shapes)
    with pytest.raises(ArraysError, match="ends at byte"):
        decode_arrays(_blob(bytes(payload)[:-3]), shapes)
    with pytest.raises(ArraysError, match="3 bytes beyond"):
        decode_arrays(_blob(bytes(payload) + b"abc"), shapes)
    with pytest.raises(ArraysError, match=r"^episode \w+/\d+: .*CRC-32"):
        load_arrays({**row, "arrays": blob[:12] + pa.Codec("zstd").compress(flipped, asbytes=True)})


def test_shard_errors_name_the_file_and_row(
    tokenized: list[dict[str, Any]], tmp_path: Path
) -> None:
    good, bad = tokenized[0], {**tokenized[1], "arrays": b"VTA0" + tokenized[1]["arrays"][4:]}
    path = tmp_path / "train-00000-of-00001.parquet"
    with shard_writer(path, hf_schema()) as writer:
        writer.write_table(pa.Table.from_pylist([good, bad], schema=hf_schema()))
    groups = decoded_row_groups(path, ["prompt"])
    where = re.escape(f"{path}, row 1: episode ")
    with pytest.raises(ArraysError, match=rf"^{where}\w+/\d+: unknown arrays"):
        next(groups)
    # a shard of the layout before the `arrays` blob (one binary column per array)
    old = tmp_path / "old.parquet"
    pq.write_table(pa.table({"task": [0], "index": [0], "obs_crops_front": [b""]}), old)
    with pytest.raises(ArraysError, match=rf"^{re.escape(str(old))}: no column.*'arrays'.*rerun"):
        next(decoded_row_groups(old, ["task"]))


def test_shard_rows_decode_with_their_columns(
    tokenized: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "train-00000-of-00001.parquet"
    with shard_writer(path, hf_schema()) as writer:
        writer.write_table(pa.Table.from_pylist(tokenized, schema=hf_schema()))
    rows = [row for group in decoded_row_groups(path, ["prompt", "index"]) for row in group]
    assert [row["prompt"] for row in rows] == [row["prompt"] for row in tokenized]
    for row, source in zip(rows, tokenized, strict=True):
        expected = load_arrays(source)
        for name in ARRAYS:
            assert row[name].tobytes() == expected[name].tobytes(), name
        assert row["token_types"] == source["token_types"]  # list columns as read


def test_patch_rule_matches_object_crops_on_every_box() -> None:
    """`area_crop` of the patch under a box is the crop `object_crops` made (every shape of
    patch up to the crop's size, odd and even sides, centred padding either way)."""
    from vima_tokenize.crops import object_crops

    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (3, 128, 256), dtype=np.uint8)
    for height in range(2, 34, 3):
        for width in range(1, 34, 4):
            segm = np.zeros((128, 256), np.uint8)
            segm[50 : 50 + height, 100 : 100 + width] = 9
            found = object_crops(rgb, segm, [9])
            kinds, _ = encode_crops(found.crops[None], found.bboxes[None], [rgb])
            expected = PATCH if height * width <= 32 * 32 else CROP
            assert kinds.tolist() == [[expected]], (height, width)
    assert image_coding.patch_shape(np.array([0, 0, 31, 31]), 32) == (32, 32)
    assert image_coding.patch_shape(np.array([0, 0, 32, 31]), 32) is None
