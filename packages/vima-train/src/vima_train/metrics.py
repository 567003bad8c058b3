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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vima_train.data.batch import IGNORE_INDEX


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
