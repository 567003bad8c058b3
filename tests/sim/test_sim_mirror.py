"""Observations rendered in the persistent client equal renders of a textured physics client."""

from __future__ import annotations

import numpy as np
from vima_sim import VimaEnv
from vima_sim.world import VIEWS, World


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


def test_composited_observations_equal_whole_renders() -> None:
    """Objects put over the once-rendered backdrop by depth, ties settled by a whole render
    and then remembered, give every pixel of a whole render (zones and resting objects tie;
    visual_manipulation seed 4 has an object pixel at exactly the backdrop's depth, drawn in
    front because objects are drawn after the backdrop)."""
    for task, seeds in (("visual_manipulation", (4, 0)), ("rearrange", (0,))):
        plain, textured = VimaEnv(task), _textured_env(task)
        try:
            ties = 0
            for seed in seeds:
                obs, info = plain.reset(seed=seed)
                textured.reset(seed=seed)
                for _ in range(info["max_steps"]):
                    for view in VIEWS:
                        rgb, segm = textured.world.render(view)
                        assert np.array_equal(obs["rgb"][view], rgb), (task, seed, view)
                        assert np.array_equal(obs["segm"][view], segm), (task, seed, view)
                    ties += len(plain.renderer._ties)
                    action = plain.oracle_action()
                    if action is None:
                        break
                    obs, _, terminated, truncated, _ = plain.step(action)
                    textured.step(action)
                    if terminated or truncated:
                        break
            assert ties > 0  # the tie path ran
        finally:
            plain.close()
            textured.close()
