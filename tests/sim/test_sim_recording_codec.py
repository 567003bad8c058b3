"""The recorder keeps frames as VIMA-Bench stores them (JPEG) or, for policies evaluated the way
VIMA's own code does, the simulator's pixels exactly."""

from __future__ import annotations

import numpy as np
from vima_schema.enums import View
from vima_schema.jpeg import decode_jpeg
from vima_sim import EpisodeRecorder, VimaEnv


def test_lossless_frames_are_the_simulators_pixels() -> None:
    env = VimaEnv("rotate", "placement_generalization", "easy")
    try:
        obs, info = env.reset(seed=3)
        lossy, lossless = EpisodeRecorder(), EpisodeRecorder(lossless=True)
        for recorder in (lossy, lossless):
            recorder.start(obs, info)
        for view in (View.front, View.top):
            pixels = obs["rgb"][view.value]
            exact = decode_jpeg(lossless.episode(0).frames[view][0])
            jpeg = decode_jpeg(lossy.episode(0).frames[view][0])
            assert np.array_equal(exact, pixels)
            assert not np.array_equal(jpeg, pixels)  # JPEG quality 75 loses detail
        lossless.start(obs, info)  # a new episode keeps the recorder's codec
        assert np.array_equal(
            decode_jpeg(lossless.episode(0).frames[View.top][0]), obs["rgb"]["top"]
        )
    finally:
        env.close()
