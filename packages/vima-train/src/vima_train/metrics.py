"""Offline action metrics with padding excluded, as sums that add up across batches and ranks.

`step_totals` turns logits and targets into per-episode sums; `summarize` turns summed totals
into the reported numbers. Definitions (V = valid steps, A = axes):

* `<axis>/loss`: mean cross-entropy of the axis over valid steps;
* `loss`: mean over the V x A (step, axis) pairs (= mean over axes of the per-axis losses);
* `<axis>/acc`: share of valid steps whose argmax bin is the target (micro accuracy);
* `acc`: the same pooled over all V x A pairs;
* `all_axes_acc`: share of valid steps (every axis valid) with every axis right.

Padded steps (target IGNORE_INDEX) count nowhere. The reference counted padding as correct in
its pooled accuracy and froze its validation per-axis accuracy at the first batch.

Position metrics (`position_totals`, `summarize_positions`), which predict closed-loop success
better than exact bins: for pick (`pose0`) and place (`pose1`), the horizontal distance in cm
between the predicted and the target position after the inverse bins (`<pose>/error_cm`, mean
over valid steps) and the share of steps within `WITHIN_CM` (`<pose>/within_2cm`). Given the
steps' top-view boxes, also `<pose>/object_acc`: the share of steps (with an object in view)
whose predicted position lies nearest the same object as the target, the box centres mapped
to the table through VIMA-Bench's top camera. The oracle picks a random point of the object, so
`within_2cm` stays low even for a perfect policy, while `object_acc` is the choice of object
that decides a pick-and-place episode (docs/EXPERIMENTS.md, T1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

import torch
import torch.nn.functional as F

from vima_train.data.batch import IGNORE_INDEX
from vima_train.model.actions import axis_indices, bins_to_actions
from vima_train.model.pointer import CAMERA_INIT, table_positions

#: Radius of the `within_2cm` share, in centimetres.
WITHIN_CM = 2.0
#: (name, index of x in the 14 stored axes) of the two poses whose positions are scored.
POSES = (("pick", 0), ("place", 7))


@dataclass
class Totals:
    """Per-episode sums: `loss`, `correct`, `counted` (valid steps) [B, A]; `steps` (steps with
    every axis valid) and `all_correct` [B]."""

    loss: torch.Tensor
    correct: torch.Tensor
    counted: torch.Tensor
    steps: torch.Tensor
    all_correct: torch.Tensor


def step_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy [B, T, A] of logits [B, T, A, C] against targets [B, T, A] (0 at padding)."""
    return F.cross_entropy(
        logits.float().movedim(-1, 1), targets, ignore_index=IGNORE_INDEX, reduction="none"
    )


def loss_of(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Training loss: mean cross-entropy over valid (step, axis) pairs."""
    return F.cross_entropy(
        logits.float().flatten(0, 2), targets.flatten(), ignore_index=IGNORE_INDEX
    )


def smoothed_loss_of(logits: torch.Tensor, targets: torch.Tensor, sigma: float) -> torch.Tensor:
    """Training loss against Gaussian soft targets: class c of an axis gets weight
    exp(-(c - target)^2 / 2 sigma^2) (sigma in bins, classes beyond the axis's bins excluded),
    normalised; mean over valid (step, axis) pairs. Neighbouring bins share the gradient, so
    an axis of many bins learns from few episodes. `sigma` 0 is `loss_of`."""
    if sigma <= 0:
        return loss_of(logits, targets)
    logits = logits.float()
    valid = targets != IGNORE_INDEX
    classes = torch.arange(logits.shape[-1], device=logits.device, dtype=logits.dtype)
    distance = classes - targets.clamp(min=0).unsqueeze(-1).to(logits.dtype)
    weights = torch.exp(-0.5 * (distance / sigma) ** 2) * (logits > -1e8)
    weights = weights / weights.sum(-1, keepdim=True)
    losses = -(weights * logits.log_softmax(-1).clamp(min=-1e4)).sum(-1)
    return losses[valid].mean()


def step_totals(logits: torch.Tensor, targets: torch.Tensor) -> Totals:
    """Per-episode sums of loss, correct predictions, valid steps and all-axes-correct steps."""
    valid = targets != IGNORE_INDEX  # [B, T, A]
    step_valid = valid.all(-1)
    losses = step_losses(logits, targets).detach()
    right = (logits.argmax(-1) == targets) & valid
    return Totals(
        loss=losses.masked_fill(~valid, 0).sum(1),
        correct=right.sum(1).to(losses.dtype),
        counted=valid.sum(1).to(losses.dtype),
        steps=step_valid.sum(1).to(losses.dtype),
        all_correct=(right.all(-1) & step_valid).sum(1).to(losses.dtype),
    )


def summarize(totals: Totals, axis_names: tuple[str, ...]) -> dict[str, float]:
    """Metrics from `Totals` summed over any number of episodes (leading dims are summed).

    A quantity with nothing to count is NaN.
    """

    def ratio(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(a.sum()) / float(b.sum()) if float(b.sum()) > 0 else float("nan")

    loss, correct, counted = (
        t.reshape(-1, len(axis_names)) for t in (totals.loss, totals.correct, totals.counted)
    )
    out = {
        "loss": ratio(loss, counted),
        "acc": ratio(correct, counted),
        "all_axes_acc": ratio(totals.all_correct, totals.steps),
    }
    for i, name in enumerate(axis_names):
        out[f"{name}/loss"] = ratio(loss[:, i], counted[:, i])
        out[f"{name}/acc"] = ratio(correct[:, i], counted[:, i])
    return out


def action_metrics(
    logits: torch.Tensor, targets: torch.Tensor, axis_names: tuple[str, ...]
) -> dict[str, float]:
    """All metrics of one batch: logits [B, T, A, C], targets [B, T, A] (IGNORE_INDEX = pad)."""
    return summarize(step_totals(logits, targets), axis_names)


@dataclass
class PositionTotals:
    """Per-episode sums [B, 2] (pick, place): `error_cm` over valid steps, steps `within`
    `WITHIN_CM`, `counted` valid steps; steps nearest the target's object (`same_object`) out
    of those with an object in view (`with_objects`; zeros without boxes)."""

    error_cm: torch.Tensor
    within: torch.Tensor
    counted: torch.Tensor
    same_object: torch.Tensor
    with_objects: torch.Tensor


def position_totals(
    logits: torch.Tensor,
    targets: torch.Tensor,
    action_axes: int,
    objects: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> PositionTotals:
    """Pick and place position errors of argmax bins against target bins, both through the
    inverse bins (x and y; z is ignored as the simulator ignores it). `objects`: the steps'
    top-view boxes [B, T, N, 4] and object mask [B, T, N], for the object choice."""
    valid = (targets != IGNORE_INDEX).all(-1)  # [B, T]
    predicted = bins_to_actions(logits.argmax(-1), action_axes)
    target = bins_to_actions(targets.clamp(min=0), action_axes)
    errors, within, same, seen = [], [], [], []
    if objects is not None:
        boxes, present = objects
        camera = torch.tensor(CAMERA_INIT, device=boxes.device)
        table = table_positions(boxes, camera).to(predicted.dtype)  # [B, T, N, 2]
        in_view = valid & present.any(-1)
    stored = axis_indices(action_axes)
    for _, x in POSES:
        if x not in stored or x + 1 not in stored:
            raise ValueError(f"action axes {action_axes} lack position axes {x}, {x + 1}")
        distance = (predicted[..., x : x + 2] - target[..., x : x + 2]).norm(dim=-1) * 100.0
        errors.append(distance.masked_fill(~valid, 0.0).sum(1))
        within.append(((distance <= WITHIN_CM) & valid).sum(1).to(distance.dtype))
        if objects is None:
            same.append(torch.zeros_like(errors[-1]))
            seen.append(torch.zeros_like(errors[-1]))
            continue
        hit = _nearest(table, present, predicted[..., x : x + 2]) == _nearest(
            table, present, target[..., x : x + 2]
        )
        same.append((hit & in_view).sum(1).to(distance.dtype))
        seen.append(in_view.sum(1).to(distance.dtype))
    counted = valid.sum(1).to(predicted.dtype)
    return PositionTotals(
        error_cm=torch.stack(errors, 1).double(),
        within=torch.stack(within, 1).double(),
        counted=torch.stack([counted, counted], 1).double(),
        same_object=torch.stack(same, 1).double(),
        with_objects=torch.stack(seen, 1).double(),
    )


#: Either kind of per-episode sums.
SumsT = TypeVar("SumsT", Totals, PositionTotals)


def group_sums(sums: SumsT, groups: torch.Tensor, count: int) -> SumsT:
    """Per-episode `sums` added up per group: every field [B, ...] -> [count, ...] (float64);
    `groups` [B] is each episode's group (a task id). B may be 0 (all zeros)."""
    out = []
    for field in fields(sums):
        value = getattr(sums, field.name).double()
        zeros = value.new_zeros(count, *value.shape[1:])
        out.append(zeros.index_add(0, groups.to(value.device), value))
    return type(sums)(*out)


def add_sums(a: SumsT, b: SumsT) -> SumsT:
    """Field-wise sum of two sums of the same shapes."""
    return type(a)(*(getattr(a, f.name) + getattr(b, f.name) for f in fields(a)))


def group_of(sums: SumsT, group: int) -> SumsT:
    """The sums of one group of `group_sums`' output."""
    return type(sums)(*(getattr(sums, f.name)[group] for f in fields(sums)))


def _nearest(table: torch.Tensor, present: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Index [B, T] of the present object [B, T, N] whose table position [B, T, N, 2] is nearest
    `points` [B, T, 2]."""
    gap = (table - points.unsqueeze(-2)).norm(dim=-1)
    return gap.masked_fill(~present, torch.inf).argmin(-1)


def summarize_positions(totals: PositionTotals) -> dict[str, float]:
    """`pick/error_cm`, `pick/within_2cm`, `place/...` from totals summed over any episodes,
    and `<pose>/object_acc` where some step had objects in view."""
    out: dict[str, float] = {}
    error, within, counted, same, seen = (
        getattr(totals, f.name).reshape(-1, len(POSES)) for f in fields(totals)
    )
    for i, (name, _) in enumerate(POSES):
        steps = float(counted[:, i].sum())
        out[f"{name}/error_cm"] = float(error[:, i].sum()) / steps if steps else float("nan")
        out[f"{name}/within_2cm"] = float(within[:, i].sum()) / steps if steps else float("nan")
        if float(seen[:, i].sum()):
            out[f"{name}/object_acc"] = float(same[:, i].sum()) / float(seen[:, i].sum())
    return out
