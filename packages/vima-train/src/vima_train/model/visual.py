"""Visual tokens: object-centric (crop ViT + bounding-box MLP) or whole-image patches."""

from __future__ import annotations

import torch
from torch import nn

from vima_train.model.layers import Encoder, mlp

#: Per-channel normalisation of pixels in [0, 1] (the reference's values).
PIXEL_MEAN = (0.3471, 0.3429, 0.3383)
PIXEL_STD = (0.3011, 0.2961, 0.2956)
#: Bounding boxes (x_center, y_center, height, width) divided by the 128x256 frame size.
BBOX_SCALE = (256.0, 128.0, 128.0, 256.0)
VIEWS = 2
PATCHES_PER_VIEW = 8  # 64x128 frames, 32x32 patches


class ViT(nn.Module):
    """Patch embedding (+ optional CLS), learned positions, pre-LN encoder, projection."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        image: tuple[int, int],
        patch: int,
        width: int,
        layers: int,
        heads: int,
        mult: int,
        out_dim: int,
        cls: bool,
    ) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, width, patch, stride=patch)
        count = (image[0] // patch) * (image[1] // patch) + int(cls)
        self.cls = nn.Parameter(torch.zeros(width)) if cls else None
        self.position = nn.Parameter(torch.zeros(count, width))
        self.encoder = Encoder(width, layers, heads, mult, dropout=0.0)
        self.project = nn.Linear(width, out_dim)
        self.register_buffer("mean", torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(PIXEL_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 [M, 3, H, W] -> [M, out_dim] (CLS) or [M, patches, out_dim]."""
        x = (pixels.to(self.position.dtype) / 255.0 - self.mean) / self.std
        x = self.embed(x).flatten(2).transpose(1, 2)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1)
        x = x + self.position
        allowed = torch.ones(x.shape[0], x.shape[1], x.shape[1], dtype=torch.bool, device=x.device)
        x = self.encoder(x, allowed)
        return self.project(x[:, 0] if self.cls is not None else x)


class ObjectEncoder(nn.Module):
    """One token per (view, object): crop ViT (shared by views) and per-view bbox MLP, fused."""

    bbox_scale: torch.Tensor

    def __init__(
        self,
        dim: int,
        width: int,
        layers: int,
        heads: int,
        mult: int,
        fusion_norm: bool = False,
        bbox_frequencies: int = 0,
        patch: int = 16,
    ) -> None:
        super().__init__()
        self.vit = ViT((32, 32), patch, width, layers, heads, mult, dim, cls=True)
        self.bbox_features = BoxFeatures(bbox_frequencies)
        box_dim = self.bbox_features.size
        self.bbox = nn.ModuleList(mlp([box_dim, dim, dim]) for _ in range(VIEWS))
        self.fuse = nn.ModuleList(nn.Linear(2 * dim, dim) for _ in range(VIEWS))
        #: Per view: LayerNorms of the crop and the box feature before fusion (or identities).
        self.crop_norm = nn.ModuleList(_norm(dim, fusion_norm) for _ in range(VIEWS))
        self.bbox_norm = nn.ModuleList(_norm(dim, fusion_norm) for _ in range(VIEWS))
        self.register_buffer("bbox_scale", torch.tensor(BBOX_SCALE), persistent=False)

    def forward(self, crops: torch.Tensor, bbox: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """crops [..., V, N, 3, 32, 32] uint8, bbox [..., V, N, 4], mask [..., V, N] ->
        tokens [..., V, N, dim]; the ViT runs on visible objects only (padding gets zeros)."""
        return self.with_boxes(self.crop_features(crops, mask), bbox)

    def crop_features(self, crops: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the pixels alone say of each object: [..., V, N, dim] (zeros for padding)."""
        visible = self.vit(crops[mask])  # [visible objects, dim]
        features = visible.new_zeros(*mask.shape, visible.shape[-1])
        return features.index_put((mask,), visible)

    def with_boxes(self, features: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        """Crop features [..., V, N, dim] fused with their boxes [..., V, N, 4] per view."""
        boxes = self.bbox_features(bbox.to(features.dtype) / self.bbox_scale)
        views = []
        for v in range(VIEWS):
            crop = self.crop_norm[v](features[..., v, :, :])
            box = self.bbox_norm[v](self.bbox[v](boxes[..., v, :, :]))
            views.append(self.fuse[v](torch.cat([crop, box], -1)))
        return torch.stack(views, dim=-3)


def _norm(dim: int, on: bool) -> nn.Module:
    return nn.LayerNorm(dim) if on else nn.Identity()


class BoxFeatures(nn.Module):
    """Boxes scaled to [0, 1] -> themselves (`frequencies` 0) or sin/cos(2^k pi b) for
    k < `frequencies` of each coordinate (Fourier features)."""

    scales: torch.Tensor

    def __init__(self, frequencies: int) -> None:
        super().__init__()
        self.size = 4 * 2 * frequencies if frequencies else 4
        scales = torch.pi * 2.0 ** torch.arange(frequencies, dtype=torch.float32)
        self.register_buffer("scales", scales, persistent=False)

    def forward(self, boxes: torch.Tensor) -> torch.Tensor:
        if not self.scales.numel():
            return boxes
        angles = (boxes.unsqueeze(-1) * self.scales.to(boxes.dtype)).flatten(-2)
        return torch.cat([angles.sin(), angles.cos()], -1)


class PatchEncoder(nn.Module):
    """Eight 32x32 patch tokens per 64x128 view, 16 per image; ViT shared by views."""

    def __init__(self, dim: int, width: int, layers: int, heads: int, mult: int) -> None:
        super().__init__()
        self.vit = ViT((64, 128), 32, width, layers, heads, mult, dim, cls=False)
        self.view = nn.Parameter(torch.zeros(VIEWS, 1, dim))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames [..., V, 3, 64, 128] uint8 -> tokens [..., V * 8, dim]."""
        lead = frames.shape[:-4]
        tokens = self.vit(frames.reshape(-1, *frames.shape[-3:]))
        tokens = tokens.view(*lead, VIEWS, PATCHES_PER_VIEW, -1) + self.view
        return tokens.flatten(-3, -2)


def shuffle_order(mask: torch.Tensor) -> torch.Tensor:
    """Source slots [..., N] of a random permutation of the valid slots of every row of `mask`
    [..., N] among themselves (padding stays in place), for `tensor.gather(-2, ...)` of
    `[..., N, D]` tensors. Uses the global torch generator."""
    count = mask.shape[-1]
    keys = torch.rand(mask.shape, device=mask.device).masked_fill(~mask, 2.0)
    random_order = keys.argsort(dim=-1, stable=True)
    slots = torch.arange(count, device=mask.device).expand_as(mask).masked_fill(~mask, count)
    ascending = slots.argsort(dim=-1, stable=True)
    return torch.empty_like(ascending).scatter_(-1, ascending, random_order)


def gather_slots(values: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """`values` [..., N, D] reordered by `source` [..., N] (from `shuffle_order`)."""
    return values.gather(-2, source.unsqueeze(-1).expand_as(values))
