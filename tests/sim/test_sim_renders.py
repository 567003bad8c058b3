"""Renders against VIMA-Bench's golden renders and sample-episode assets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pybullet as pb
import pytest
from vima_schema.enums import View
from vima_schema.reader import read_episode
from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.prompt_assets import AssetRenderer
from vima_sim.tasks.base import ObjectAsset, SceneAsset
from vima_sim.world import World, yaw_quaternion

SIM_DATA = Path(__file__).parent / "data"
REPO_SAMPLES = Path(__file__).parents[2] / "data" / "samples"
ROWS = json.loads((SIM_DATA / "renders.json").read_text())
GOLDEN = np.load(SIM_DATA / "renders.npz")


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    w.close()


def _compare_rows(world: World, indices: list[int]) -> None:
    worst_segm, worst_iou, worst_mad = 1.0, 1.0, 0.0
    world.reset()  # one world; each object is removed again after its row
    for i in indices:
        row = ROWS[i]
        body = None
        if row["what"] == "object":
            obj, texture = get_object(row["object"]), get_texture(row["texture"])
            pose = (tuple(row["pose"][0]), tuple(row["pose"][1]))
            loaded = world.add_object(
                obj, texture, tuple(row["size"]), pose, fixed=row["category"] == "fixed"
            )
            body = row["body_id"]
        for v, view in enumerate(("front", "top")):
            rgb, segm = world.render(view)
            if body is not None:
                segm = np.where(segm == loaded, body, segm).astype(np.uint8)
            want_rgb, want_segm = GOLDEN["rgb"][i, v], GOLDEN["segm"][i, v]
            if body is None:  # the empty workspace matches exactly
                assert np.array_equal(rgb, want_rgb) and np.array_equal(segm, want_segm)
                continue
            same = float((segm == want_segm).mean())
            mine, theirs = segm == body, want_segm == body
            iou = (mine & theirs).sum() / max((mine | theirs).sum(), 1)
            mad = float(np.abs(rgb.astype(int) - want_rgb.astype(int)).mean())
            assert same >= 0.99 and iou >= 0.95 and mad < 3, (i, row, same, iou, mad)
            worst_segm, worst_iou = min(worst_segm, same), min(worst_iou, iou)
            worst_mad = max(worst_mad, mad)
        if body is not None:
            pb.removeBody(loaded, physicsClientId=world.client)
    print(f"worst: segm equal {worst_segm:.4f}, IoU {worst_iou:.3f}, RGB MAD {worst_mad:.2f}")


def test_golden_renders_one_texture_per_shape(world: World) -> None:
    """The empty workspace and every fifth row (each shape once, textures vary)."""
    _compare_rows(world, list(range(0, len(ROWS), 5)))


@pytest.mark.slow
def test_every_golden_render_matches(world: World) -> None:
    """All 146 rows: 29 shapes x 5 textures and the empty workspace."""
    _compare_rows(world, list(range(len(ROWS))))


def test_wrong_texture_is_detected(world: World) -> None:
    """The comparison can fail: a blue block is not the golden red block."""
    index = next(i for i, r in enumerate(ROWS) if r.get("object") == "block")
    row = ROWS[index]
    assert row["texture"] == "red"
    world.reset()
    pose = (tuple(row["pose"][0]), tuple(row["pose"][1]))
    world.add_object(
        get_object("block"), get_texture("blue"), tuple(row["size"]), pose, fixed=False
    )
    rgb, _ = world.render("top")
    assert np.abs(rgb.astype(int) - GOLDEN["rgb"][index, 1].astype(int)).mean() > 0.5


def test_object_prompt_asset_matches_sample_episode(world: World) -> None:
    episode = read_episode(REPO_SAMPLES / "vima-raw" / "visual_manipulation" / "000000")
    stored = episode.prompt_assets["dragged_obj_1"]
    info = stored.obj_info[0]
    obj, texture = get_object(info.obj_name), get_texture(info.obj_color)
    assert obj.fixed_size
    urdf = world.urdf_for(obj, obj.size_low)
    renderer = AssetRenderer()
    try:
        mine = renderer.render(ObjectAsset(obj, texture, urdf))
    finally:
        renderer.close()
    assert mine.obj_info[0].obj_id == 0
    for view in (View.front, View.top):
        assert set(np.unique(mine.segm[view])) == {0, 255}
        assert float((mine.segm[view] == stored.segm[view]).mean()) >= 0.99
        assert np.abs(mine.rgb[view].astype(int) - stored.rgb[view].astype(int)).mean() < 3


def test_scene_prompt_asset_matches_generated_episode(world: World) -> None:
    episode = read_episode(REPO_SAMPLES / "vima-bench-generated" / "follow_order" / "000000")
    stored = episode.prompt_assets["frame_0"]
    objects = []
    for k, info in enumerate(stored.obj_info):
        obj, texture = get_object(info.obj_name), get_texture(info.obj_color)
        size = obj.size_low
        pose = ((0.5, -0.25 + 0.25 * k, size[2] / 2), yaw_quaternion(0.0))
        objects.append((obj, texture, world.urdf_for(obj, size), pose))
    renderer = AssetRenderer()
    try:
        mine = renderer.render(SceneAsset(objects))
    finally:
        renderer.close()
    assert [o.obj_id for o in mine.obj_info] == [2, 3, 4]
    for view in (View.front, View.top):
        assert float((mine.segm[view] == stored.segm[view]).mean()) >= 0.99
        assert np.abs(mine.rgb[view].astype(int) - stored.rgb[view].astype(int)).mean() < 3


def test_sample_frames_agree_where_no_object(world: World) -> None:
    """First frames of the sample episodes equal the empty workspace off the objects."""
    world.reset()
    empty = {view: world.render(view.value)[0] for view in (View.front, View.top)}
    from vima_schema.jpeg import decode_jpeg

    for folder in sorted((REPO_SAMPLES / "vima-raw").iterdir()):
        episode = read_episode(folder / "000000")
        for view in (View.front, View.top):
            frame = decode_jpeg(episode.frames[view][0]).astype(int)
            segm = episode.segm[view][0]
            free = np.isin(segm, (0, 1))
            # stay away from object borders, where JPEG blurs colours across the edge
            free[1:-1, 1:-1] &= free[:-2, 1:-1] & free[2:, 1:-1] & free[1:-1, :-2] & free[1:-1, 2:]
            diff = np.abs(frame - empty[view].astype(int))[:, free]
            assert diff.mean() < 4, (folder.name, view, diff.mean())


def test_quaternion_helper_matches_pybullet() -> None:
    assert np.allclose(yaw_quaternion(0.7), pb.getQuaternionFromEuler((0, 0, 0.7)))
