"""Tests for vima_tokenize.crops: object crops, bboxes and area resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from vima_schema.safe_pickle import load_pickle
from vima_tokenize.crops import ObjectCrops, object_crops, resize_frame

RAW = Path(__file__).resolve().parents[2] / "data" / "samples" / "vima-raw"
VM = RAW / "visual_manipulation" / "000000"

H, W = 128, 256


def _blank(background_id: int = 1, colour: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.full((3, H, W), colour, dtype=np.uint8)
    segm = np.full((H, W), background_id, dtype=np.uint8)
    return rgb, segm


def _oracle_resize(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Independent exact area resize: supersample by the output size, block-sum, round half up."""
    channels, in_h, in_w = image.shape
    # Separable: repeat each row out_h times and sum blocks of in_h sub-rows, then columns.
    rows = np.repeat(image.astype(np.int64), out_h, axis=1)
    rows = rows.reshape(channels, out_h, in_h, in_w).sum(axis=2)
    cols = np.repeat(rows, out_w, axis=2)
    sums = cols.reshape(channels, out_h, out_w, in_w).sum(axis=3)
    d = in_h * in_w
    return ((2 * sums + d) // (2 * d)).astype(np.uint8)


def _oracle_crop(rgb: np.ndarray, y0: int, y1: int, x0: int, x1: int, size: int) -> np.ndarray:
    patch = rgb[:, y0 : y1 + 1, x0 : x1 + 1]
    ph, pw = patch.shape[1:]
    side = max(ph, pw)
    square = np.zeros((3, side, side), dtype=np.uint8)
    by, bx = (side - ph) // 2, (side - pw) // 2
    square[:, by : by + ph, bx : bx + pw] = patch
    return _oracle_resize(square, size, size)


# --------------------------------------------------------------------------- hand-built arrays


def test_rectangle_bbox_padding_and_upscale() -> None:
    rgb, segm = _blank()
    segm[10:13, 20:25] = 7  # 3 rows x 5 cols, rows 10..12, cols 20..24
    rgb[:, 10:13, 20:25] = np.array([200, 100, 50], dtype=np.uint8)[:, None, None]
    out = object_crops(rgb, segm, [7])
    assert isinstance(out, ObjectCrops)
    assert out.crops.dtype == np.uint8 and out.crops.shape == (1, 3, 32, 32)
    assert out.bboxes.dtype == np.int64 and out.bboxes.tolist() == [[22, 11, 2, 4]]
    assert out.mask.dtype == np.bool_ and out.mask.tolist() == [True]
    # 3x5 patch padded to 5x5 with one zero row above and one below, then 5 -> 32.
    # Output row i covers source rows [i*5/32, (i+1)*5/32): rows 0-5 lie in the zero row,
    # row 6 straddles 0.9375..1.09375 (60 % colour), rows 7-24 are colour, 25 is 60 %, 26-31 zero.
    expected_rows = np.zeros(32)
    expected_rows[6] = expected_rows[25] = 0.6
    expected_rows[7:25] = 1.0
    for channel, colour in enumerate((200, 100, 50)):
        expected = np.floor(expected_rows * colour + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(out.crops[0, channel], np.repeat(expected[:, None], 32, 1))


def test_tall_object_pads_columns_and_rounds_half_up() -> None:
    rgb, segm = _blank()
    segm[40:44, 60:62] = 3  # 4 rows x 2 cols -> one zero column each side
    rgb[:, 40:44, 60:62] = 101
    out = object_crops(rgb, segm, [3], size=2)
    assert out.bboxes.tolist() == [[60, 41, 3, 1]]
    # Each output pixel averages a 2x2 block holding two zeros and two 101s: 50.5 -> 51.
    np.testing.assert_array_equal(out.crops[0], np.full((3, 2, 2), 51, dtype=np.uint8))


def test_exact_32x32_object_crops_to_itself() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(3, H, W), dtype=np.uint8)
    segm = np.ones((H, W), dtype=np.uint8)
    segm[50:82, 100:132] = 9
    out = object_crops(rgb, segm, [9])
    assert out.bboxes.tolist() == [[115, 65, 31, 31]]
    np.testing.assert_array_equal(out.crops[0], rgb[:, 50:82, 100:132])


def test_order_preserved_missing_and_single_pixel_absent() -> None:
    rgb, segm = _blank()
    segm[10:13, 20:25] = 7
    segm[50:82, 100:132] = 9
    segm[5, 5] = 3  # a single pixel: absent
    segm[100, 200] = segm[101, 201] = 4  # two pixels: present
    out = object_crops(rgb, segm, [9, 42, 7, 3, 4])
    assert out.mask.tolist() == [True, False, True, False, True]
    assert out.bboxes.tolist() == [
        [115, 65, 31, 31],
        [0, 0, 0, 0],
        [22, 11, 2, 4],
        [0, 0, 0, 0],
        [200, 100, 1, 1],
    ]
    assert not out.crops[1].any() and not out.crops[3].any()
    assert out.crops[0].any() and out.crops[2].any()


def test_empty_id_list_and_out_of_range_id() -> None:
    rgb, segm = _blank()
    empty = object_crops(rgb, segm, [])
    assert empty.crops.shape == (0, 3, 32, 32)
    assert empty.bboxes.shape == (0, 4)
    assert empty.mask.shape == (0,)
    out = object_crops(rgb, segm, [1000, 1])
    assert out.mask.tolist() == [False, True]
    assert out.bboxes[1].tolist() == [127, 63, 127, 255]


def test_rejects_bad_inputs() -> None:
    rgb, segm = _blank()
    with pytest.raises(ValueError):
        object_crops(rgb.astype(np.float32), segm, [1])
    with pytest.raises(ValueError):
        object_crops(rgb, segm[:, :100], [1])


@pytest.mark.parametrize("seed", range(6))
def test_crops_match_independent_oracle(seed: int) -> None:
    """Random rectangles (up- and downscaled, wide and tall) against a supersampling oracle."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(3, H, W), dtype=np.uint8)
    segm = np.zeros((H, W), dtype=np.uint8)
    boxes = {}
    for obj in range(2, 8):
        ph, pw = int(rng.integers(1, 70)), int(rng.integers(1, 90))
        y0, x0 = int(rng.integers(0, H - ph + 1)), int(rng.integers(0, W - pw + 1))
        segm[y0 : y0 + ph, x0 : x0 + pw] = obj
    for obj in range(2, 8):  # later rectangles may overwrite earlier ones: recompute extents
        ys, xs = np.nonzero(segm == obj)
        if ys.size >= 2:
            boxes[obj] = (ys.min(), ys.max(), xs.min(), xs.max())
    size = int(rng.choice([8, 16, 32, 33]))
    ids = list(range(2, 8))
    out = object_crops(rgb, segm, ids, size=size)
    for k, obj in enumerate(ids):
        assert out.mask[k] == (obj in boxes)
        if obj not in boxes:
            continue
        y0, y1, x0, x1 = boxes[obj]
        assert out.bboxes[k].tolist() == [(x0 + x1) // 2, (y0 + y1) // 2, y1 - y0, x1 - x0]
        np.testing.assert_array_equal(out.crops[k], _oracle_crop(rgb, y0, y1, x0, x1, size))


def test_large_frame_uses_exact_float64_path() -> None:
    """Squares above 256 px exceed float32's exact range; the result must still be exact."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(3, 300, 300), dtype=np.uint8)
    segm = np.zeros((300, 300), dtype=np.uint8)
    segm[3:293, 5:280] = 1
    out = object_crops(rgb, segm, [1], size=32)
    np.testing.assert_array_equal(out.crops[0], _oracle_crop(rgb, 3, 292, 5, 279, 32))


# --------------------------------------------------------------------------- resize_frame


def test_resize_frame_is_2x2_mean_round_half_up() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(3, H, W), dtype=np.uint8)
    rgb[:, 0:2, 0:2] = np.array([[0, 1], [0, 1]], dtype=np.uint8)  # mean 0.5 -> 1
    rgb[:, 0:2, 2:4] = np.array([[1, 2], [1, 1]], dtype=np.uint8)  # mean 1.25 -> 1
    rgb[:, 0:2, 4:6] = np.array([[1, 2], [2, 2]], dtype=np.uint8)  # mean 1.75 -> 2
    out = resize_frame(rgb)
    assert out.shape == (3, 64, 128) and out.dtype == np.uint8
    sums = rgb.astype(np.int64).reshape(3, 64, 2, 128, 2).sum(axis=(2, 4))
    np.testing.assert_array_equal(out, (sums + 2) // 4)
    assert out[:, 0, :3].tolist() == [[1, 1, 2]] * 3


@pytest.mark.parametrize(
    ("in_h", "in_w", "out_h", "out_w"), [(128, 256, 48, 100), (20, 30, 64, 64)]
)
def test_resize_frame_non_integer_matches_oracle(
    in_h: int, in_w: int, out_h: int, out_w: int
) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, size=(3, in_h, in_w), dtype=np.uint8)
    np.testing.assert_array_equal(
        resize_frame(rgb, out_h, out_w), _oracle_resize(rgb, out_h, out_w)
    )


# --------------------------------------------------------------------------- real sample data


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).transpose(2, 0, 1)


def _near_white(crop: np.ndarray) -> np.ndarray:
    return crop.min(axis=0) >= 230


@pytest.mark.skipif(not VM.exists(), reason="sample data missing")
@pytest.mark.parametrize("view", ["front", "top"])
def test_prompt_object_placeholder_id0_is_object_id255_is_background(view: str) -> None:
    traj, _ = load_pickle(VM / "trajectory.pkl")
    assets = traj["prompt_assets"]
    for name in ("base_obj", "dragged_obj_1"):
        asset = assets[name]
        assert asset["placeholder_type"] == "object"
        assert asset["segm"]["obj_info"]["obj_id"] == 0
        rgb, segm = asset["rgb"][view], asset["segm"][view]
        assert rgb.shape == (3, 128, 256) and segm.shape == (128, 256)
        out = object_crops(rgb, segm, [asset["segm"]["obj_info"]["obj_id"], 255])
        assert out.mask.tolist() == [True, True]
        obj, background = out.crops
        # The object crop is the object: a small box, mostly non-white.
        assert out.bboxes[0, 2] < 64 and out.bboxes[0, 3] < 64
        assert obj.mean() < 200
        assert _near_white(obj).mean() < 0.45
        # The reference's id 255 is the white background: its box is the whole frame, padded
        # to a 256x256 square (rows 8..23 of 32 hold the frame), and that band is white.
        assert out.bboxes[1].tolist() == [127, 63, 127, 255]
        assert _near_white(background[:, 8:24]).mean() > 0.9
        assert not background[:, :8].any() and not background[:, 24:].any()


@pytest.mark.skipif(not VM.exists(), reason="sample data missing")
@pytest.mark.parametrize("view", ["front", "top"])
def test_observation_crops_on_real_frames(view: str) -> None:
    traj, _ = load_pickle(VM / "trajectory.pkl")
    obs, _ = load_pickle(VM / "obs.pkl")
    segms = obs["segm"][view]
    ids = list(traj["obj_id_to_info"])
    assert segms.ndim == 3 and segms.shape[1:] == (128, 256)
    for t in range(segms.shape[0]):
        rgb = _decode(VM / f"rgb_{view}" / f"{t}.jpg")
        assert rgb.shape == (3, 128, 256)
        out = object_crops(rgb, segms[t], ids)
        assert out.crops.shape == (len(ids), 3, 32, 32)
        for k, obj in enumerate(ids):
            ys, xs = np.nonzero(segms[t] == obj)
            assert out.mask[k] == (ys.size >= 2)
            if ys.size >= 2:
                y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
                assert out.bboxes[k].tolist() == [(x0 + x1) // 2, (y0 + y1) // 2, y1 - y0, x1 - x0]
                np.testing.assert_array_equal(out.crops[k], _oracle_crop(rgb, y0, y1, x0, x1, 32))
        assert out.mask.any()
        frame = resize_frame(rgb)
        assert frame.shape == (3, 64, 128) and frame.dtype == np.uint8


@pytest.mark.skipif(not RAW.exists(), reason="sample data missing")
def test_all_sample_episodes_bboxes_match_per_id_scan() -> None:
    """Vectorised extents agree with a per-id scan on every sample frame, asset and view."""
    for folder in sorted(RAW.glob("*/000000")):
        traj, _ = load_pickle(folder / "trajectory.pkl")
        obs, _ = load_pickle(folder / "obs.pkl")
        ids = list(traj["obj_id_to_info"])
        maps = [(frame, ids) for view in ("front", "top") for frame in obs["segm"][view]]
        for asset in traj["prompt_assets"].values():
            info = asset["segm"]["obj_info"]
            asset_ids = [o["obj_id"] for o in info] if isinstance(info, list) else [info["obj_id"]]
            maps += [(asset["segm"][v], [*asset_ids, 255, 200]) for v in ("front", "top")]
        rgb = np.zeros((3, 128, 256), dtype=np.uint8)
        for segm, wanted in maps:
            out = object_crops(rgb, segm, wanted)
            for k, obj in enumerate(wanted):
                ys, xs = np.nonzero(segm == obj)
                assert out.mask[k] == (ys.size >= 2), (folder, obj)
                if ys.size >= 2:
                    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
                    expected = [(x0 + x1) // 2, (y0 + y1) // 2, y1 - y0, x1 - x0]
                    assert out.bboxes[k].tolist() == expected
                else:
                    assert not out.bboxes[k].any()


def test_cv2_resampling_is_opencvs_inter_area_and_within_one_level_of_area() -> None:
    """`resampling="cv2"` is cv2.resize(INTER_AREA) of the zero-padded square (what VIMA's
    evaluation code runs); it differs from the exact area mean by at most one level."""
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (3, 128, 256), dtype=np.uint8)
    segm = np.full((128, 256), 255, dtype=np.uint8)
    segm[10:47, 20:95] = 3  # wide: padded rows, downscaled by a non-integer factor
    segm[60:66, 100:103] = 4  # small: upscaled
    segm[70:134, 150:214] = 5  # 58 x 64 after clipping: tall
    ids = [3, 4, 5, 6]
    area = object_crops(rgb, segm, ids)
    opencv = object_crops(rgb, segm, ids, resampling="cv2")
    assert np.array_equal(area.mask, opencv.mask) and np.array_equal(area.bboxes, opencv.bboxes)
    patch = rgb[:, 10:47, 20:95]
    square = np.zeros((75, 75, 3), np.uint8)
    square[19:56] = patch.transpose(1, 2, 0)
    expected = cv2.resize(square, (32, 32), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
    assert np.array_equal(opencv.crops[0], expected)
    gap = np.abs(area.crops.astype(int) - opencv.crops.astype(int))
    assert gap.max() == 1 and not opencv.crops[3].any()
    with pytest.raises(ValueError, match="crop resampling"):
        object_crops(rgb, segm, ids, resampling="bicubic")
