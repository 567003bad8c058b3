"""The fit's validation metrics recomputed without `vima_train.metrics`: a checkpoint's own
logits on the valid episodes, scored in plain Python against the dataset's stored target bins.

Positions go through the bins' centres (`low + bin / (bins - 1) * (high - low)`, vima_tokenize's
inverse), objects through VIMA-Bench's top camera: the 256 x 128 top view spans the table's
y from -0.5 m (left edge) to 0.5 m (right edge) and x from 0.25 m (top row) to 0.75 m (bottom).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from vima_schema.enums import Task
from vima_tokenize.actions import POSITION_BINS, POSITION_HIGH, POSITION_LOW
from vima_train.checkpoint import load_policy, read_meta
from vima_train.data import collate, row_arrays
from vima_train.model.actions import axis_indices

from .conftest import read_rows

#: (pose, index of its x among the 14 stored axes; y follows).
POSES = (("pick", 0), ("place", 7))


def bin_centre(bin_: int, axis: int) -> float:
    """Metres of position bin `bin_` of table axis `axis` (0 x, 1 y)."""
    low, high, bins = POSITION_LOW[axis], POSITION_HIGH[axis], POSITION_BINS[axis]
    return low + bin_ / (bins - 1) * (high - low)


def table_xy(box: np.ndarray) -> tuple[float, float]:
    """Table x, y (m) of a top-view box's centre (pixels: x across, y down)."""
    return 0.25 + 0.5 * float(box[1]) / 128.0, float(box[0]) / 256.0 - 0.5


def score_step(
    logits: torch.Tensor, bins: np.ndarray, boxes: np.ndarray, present: np.ndarray
) -> dict[str, Any]:
    """One step: per-axis cross-entropy and hit of logits [A, C] against the target `bins` [A],
    the pick and place errors (cm) and whether the predicted position lies nearest the target's
    top-view object (None without objects in view)."""
    predicted = [int(row.argmax()) for row in logits]
    rows = logits.double()
    out: dict[str, Any] = {
        "loss": [float(torch.logsumexp(r, 0) - r[t]) for r, t in zip(rows, bins, strict=True)],
        "right": [p == t for p, t in zip(predicted, bins, strict=True)],
    }
    objects = [table_xy(box) for box, here in zip(boxes, present, strict=True) if here]

    def nearest(point: tuple[float, float]) -> int:
        return min(range(len(objects)), key=lambda i: math.dist(objects[i], point))

    for pose, x in POSES:
        guess = (bin_centre(predicted[x], 0), bin_centre(predicted[x + 1], 1))
        aim = (bin_centre(int(bins[x]), 0), bin_centre(int(bins[x + 1]), 1))
        out[pose] = math.dist(guess, aim) * 100.0
        out[f"{pose}_same"] = nearest(guess) == nearest(aim) if objects else None
    return out


def summary(steps: list[dict[str, Any]], names: list[str], overall: bool) -> dict[str, float]:
    """Means over `steps` of what the fit logs for all episodes (`overall`) or one task."""
    count, axes = len(steps), len(names)
    out = {
        "loss": sum(sum(s["loss"]) for s in steps) / (count * axes),
        "acc": sum(sum(s["right"]) for s in steps) / (count * axes),
    }
    if overall:
        out["all_axes_acc"] = sum(all(s["right"]) for s in steps) / count
        for a, name in enumerate(names):
            out[f"{name}/loss"] = sum(s["loss"][a] for s in steps) / count
            out[f"{name}/acc"] = sum(s["right"][a] for s in steps) / count
    for pose, _ in POSES:
        out[f"{pose}/error_cm"] = sum(s[pose] for s in steps) / count
        out[f"{pose}/within_2cm"] = sum(s[pose] <= 2.0 for s in steps) / count
        seen = [s[f"{pose}_same"] for s in steps if s[f"{pose}_same"] is not None]
        if seen:
            out[f"{pose}/object_acc"] = sum(seen) / len(seen)
    return out


def recompute_validation(checkpoint: Path, dataset: Path) -> dict[str, float]:
    """`val/...` metrics of `checkpoint` on the original valid split, recomputed. The episodes
    go through the policy as the validation's one batch did: the output at a step's last
    object slot predicts its action, so an episode's logits depend on the batch's padding."""
    policy = load_policy(checkpoint)
    axes = axis_indices(policy.config.action_axes)
    rows = [row_arrays(row) for row in read_rows(dataset, split="valid")]
    with torch.no_grad():
        logits = policy(collate(rows))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b, row in enumerate(rows):
        for t in range(row["steps"]):
            bins = np.asarray(row["action_bins"][t, list(axes)], np.int64)
            step = score_step(logits[b, t], bins, row["obs_bbox_top"][t], row["obs_mask_top"][t])
            groups["val"].append(step)
            groups[f"val/{Task(row['task']).name}"].append(step)
    names = list(read_meta(checkpoint)["axis_names"])
    return {
        f"{group}/{key}": value
        for group, steps in groups.items()
        for key, value in summary(steps, names, group == "val").items()
    }


def assert_validation_recomputed(checkpoint: Path, dataset: Path) -> None:
    """The checkpoint's logged `val/...` metrics are the recomputed ones: the same keys, ratios
    of counts exactly (as logged: float32), mean losses and distances to 1e-6."""
    logged = {k: v for k, v in read_meta(checkpoint)["metrics"].items() if k.startswith("val/")}
    expected = recompute_validation(checkpoint, dataset)
    assert sorted(logged) == sorted(expected)
    for key, value in expected.items():
        if key.endswith(("acc", "within_2cm")):
            assert logged[key] == float(np.float32(value)), (key, logged[key], value)
        else:
            assert math.isclose(logged[key], value, rel_tol=1e-6), (key, logged[key], value)
