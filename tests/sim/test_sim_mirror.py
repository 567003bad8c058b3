"""Observations rendered in the persistent client equal renders of a textured physics client."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from vima_sim import VimaEnv
from vima_sim.prompt_assets import AssetRenderer
from vima_sim.world import VIEWS, Layer, World


def _textured_env(task: str) -> VimaEnv:
    env = VimaEnv(task)
    env.world.close()
    env.world = World()  # textured: its own renders show the observation
    return env


def test_observations_equal_textured_renders() -> None:
    plain, textured = VimaEnv("rotate"), _textured_env("rotate")
    try:
        for seed in (0, 1):
            obs, _ = plain.reset(seed=seed)
            want, _ = textured.reset(seed=seed)
            action = plain.oracle_action()
            assert action is not None
            for _ in range(2):
                for view in VIEWS:
                    rgb, segm = textured.world.render(view)
                    assert np.array_equal(obs["rgb"][view], rgb)
                    assert np.array_equal(obs["segm"][view], segm)
                    assert np.array_equal(want["rgb"][view], rgb)
                obs, *_ = plain.step(action)
                want, *_ = textured.step(action)
    finally:
        plain.close()
        textured.close()


def test_physics_client_shows_only_the_objects_untextured() -> None:
    """The physics client has no image textures and no plane or workspace: only the objects'
    depth and segmentation are right there (what the top-down map reads)."""
    env = VimaEnv("visual_manipulation")
    try:
        for seed in range(6):
            obs, _ = env.reset(seed=seed)
            if any(item.texture is not None and item.texture.asset for item in env.world.visible):
                break
        else:
            raise AssertionError("no seed with an image texture")
        rgb, segm = env.world.render("top")
        objects = obs["segm"]["top"] >= 2
        assert objects.any()
        assert np.array_equal(segm[objects], obs["segm"]["top"][objects])
        assert not np.isin(segm[~objects], [0, 1]).any()  # no plane, no workspace
        assert not np.array_equal(rgb[:, objects], obs["rgb"]["top"][:, objects])
    finally:
        env.close()


def _observations_match(plain: VimaEnv, textured: VimaEnv, seed: int) -> None:
    """Every observation of an oracle episode of `plain`, the last one included, equals the
    whole render of the textured physics client of `textured` run alongside."""
    obs, _ = plain.reset(seed=seed)
    textured.reset(seed=seed)
    done, step = False, 0
    while True:
        for view in VIEWS:
            rgb, segm = textured.world.render(view)
            assert np.array_equal(obs["rgb"][view], rgb), (plain.task_name, seed, step, view)
            assert np.array_equal(obs["segm"][view], segm), (plain.task_name, seed, step, view)
        action = None if done else plain.oracle_action()
        if action is None:
            return
        obs, _, terminated, truncated, _ = plain.step(action)
        textured.step(action)
        done, step = terminated or truncated, step + 1


def _count_renders(renderer: AssetRenderer, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts, kept up to date, of the renderer's whole renders (a tie not seen before) and of
    its composited renders that settled ties from memory."""
    renders = {"whole": 0, "remembered": 0}
    composite, learn = renderer._composite, renderer._learn_ties

    def counted_composite(view: str, objects: Layer, identities: dict[int, Any]) -> Layer | None:
        layer = composite(view, objects, identities)
        ties, _ = renderer._tie_keys(view, objects, identities)
        renders["remembered"] += layer is not None and bool(ties)
        return layer

    def counted_learn(*args: Any) -> None:
        renders["whole"] += 1
        learn(*args)

    monkeypatch.setattr(renderer, "_composite", counted_composite)
    monkeypatch.setattr(renderer, "_learn_ties", counted_learn)
    return renders


@pytest.mark.parametrize(
    ("task", "seeds"), [("visual_manipulation", (4, 0)), ("rearrange", (0,))], ids=str
)
def test_composited_observations_equal_whole_renders(
    task: str, seeds: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects put over the once-rendered backdrop by depth, ties settled by a whole render
    and then remembered, give every pixel of a whole render (zones and resting objects tie;
    visual_manipulation seed 4 has an object pixel at exactly the backdrop's depth, drawn in
    front because objects are drawn after the backdrop). The same seeds rendered again are
    composited from remembered ties alone, and still equal whole renders."""
    plain, textured = VimaEnv(task), _textured_env(task)
    renders = _count_renders(plain.renderer, monkeypatch)
    try:
        for seed in seeds:
            _observations_match(plain, textured, seed)
        assert renders["whole"] > 0  # the tie path ran
        renders.update(whole=0, remembered=0)
        for seed in seeds:
            _observations_match(plain, textured, seed)
        assert renders["whole"] == 0
        assert renders["remembered"] > 0
    finally:
        plain.close()
        textured.close()
