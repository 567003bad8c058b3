"""Validation predictions drawn on the top view, for W&B (`val/predictions`).

Object-centric batches carry no frames, so each picture is the top view's layout: the observed
objects' boxes (white), the oracle's pick and place (green: filled pick, ring place) and the
policy's (red), at the first step of an episode, on VIMA-Bench's 256 x 128 top-view grid.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from vima_schema.enums import Task
from vima_schema.site import top_pixel

from vima_train.data.batch import Batch

#: Pick and place x, y among the 14 stored axes.
POSITION_AXES = (0, 1, 7, 8)
HEIGHT, WIDTH, SCALE = 128, 256, 2
TARGET, PREDICTED, BOX = (60, 200, 90), (230, 60, 60), (235, 235, 235)


def _mark(draw: ImageDraw.ImageDraw, x: float, y: float, colour: tuple, filled: bool) -> None:
    column, row = top_pixel(x, y)
    radius = 5
    box = [
        SCALE * column - radius,
        SCALE * row - radius,
        SCALE * column + radius,
        SCALE * row + radius,
    ]
    if filled:
        draw.ellipse(box, fill=colour)
    else:
        draw.ellipse(box, outline=colour, width=2)


def draw_predictions(
    batch: Batch, predicted: torch.Tensor, count: int = 4
) -> list[tuple[np.ndarray, str]]:
    """Up to `count` pictures (RGB [H, W, 3] uint8, twice the top view's size) with captions:
    the first step of the first episodes of `batch`, `predicted` = continuous actions
    [B, T, 14] the policy chose (e.g. `policy.bins_to_actions(logits.argmax(-1))`)."""
    top = batch.observations.top_view(1)
    pictures = []
    for row in range(min(count, batch.size)):
        image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), (30, 30, 34))
        draw = ImageDraw.Draw(image)
        if top is not None:
            boxes, mask = top
            for xc, yc, h, w in boxes[row, 0][mask[row, 0]].tolist():
                corners = [
                    SCALE * (xc - w / 2),
                    SCALE * (yc - h / 2),
                    SCALE * (xc + w / 2),
                    SCALE * (yc + h / 2),
                ]
                draw.rectangle(corners, outline=BOX, width=1)
        for actions, colour in ((batch.actions, TARGET), (predicted, PREDICTED)):
            x0, y0, x1, y1 = actions[row, 0, list(POSITION_AXES)].tolist()
            _mark(draw, x0, y0, colour, filled=True)
            _mark(draw, x1, y1, colour, filled=False)
        task = int(batch.task[row])
        name = Task(task).name if task >= 0 else "unknown task"
        pictures.append(
            (np.asarray(image), f"{name} #{int(batch.index[row])}: oracle green, policy red")
        )
    return pictures
