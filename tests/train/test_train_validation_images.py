"""Validation predictions drawn on the top view (W&B `val/predictions`)."""

from __future__ import annotations

import numpy as np
from vima_schema.site import top_pixel
from vima_train.data import Batch
from vima_train.validation_images import PREDICTED, SCALE, TARGET, draw_predictions


def _at(image: np.ndarray, x: float, y: float) -> tuple[int, ...]:
    column, row = top_pixel(x, y)
    return tuple(int(v) for v in image[round(SCALE * row), round(SCALE * column)])


def test_oracle_and_policy_picks_are_drawn_where_they_are(batch: Batch) -> None:
    """The oracle's pick (filled green) lies at its top-view pixel; a policy predicting
    another pick shows red there; object boxes are drawn."""
    predicted = batch.actions.clone()
    predicted[..., 0] = 0.3  # pick x elsewhere: a miss
    predicted[..., 1] = -0.4
    pictures = draw_predictions(batch, predicted, count=3)
    assert len(pictures) == 3
    for row, (image, caption) in enumerate(pictures):
        assert image.shape == (256, 512, 3) and image.dtype == np.uint8
        x, y = batch.actions[row, 0, :2].tolist()
        assert _at(image, x, y) in {TARGET, PREDICTED}  # the place ring may overlap
        assert _at(image, 0.3, -0.4) == PREDICTED
        assert "oracle green, policy red" in caption
        assert (image == 235).all(-1).any()  # white box outlines
    assert not np.array_equal(pictures[0][0], pictures[1][0])


def test_the_last_drawn_marker_wins_when_prediction_is_right(batch: Batch) -> None:
    pictures = draw_predictions(batch, batch.actions.clone(), count=1)
    x, y = batch.actions[0, 0, :2].tolist()
    assert _at(pictures[0][0], x, y) == PREDICTED
