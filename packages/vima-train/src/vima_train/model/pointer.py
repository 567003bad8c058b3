"""Pointer position head (`model.position_head=pointer`): pick and place as a choice of object.

The x and y axes of both poses become a mixture over the current observation's top-view
objects: the readout asks, per pose, which object it means (attention scores against the
decoder's outputs at those objects' tokens), and each object contributes a discrete Gaussian
over the bins centred where its bounding box lies on the table. The box-to-table map is an
affine map of the top camera's pixels, initialised to VIMA-Bench's top camera (x = 0.25 + 0.5 v,
y = -0.5 + u for the box centre (u, v) as fractions of the 256 x 128 frame) and learned with
the rest; a per-pose offset (in bins, from the readout) and the Gaussians' widths are learned
too. A learned gate mixes the mixture with the ordinary bins head of the same axes, so targets
that lie on no object (free places) stay reachable. The output is log-probabilities (already
normalised), so every loss and metric reads it like logits.

`position_head=pointer_match` adds a second score to the choice (`PictureMatch`): per pose the
readout chooses among the prompt's object crops and the chosen one is compared with every
observed object's crop. Both sides are the object encoder's crop features (pixels only, before
boxes, prompt encoder or decoder), so the match is one learned similarity for all objects
instead of an identity carried through the decoder (docs/EXPERIMENTS.md, T1).

Not a published architecture: VIMA and CoGeLoT read every axis from bins heads (the default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from vima_tokenize.actions import AXIS_BINS, AXIS_HIGH, AXIS_LOW, AXIS_NAMES

from vima_train.model.actions import axis_indices
from vima_train.model.visual import BBOX_SCALE

#: The pose keys the pointer predicts (pick, place) and their table axes.
POSES = ("pose0_position", "pose1_position")
TABLE_AXES = ("x", "y")
#: Top camera pixel -> table map of VIMA-Bench, rows x and y over (u, v, 1).
CAMERA_INIT = ((0.0, 0.5, 0.25), (1.0, 0.0, -0.5))
#: Initial width of each object's Gaussian, in bins (the oracle picks a random point of the
#: object: about 2.8 cm from the box centre, 1 bin = 1 cm).
SIGMA_INIT = 3.0
#: Initial gate logit: start with most probability on the pointer.
GATE_INIT = 2.0
NEG = -1e9


def table_positions(bbox: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """Table x/y [..., N, 2] in metres of the centres of top-view boxes [..., N, 4] (pixels)
    through the affine `camera` map [2, 3] of the centre as fractions of the frame (u, v, 1)
    (`CAMERA_INIT`: VIMA-Bench's top camera)."""
    u = bbox[..., 0].float() / BBOX_SCALE[0]
    v = bbox[..., 1].float() / BBOX_SCALE[1]
    return torch.stack([u, v], -1) @ camera[:, :2].T + camera[:, 2]


class PointerPositions(nn.Module):
    """Log-probabilities of the pick/place x and y axes as a mixture over the top-view objects."""

    slots: torch.Tensor
    low: torch.Tensor
    span: torch.Tensor
    valid_bins: torch.Tensor

    def __init__(self, dim: int, action_axes: int, classes: int, match: bool = False) -> None:
        super().__init__()
        predicted = [AXIS_NAMES[i] for i in axis_indices(action_axes)]
        names = [f"{pose}_{axis}" for pose in POSES for axis in TABLE_AXES]
        stored = [AXIS_NAMES.index(name) for name in names]
        poses, axes = len(POSES), len(TABLE_AXES)
        self.dim = dim
        self.query = nn.Linear(dim, poses * dim)
        self.key = nn.Linear(dim, dim)
        self.offset = nn.Linear(dim, poses * axes)
        self.gate = nn.Linear(dim, poses)
        self.camera = nn.Parameter(torch.empty(axes, 3))
        self.log_sigma = nn.Parameter(torch.empty(poses, axes))
        self.match = PictureMatch(dim, poses) if match else None
        shape = (poses, axes)
        self.register_buffer(
            "slots", torch.tensor([predicted.index(n) for n in names]), persistent=False
        )
        self.register_buffer(
            "low", torch.tensor([AXIS_LOW[i] for i in stored]).view(shape), persistent=False
        )
        span = [(AXIS_HIGH[i] - AXIS_LOW[i]) / (AXIS_BINS[i] - 1) for i in stored]
        self.register_buffer("span", torch.tensor(span).view(shape), persistent=False)
        bins = torch.tensor([AXIS_BINS[i] for i in stored]).view(*shape, 1)
        self.register_buffer("valid_bins", torch.arange(classes) < bins, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero offsets, the gate leaning towards the pointer, the camera at VIMA-Bench's."""
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, GATE_INIT)
        with torch.no_grad():
            self.camera.copy_(torch.tensor(CAMERA_INIT))
            self.log_sigma.fill_(math.log(SIGMA_INIT))

    def forward(
        self,
        logits: torch.Tensor,
        features: torch.Tensor,
        objects: torch.Tensor,
        bbox: torch.Tensor,
        valid: torch.Tensor,
        pictures: Pictures | None = None,
    ) -> torch.Tensor:
        """Replace the pick/place x and y rows of `logits` [..., A, C] (float32, from the bins
        heads) by the mixture. `features` [..., D] is the readout, `objects` [..., N, D] the
        decoder outputs at the top-view object tokens of the same step, `bbox` [..., N, 4] their
        boxes (pixels), `valid` [..., N] which exist; `pictures` the crop features the match
        compares (required with `match`). Steps without objects keep the bins head."""
        poses, axes = self.low.shape
        query = self.query(features).unflatten(-1, (poses, self.dim))
        scores = torch.einsum("...kd,...nd->...kn", query, self.key(objects)).float()
        scores = scores / math.sqrt(self.dim)
        if self.match is not None:
            assert pictures is not None, "pointer_match needs the prompt's and scene's crops"
            scores = scores + self.match(features, pictures).float()
        scores = scores.masked_fill(~valid.unsqueeze(-2), NEG)
        log_choice = scores.log_softmax(-1)  # [..., K, N]
        table = table_positions(bbox, self.camera)  # [..., N, 2]
        offset = self.offset(features).float().unflatten(-1, (poses, axes))
        mean = (table.unsqueeze(-3) - self.low.unsqueeze(-2)) / self.span.unsqueeze(-2)
        mean = mean.transpose(-1, -2) + offset.unsqueeze(-1)  # [..., K, 2, N] in bins
        classes = torch.arange(logits.shape[-1], device=logits.device, dtype=torch.float32)
        sigma = self.log_sigma.exp().view(poses, axes, 1, 1)
        spread = -0.5 * ((classes - mean.unsqueeze(-1)) / sigma) ** 2  # [..., K, 2, N, C]
        spread = spread.masked_fill(~self.valid_bins.unsqueeze(-2), NEG).log_softmax(-1)
        pointer = torch.logsumexp(log_choice.unsqueeze(-2).unsqueeze(-1) + spread, dim=-2)
        gate = self.gate(features).float().unsqueeze(-1).unsqueeze(-1)  # [..., K, 1, 1]
        free = logits.index_select(-2, self.slots).unflatten(-2, (poses, axes)).log_softmax(-1)
        mixed = torch.logaddexp(
            nn.functional.logsigmoid(gate) + pointer, nn.functional.logsigmoid(-gate) + free
        )
        has_object = valid.any(-1)[..., None, None, None]
        mixed = torch.where(has_object, mixed, free).masked_fill(~self.valid_bins, NEG)
        out = logits.clone()
        out[..., self.slots, :] = mixed.flatten(-3, -2)
        return out


@dataclass
class Pictures:
    """What `PictureMatch` compares: crop features of the prompt's objects `prompt` [..., P, D]
    (`valid` [..., P]: present and not masked) and of the step's top-view objects `scene`
    [..., N, D]. Leading dims broadcast against the readout's."""

    prompt: torch.Tensor
    valid: torch.Tensor
    scene: torch.Tensor


class PictureMatch(nn.Module):
    """Choice scores [..., K, N]: per pose, attention of the readout over the prompt's pictures,
    and the attended picture's similarity to each scene object (0 without a visible picture)."""

    def __init__(self, dim: int, poses: int) -> None:
        super().__init__()
        self.dim, self.poses = dim, poses
        self.select = nn.Linear(dim, poses * dim)
        self.picture_key = nn.Linear(dim, dim)
        self.picture_value = nn.Linear(dim, dim)
        self.scene_key = nn.Linear(dim, dim)

    def forward(self, features: torch.Tensor, pictures: Pictures) -> torch.Tensor:
        scale = math.sqrt(self.dim)
        select = self.select(features).unflatten(-1, (self.poses, self.dim))
        keys = self.picture_key(pictures.prompt)
        weights = torch.einsum("...kd,...pd->...kp", select, keys) / scale
        weights = weights.masked_fill(~pictures.valid.unsqueeze(-2), NEG).softmax(-1)
        chosen = torch.einsum("...kp,...pd->...kd", weights, self.picture_value(pictures.prompt))
        scores = torch.einsum("...kd,...nd->...kn", chosen, self.scene_key(pictures.scene)) / scale
        return scores * pictures.valid.any(-1)[..., None, None]
