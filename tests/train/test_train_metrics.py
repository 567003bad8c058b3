"""Metrics on a hand-made batch equal a hand computation, padding excluded."""

from __future__ import annotations

import math

import pytest
import torch
from vima_tokenize.actions import AXIS_BINS
from vima_train.metrics import (
    PositionTotals,
    action_metrics,
    loss_of,
    position_totals,
    smoothed_loss_of,
    step_totals,
    summarize,
    summarize_positions,
)
from vima_train.model.actions import axis_names

NAMES = ("a", "b")


def _one_hot_logits(bins: list[list[list[int]]], classes: int = 3) -> torch.Tensor:
    """Logits with `log 2` on the chosen class and 0 elsewhere: p(chosen) = 2/(2+classes-1)."""
    logits = torch.zeros(len(bins), len(bins[0]), len(bins[0][0]), classes)
    for b, steps in enumerate(bins):
        for t, axes in enumerate(steps):
            for a, k in enumerate(axes):
                logits[b, t, a, k] = math.log(2.0)
    return logits


def test_metrics_on_hand_made_batch() -> None:
    # Episode 0: two valid steps; episode 1: one valid step then padding.
    predicted = [[[0, 1], [2, 2]], [[1, 0], [0, 0]]]
    targets = torch.tensor([[[0, 1], [2, 0]], [[0, 0], [-100, -100]]])
    logits = _one_hot_logits(predicted)
    metrics = action_metrics(logits, targets, NAMES)
    # 3 valid steps x 2 axes. Right: (0,0,a) (0,0,b) (0,1,a) (1,0,b) -> 4 of 6.
    assert metrics["acc"] == 4 / 6
    # axis a right at (0,0), (0,1); wrong at (1,0).  axis b right at (0,0), (1,0); wrong (0,1).
    assert metrics["a/acc"] == 2 / 3 and metrics["b/acc"] == 2 / 3
    # every axis right: only step (0,0) of 3.
    assert metrics["all_axes_acc"] == 1 / 3
    right, wrong = -math.log(2 / 4), -math.log(1 / 4)
    assert math.isclose(metrics["a/loss"], (2 * right + wrong) / 3, rel_tol=1e-6)
    assert math.isclose(metrics["loss"], (4 * right + 2 * wrong) / 6, rel_tol=1e-6)
    assert math.isclose(float(loss_of(logits, targets)), metrics["loss"], rel_tol=1e-6)


def test_padding_never_counts_as_correct() -> None:
    """The reference's pooled accuracy counted padded positions as right; here a batch that is
    mostly padding with wrong valid predictions has accuracy 0."""
    targets = torch.full((2, 3, 2), -100)
    targets[0, 0] = torch.tensor([1, 1])
    logits = _one_hot_logits([[[0, 0]] * 3] * 2)
    metrics = action_metrics(logits, targets, NAMES)
    assert metrics["acc"] == 0.0 and metrics["all_axes_acc"] == 0.0


def test_totals_add_up_across_batches() -> None:
    """Summing per-episode totals of two batches gives the metrics of the joined batch (what
    validation does over batches and ranks; the reference kept the first batch's value)."""
    torch.manual_seed(0)
    logits = torch.randn(5, 3, 2, 3)
    targets = torch.randint(0, 3, (5, 3, 2))
    targets[1, 2:] = -100
    targets[4, 1:] = -100
    whole = action_metrics(logits, targets, NAMES)
    first, second = step_totals(logits[:2], targets[:2]), step_totals(logits[2:], targets[2:])
    joined = type(first)(
        *(torch.cat([getattr(first, f), getattr(second, f)]) for f in first.__dataclass_fields__)
    )
    assert summarize(joined, NAMES) == whole
    assert math.isnan(action_metrics(logits, torch.full_like(targets, -100), NAMES)["acc"])


def _logits_for(bins: torch.Tensor, classes: int = 100) -> torch.Tensor:
    """Logits [B, T, 14, classes] whose argmax is `bins` [B, T, 14]."""
    return torch.nn.functional.one_hot(bins, classes).float()


def test_position_errors_in_centimetres_after_inverse_bins() -> None:
    """Pick 2 bins off in x (2 x 0.5 m / 49 = 2.04 cm: outside 2 cm), place 1 bin off in y
    (1.01 cm: inside); a padded step counts nowhere."""
    targets = torch.full((1, 2, 14), 25)
    targets[0, 1] = -100
    predicted = targets.clamp(min=0).clone()
    predicted[0, 0, 0] += 2  # pick x
    predicted[0, 0, 8] += 1  # place y (100 bins over 1 m)
    predicted[0, 1] = 0  # padding: far off, ignored
    metrics = summarize_positions(position_totals(_logits_for(predicted), targets, 14))
    assert math.isclose(metrics["pick/error_cm"], 2 * 50 / 49, rel_tol=1e-5)
    assert math.isclose(metrics["place/error_cm"], 100 / 99, rel_tol=1e-5)
    assert metrics["pick/within_2cm"] == 0.0 and metrics["place/within_2cm"] == 1.0


def test_position_totals_add_up_and_twelve_axes_work() -> None:
    torch.manual_seed(0)
    targets = torch.randint(0, 50, (4, 3, 14))
    targets[2, 1:] = -100
    logits = torch.randn(4, 3, 14, 100)
    boxes = torch.randint(0, 128, (4, 3, 5, 4))
    present = torch.rand(4, 3, 5) > 0.3
    whole = summarize_positions(position_totals(logits, targets, 14, (boxes, present)))
    assert "pick/object_acc" in whole
    parts = [
        position_totals(
            logits[i : i + 2], targets[i : i + 2], 14, (boxes[i : i + 2], present[i : i + 2])
        )
        for i in (0, 2)
    ]
    joined = PositionTotals(*(torch.cat([getattr(p, f) for p in parts]) for f in _POSITION_FIELDS))
    assert summarize_positions(joined) == pytest.approx(whole)
    twelve = [i for i in range(14) if i not in (2, 9)]
    twelve_metrics = summarize_positions(
        position_totals(logits[..., twelve, :], targets[..., twelve], 12, (boxes, present))
    )
    assert twelve_metrics == pytest.approx(whole)  # z plays no part in the distance
    assert math.isnan(
        summarize_positions(position_totals(logits, torch.full_like(targets, -100), 14))[
            "pick/error_cm"
        ]
    )


_POSITION_FIELDS = ("error_cm", "within", "counted", "same_object", "with_objects")


def test_object_choice_counts_the_nearest_top_view_object() -> None:
    """Three objects whose box centres lie at (0.375, -0.25), (0.5, 0) and (0.625, 0.25) m on
    the table (VIMA-Bench's top camera): a pick aimed at the third when the target is on the
    second is a wrong choice however near the bins; the place is right; a step without objects
    in view is not counted; without boxes there is no `object_acc`."""
    targets = torch.zeros((1, 2, 14), dtype=torch.long)
    targets[0, :, 0], targets[0, :, 1] = 25, 50  # pick target: the second object
    targets[0, :, 7], targets[0, :, 8] = 12, 25  # place target: the first object
    predicted = targets.clone()
    predicted[0, :, 0], predicted[0, :, 1] = 37, 74  # pick: the third object
    predicted[0, :, 7], predicted[0, :, 8] = 13, 26  # place: one bin off, same object
    boxes = torch.tensor([[64, 32, 10, 10], [128, 64, 10, 10], [192, 96, 10, 10]])
    boxes = boxes.expand(1, 2, 3, 4)
    present = torch.tensor([[[True, True, True], [False, False, False]]])
    totals = position_totals(_logits_for(predicted), targets, 14, (boxes, present))
    metrics = summarize_positions(totals)
    assert metrics["pick/object_acc"] == 0.0 and metrics["place/object_acc"] == 1.0
    assert totals.with_objects.tolist() == [[1.0, 1.0]]
    assert "pick/object_acc" not in summarize_positions(
        position_totals(_logits_for(predicted), targets, 14)
    )


def test_smoothed_loss_is_exact_loss_at_zero_and_prefers_near_misses() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 14, 100)
    targets = torch.randint(0, 50, (2, 2, 14))
    assert torch.equal(smoothed_loss_of(logits, targets, 0.0), loss_of(logits, targets))
    near, far = (torch.full((1, 1, 14), 20) for _ in range(2))
    near_logits = _logits_for(near + 1) * 10
    far_logits = _logits_for(far + 10) * 10
    # exact-bin cross-entropy cannot tell a near miss from a far one; soft targets can
    assert loss_of(near_logits, near) == pytest.approx(float(loss_of(far_logits, far)))
    assert smoothed_loss_of(near_logits, near, 2.0) < smoothed_loss_of(far_logits, far, 2.0)


def _head_logits(predicted: torch.Tensor) -> torch.Tensor:
    """Logits [..., 14, 100] shaped as `ActionHeads` emits them: 0 on an axis's bins, log 3 on
    the `predicted` bin [..., 14], -1e9 on the classes beyond the axis's bins. An axis of n bins
    then gives p = 3 / (n + 2) to the predicted bin and 1 / (n + 2) to each other bin."""
    logits = torch.zeros(*predicted.shape, 100)
    logits.scatter_(-1, predicted.unsqueeze(-1), math.log(3.0))
    beyond = torch.arange(100) >= torch.tensor(AXIS_BINS).unsqueeze(-1)  # [14, 100]
    return logits.masked_fill(beyond, -1e9)


def test_fourteen_axes_with_padded_classes_and_a_padded_step() -> None:
    """Episode 0 has two valid steps, episode 1 one valid step and a padded one whose
    predictions count nowhere (bin 0, the clamped target, on the rotations; 40 on the
    positions). Misses: step (0, 1) pick x by 3 bins and place y by 4, step (1, 0) pick y by 1
    and pose0 rotation x by 10."""
    targets = torch.full((2, 2, 14), 20)
    targets[1, 1] = -100
    predicted = targets.clamp(min=0)
    predicted[1, 1, [0, 1, 7, 8]] = 40
    predicted[0, 1, 0] += 3  # pose0_position_x: 50 bins over 0.5 m
    predicted[0, 1, 8] += 4  # pose1_position_y: 100 bins over 1 m
    predicted[1, 0, 1] += 1  # pose0_position_y
    predicted[1, 0, 3] += 10  # pose0_rotation_x
    logits = _head_logits(predicted)
    names = axis_names(14)
    metrics = action_metrics(logits, targets, names)
    missed = {0, 1, 3, 8}
    assert metrics["acc"] == 38 / 42  # 3 valid steps x 14 axes, 4 misses
    assert metrics["all_axes_acc"] == 1 / 3  # only step (0, 0)
    axis_losses = []
    for a, name in enumerate(names):
        n = AXIS_BINS[a]
        right, wrong = -math.log(3 / (n + 2)), -math.log(1 / (n + 2))
        hits = 2 if a in missed else 3
        assert metrics[f"{name}/acc"] == hits / 3, name
        axis_losses.append((hits * right + (3 - hits) * wrong) / 3)
        assert math.isclose(metrics[f"{name}/loss"], axis_losses[-1], rel_tol=1e-6), name
    assert math.isclose(metrics["loss"], sum(axis_losses) / 14, rel_tol=1e-6)
    positions = summarize_positions(position_totals(logits, targets, 14))
    # a bin is 0.5 m / 49 in x, 1 m / 99 in y; the errors are 0, 3.06 and 1.01 cm (pick) and
    # 0, 4.04 and 0 cm (place)
    assert math.isclose(positions["pick/error_cm"], (3 * 50 / 49 + 100 / 99) / 3, rel_tol=1e-6)
    assert math.isclose(positions["place/error_cm"], 4 * 100 / 99 / 3, rel_tol=1e-6)
    assert positions["pick/within_2cm"] == 2 / 3 and positions["place/within_2cm"] == 2 / 3


def test_smoothed_loss_spreads_only_over_an_axis_bins() -> None:
    """Soft targets at each axis's last bin (49 or 99), predictions 2 bins below: the Gaussian
    weights cover the axis's own bins only; the -1e9 classes beyond get none (weighted, their
    clamped log-probability of -1e4 would dominate the loss). A padded step counts nowhere."""
    last = torch.tensor(AXIS_BINS) - 1
    targets = torch.stack([last, torch.full((14,), -100)]).unsqueeze(0)  # [1, 2, 14]
    predicted = torch.stack([last - 2, torch.zeros(14, dtype=torch.long)]).unsqueeze(0)
    sigma = 1.5
    expected = 0.0
    for n in AXIS_BINS:
        weights = [math.exp(-((c - (n - 1)) ** 2) / (2 * sigma**2)) for c in range(n)]
        log_p = [math.log((3.0 if c == n - 3 else 1.0) / (n + 2)) for c in range(n)]
        expected -= sum(w * lp for w, lp in zip(weights, log_p, strict=True)) / sum(weights)
    loss = smoothed_loss_of(_head_logits(predicted), targets, sigma)
    assert math.isclose(float(loss), expected / 14, rel_tol=1e-6)


def test_object_choice_ignores_absent_object_slots() -> None:
    """Top-view objects at (0.5, 0) m (A) and (0.375, -0.25) m (B), a padded slot at (0.625,
    0.25) m. A pick aimed at the padded slot's place while the target is on A lies nearest A
    among the objects in view: the right object, however far (27 cm); the padded slot, right
    under it, does not count."""
    targets = torch.zeros((1, 1, 14), dtype=torch.long)
    targets[0, 0, :2] = torch.tensor([25, 50])  # (0.505, 0.005) m: on A
    targets[0, 0, 7:9] = torch.tensor([12, 25])  # (0.372, -0.247) m: on B
    predicted = targets.clone()
    predicted[0, 0, :2] = torch.tensor([37, 74])  # (0.628, 0.247) m: on the padded slot
    boxes = torch.tensor([[128, 64, 10, 10], [64, 32, 10, 10], [192, 96, 10, 10]])
    present = torch.tensor([[[True, True, False]]])
    totals = position_totals(
        _logits_for(predicted), targets, 14, (boxes.expand(1, 1, 3, 4), present)
    )
    metrics = summarize_positions(totals)
    assert metrics["pick/object_acc"] == 1.0 and metrics["place/object_acc"] == 1.0
    distance = math.dist((12 * 0.5 / 49, 24 / 99), (0, 0)) * 100
    assert math.isclose(metrics["pick/error_cm"], distance, rel_tol=1e-6)
