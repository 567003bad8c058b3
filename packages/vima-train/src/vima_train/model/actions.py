"""Action axes, the continuous action encoder and the per-axis action heads."""

from __future__ import annotations

import math

import torch
from torch import nn
from vima_tokenize.actions import ACTION_KEYS, AXIS_BINS, AXIS_HIGH, AXIS_LOW, AXIS_NAMES, Z_FILL

from vima_train.model.layers import mlp

#: Indices of the two z axes in the 14-axis order.
Z_AXES = (2, 9)


def axis_indices(count: int) -> tuple[int, ...]:
    """Indices (into the 14 stored axes) of the axes a policy predicts: 14, or 12 without z."""
    if count == 14:
        return tuple(range(14))
    if count == 12:
        return tuple(i for i in range(14) if i not in Z_AXES)
    raise ValueError(f"action_axes must be 12 or 14, got {count}")


def axis_names(count: int) -> tuple[str, ...]:
    """Names of the predicted axes, e.g. `pose0_position_x`."""
    return tuple(AXIS_NAMES[i] for i in axis_indices(count))


def axis_bins(count: int) -> tuple[int, ...]:
    """Bin count of each predicted axis."""
    return tuple(AXIS_BINS[i] for i in axis_indices(count))


def _key_groups(axes: tuple[int, ...]) -> list[list[int]]:
    """Positions (within `axes`) of each action key's components, in key order."""
    groups: list[list[int]] = []
    start = 0
    for key in ACTION_KEYS:
        size = 3 if key.endswith("position") else 4
        stored = range(start, start + size)
        groups.append([axes.index(i) for i in stored if i in axes])
        start += size
    return groups


class ActionEncoder(nn.Module):
    """One token per step from the continuous action normalised to [0, 1]: an MLP per pose key,
    concatenated, then a linear layer."""

    axes: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, action_axes: int, hidden: int, dim: int) -> None:
        super().__init__()
        axes = axis_indices(action_axes)
        self.register_buffer("axes", torch.tensor(axes), persistent=False)
        self.register_buffer("low", torch.tensor([AXIS_LOW[i] for i in axes]), persistent=False)
        self.register_buffer("high", torch.tensor([AXIS_HIGH[i] for i in axes]), persistent=False)
        self.groups = _key_groups(axes)
        self.keys = nn.ModuleList(mlp([len(g), hidden, hidden]) for g in self.groups)
        self.out = nn.Linear(hidden * len(self.groups), dim)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        """[B, T, 14] float -> [B, T, dim]."""
        picked = actions.index_select(-1, self.axes).to(self.low.dtype)
        scaled = (torch.minimum(torch.maximum(picked, self.low), self.high) - self.low) / (
            self.high - self.low
        )
        parts = [net(scaled[..., g]) for net, g in zip(self.keys, self.groups, strict=True)]
        return self.out(torch.cat(parts, -1).to(self.out.weight.dtype))


class ActionHeads(nn.Module):
    """Per-axis MLP heads (dim -> hidden -> hidden -> bins) computed as batched matmuls.

    Logits are float32 [..., A, C] with C = most bins; classes beyond an axis's bin count get
    -1e9, so they take no probability mass.
    """

    valid: torch.Tensor

    def __init__(self, dim: int, hidden: int, bins: tuple[int, ...]) -> None:
        super().__init__()
        count, classes = len(bins), max(bins)
        self.hidden = hidden
        self.first = nn.Linear(dim, count * hidden)
        self.w2 = nn.Parameter(torch.empty(count, hidden, hidden))
        self.b2 = nn.Parameter(torch.zeros(count, hidden))
        self.w3 = nn.Parameter(torch.empty(count, hidden, classes))
        self.b3 = nn.Parameter(torch.zeros(count, classes))
        valid = torch.arange(classes).unsqueeze(0) < torch.tensor(bins).unsqueeze(1)
        self.register_buffer("valid", valid, persistent=False)

    def reset_parameters(self) -> None:
        """Orthogonal weights (gain sqrt 2), last layer gain 0.01: near-uniform at start."""
        nn.init.orthogonal_(self.first.weight, math.sqrt(2))
        nn.init.zeros_(self.first.bias)
        for weight, gain in ((self.w2, math.sqrt(2)), (self.w3, 0.01)):
            for axis in range(weight.shape[0]):
                nn.init.orthogonal_(weight.data[axis], gain)
        nn.init.zeros_(self.b2)
        nn.init.zeros_(self.b3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.first(x)).unflatten(-1, (-1, self.hidden))
        h = torch.relu(torch.einsum("...ah,ahk->...ak", h, self.w2) + self.b2)
        logits = torch.einsum("...ah,ahk->...ak", h, self.w3) + self.b3
        return logits.float().masked_fill(~self.valid, -1e9)


def bins_to_actions(bins: torch.Tensor, action_axes: int) -> torch.Tensor:
    """Predicted bins [..., A] -> continuous 14-axis actions [..., 14] (bin centres, the inverse
    of vima_tokenize's binning); z is `Z_FILL` for 12-axis policies."""
    axes = axis_indices(action_axes)
    low = torch.tensor([AXIS_LOW[i] for i in axes], dtype=torch.float64, device=bins.device)
    high = torch.tensor([AXIS_HIGH[i] for i in axes], dtype=torch.float64, device=bins.device)
    counts = torch.tensor([AXIS_BINS[i] for i in axes], device=bins.device)
    clipped = torch.minimum(bins.clamp(min=0), counts - 1).double()
    # float64 then float32: the arithmetic of vima_tokenize's `undiscretize`, bit for bit
    values = (low + clipped / (counts - 1) * (high - low)).float()
    out = torch.full((*bins.shape[:-1], 14), Z_FILL, device=bins.device)
    out[..., list(axes)] = values
    return out
