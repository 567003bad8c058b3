"""VIMA's visual modules (vimalabs/VIMA `vima/nn/obj_encoder/`): the crop ViT (32 x 32 crops,
16-pixel patches, a CLS token, `ln_pre`, CLIP blocks with QuickGELU, 768 wide at every size in
VIMA's own policy) with the per-view box MLPs, and `reference_mlp`, VIMA's `build_mlp`."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

#: Views in VIMA's order (sorted names).
VIEWS = ("front", "top")
#: Pixel statistics of VIMA's crop ViT.
CROP_MEAN = (0.3471, 0.3429, 0.3383)
CROP_STD = (0.3011, 0.2961, 0.2956)
#: Box normaliser of `[x_center, y_center, height, width]`: the 256 x 128 camera frame.
BOX_SCALE = (256.0, 128.0, 128.0, 256.0)
#: Fixed sizes of VIMA's crop ViT.
CROP_WIDTH, CROP_LAYERS, CROP_HEADS, CROP_SIZE, CROP_PATCH = 768, 4, 24, 32, 16


def reference_mlp(inputs: int, hidden: int, outputs: int, depth: int) -> nn.Sequential:
    """VIMA's `build_mlp`: (Linear, Identity, ReLU) x depth, then Linear (keys 0, 3, 6, ...)."""
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.Identity(), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, outputs))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, math.sqrt(2))
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class QuickGELU(nn.Module):
    """`x * sigmoid(1.702 x)` (CLIP's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """CLIP's pre-LayerNorm ViT block (sequence-first `nn.MultiheadAttention`)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, 4 * width)),
                    ("gelu", QuickGELU()),
                    ("c_proj", nn.Linear(4 * width, width)),
                ]
            )
        )
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.ln_1(x)
        x = x + self.attn(normed, normed, normed, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


def vit_tokens(vit: nn.Module, pixels: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
    """A CLIP-style ViT's tokens [N, P (+1), W] before `ln_post`: `conv1` patches of normalised
    pixels [N, 3, H, W], the `cls` token first when given, `ln_pre` of them plus `pos_embed`,
    then the (sequence-first) `blocks`."""
    x = vit.conv1(pixels)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    if cls is not None:
        x = torch.cat([cls.repeat((x.shape[0], 1, 1)), x], dim=1)
    x = vit.ln_pre(x + vit.pos_embed)
    return vit.blocks(x.permute(1, 0, 2)).permute(1, 0, 2)


class VisionTransformer(nn.Module):
    """The crop ViT: 16-pixel patches of a 32 x 32 crop, a CLS token, `ln_pre`, 4 blocks,
    `ln_post` on the CLS output and a projection."""

    def __init__(self, width: int = CROP_WIDTH) -> None:
        super().__init__()
        scale = width**-0.5
        patches = (CROP_SIZE // CROP_PATCH) ** 2
        self.conv1 = nn.Conv2d(3, width, CROP_PATCH, stride=CROP_PATCH, bias=False)
        self.cls_token = nn.Parameter(scale * torch.randn(width))
        self.pos_embed = nn.Parameter(scale * torch.randn(patches + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.Sequential(
            *(ResidualAttentionBlock(width, CROP_HEADS) for _ in range(CROP_LAYERS))
        )
        self.ln_post = nn.LayerNorm(width)
        self.projection = nn.Parameter(scale * torch.randn(width, width))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised crops [N, 3, 32, 32] -> features [N, width]."""
        x = vit_tokens(self, pixels, self.cls_token)
        return self.ln_post(x[:, 0, :]) @ self.projection


class CropEncoder(nn.Module):
    """Normalises uint8-valued crops with VIMA's statistics and runs the ViT (`.vit`)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, width: int = CROP_WIDTH) -> None:
        super().__init__()
        self.vit = VisionTransformer(width)
        self.width = width
        self.register_buffer("mean", torch.tensor(CROP_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CROP_STD).view(3, 1, 1), persistent=False)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Crops [..., 3, 32, 32] (0-255) -> features [..., width].

        Every crop's feature depends on that crop alone, so the blank ones (all zero: padded
        and absent object slots, most of a batch's slots) share one ViT pass of a zero crop;
        the features and gradients are those of a pass per crop."""
        lead = crops.shape[:-3]
        flat = crops.flatten(0, -4)
        drawn = flat.flatten(1).ne(0).any(1)
        kept = drawn.nonzero().squeeze(1)
        unique = torch.cat([flat[kept], flat.new_zeros(1, *flat.shape[1:])])
        pixels = (unique.float() / 255.0).sub(self.mean).div(self.std)
        slot = torch.full_like(drawn, kept.shape[0], dtype=torch.long)
        slot[kept] = torch.arange(kept.shape[0], device=kept.device)
        return self.vit(pixels).index_select(0, slot).view(*lead, self.width)


class ObjEncoder(nn.Module):
    """Per view: crop feature and box MLP (4 -> W -> W -> W, W the crop width: 768 in VIMA),
    fused to `embed_dim`; the views' tokens are concatenated (front objects, then top)."""

    box_scale: torch.Tensor

    def __init__(self, dim: int, width: int = CROP_WIDTH) -> None:
        super().__init__()
        self.cropped_img_encoder = CropEncoder(width)
        self.bbox_mlp = nn.ModuleDict({view: reference_mlp(4, width, width, 2) for view in VIEWS})
        self.pre_transformer_layer = nn.ModuleDict(
            {view: nn.Linear(2 * width, dim) for view in VIEWS}
        )
        self.register_buffer("box_scale", torch.tensor(BOX_SCALE), persistent=False)

    def forward(
        self, crops: dict[str, torch.Tensor], boxes: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Per view crops [..., N_v, 3, 32, 32] and boxes [..., N_v, 4] -> [..., sum N_v, E]."""
        flat = [crops[view].flatten(0, -4) for view in VIEWS]  # one ViT pass for both views
        per_view = self.cropped_img_encoder(torch.cat(flat)).split([len(f) for f in flat])
        fused = []
        for view, flat_features in zip(VIEWS, per_view, strict=True):
            features = flat_features.view(*crops[view].shape[:-3], flat_features.shape[-1])
            box = self.bbox_mlp[view](boxes[view].float() / self.box_scale)
            fused.append(self.pre_transformer_layer[view](torch.cat([features, box], dim=-1)))
        return torch.cat(fused, dim=-2)
