"""VIMA's `GatoMultiViewRGBEncoder` as CoGeLoT's patches experiments configure it
(`PatchesVisualEncoder`, `configs/model/visual_encoder/patches.yaml`): each view's 64 x 128
frame cut into 32-pixel
patches (2 x 4), a ViT without a CLS token whose every output is projected to `embed_dim`;
the views' tokens concatenated (front, then top). Keys as CoGeLoT's
(`cropped_img_encoder.vit.{conv1, pos_embed, ln_pre, blocks, ln_post, projection}`)."""

from __future__ import annotations

import torch
from torch import nn

from vima_train.policies.vima.vision import (
    CROP_HEADS,
    CROP_LAYERS,
    CROP_MEAN,
    CROP_STD,
    VIEWS,
    ResidualAttentionBlock,
    vit_tokens,
)

#: Frame size and patch side of CoGeLoT's patches experiments.
FRAME_HEIGHT, FRAME_WIDTH, PATCH = 64, 128, 32
PATCHES = (FRAME_HEIGHT // PATCH) * (FRAME_WIDTH // PATCH)


class PatchViT(nn.Module):
    """`GatoVisionTransformerRectangular`: patch embedding, positions, `ln_pre`, CLIP blocks,
    `ln_post` and the projection on every patch token."""

    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        scale = width**-0.5
        self.conv1 = nn.Conv2d(3, width, PATCH, stride=PATCH, bias=False)
        self.pos_embed = nn.Parameter(scale * torch.randn(PATCHES, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.Sequential(
            *(ResidualAttentionBlock(width, CROP_HEADS) for _ in range(CROP_LAYERS))
        )
        self.ln_post = nn.LayerNorm(width)
        self.projection = nn.Parameter(scale * torch.randn(width, out_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised frames [N, 3, 64, 128] -> patch tokens [N, 8, out_dim]."""
        return self.ln_post(vit_tokens(self, pixels, None)) @ self.projection


class FrameEncoder(nn.Module):
    """Normalises 0-255 frames with VIMA's statistics and runs the ViT (`.vit`)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        self.vit = PatchViT(width, out_dim)
        self.width = width
        self.register_buffer("mean", torch.tensor(CROP_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CROP_STD).view(3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames [..., 3, 64, 128] -> tokens [..., 8, out_dim]."""
        lead = frames.shape[:-3]
        pixels = (frames.float() / 255.0).sub(self.mean).div(self.std)
        out = self.vit(pixels.flatten(0, -4))
        return out.view(*lead, *out.shape[-2:])


class PatchEncoder(nn.Module):
    """Both views' patch tokens, `embed_dim` wide (the ViT is too)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.cropped_img_encoder = FrameEncoder(dim, dim)

    def forward(self, frames: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per view frames [..., 3, 64, 128] -> tokens [..., 16, E] (front, then top)."""
        return torch.cat([self.cropped_img_encoder(frames[view]) for view in VIEWS], dim=-2)
