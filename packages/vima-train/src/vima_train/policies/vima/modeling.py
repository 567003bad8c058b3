"""VIMA's policy network, module for module (vimalabs/VIMA `VIMAPolicy`, docs/CHECKPOINTS.md).

Every parameter and buffer has the name and shape it has in VIMA's released checkpoints (less
the `policy.` prefix), and every forward step does VIMA's arithmetic in VIMA's order, so an
imported checkpoint gives VIMA's logits (tested to 1e-5 against VIMA's own code). The inputs are
VIMA's native ones: per view dictionaries of crops, boxes and masks, sequence-first tensors.
`vima_train.policies.vima.policy` adapts vima-train batches to them.

Facts of VIMA's code kept here on purpose: post-LayerNorm GPT blocks with gated (GEGLU) MLPs, a
causal mask that adds -1e4 (not -inf), a cross-attention layer with its own gated feed-forward
before every block, no final LayerNorm, a crop ViT of width 768 with `ln_pre` and QuickGELU at
every size, a frozen copy of T5's word embeddings, and positions `cumsum(mask) - 1`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

#: Views in VIMA's order (sorted names).
VIEWS = ("front", "top")
#: Pixel statistics of VIMA's crop ViT.
CROP_MEAN = (0.3471, 0.3429, 0.3383)
CROP_STD = (0.3011, 0.2961, 0.2956)
#: Box normaliser of `[x_center, y_center, height, width]`: the 256 x 128 camera frame.
BOX_SCALE = (256.0, 128.0, 128.0, 256.0)
#: Action heads in VIMA's order: bins of each component (2-D positions, quaternions).
ACTION_HEADS: dict[str, tuple[int, ...]] = {
    "pose0_position": (50, 100),
    "pose0_rotation": (50, 50, 50, 50),
    "pose1_position": (50, 100),
    "pose1_rotation": (50, 50, 50, 50),
}
#: Fixed sizes of VIMA's network at every model size.
CROP_WIDTH, CROP_LAYERS, CROP_HEADS, CROP_SIZE, CROP_PATCH = 768, 4, 24, 32, 16
WORD_DIM, DECODER_POSITIONS, PROMPT_POSITIONS = 768, 512, 256
ACTION_HIDDEN, HEAD_HIDDEN, HEAD_DEPTH = 256, 512, 2
END_EFFECTORS = 2


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


# ---------------------------------------------------------------------------- decoder
class Conv1D(nn.Module):
    """GPT's transposed linear layer: weight [inputs, outputs], `x @ W + b`."""

    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(inputs, outputs).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return out.view(*x.shape[:-1], self.weight.shape[1])


class SelfAttention(nn.Module):
    """Causal self-attention of a GPT block; `bias` is the saved lower-triangular mask."""

    bias: torch.Tensor

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)
        tril = torch.tril(torch.ones(DECODER_POSITIONS, DECODER_POSITIONS))
        self.register_buffer("bias", tril.view(1, 1, DECODER_POSITIONS, DECODER_POSITIONS))
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        query, key, value = self.c_attn(x).split(dim, dim=2)
        shape = (batch, length, self.heads, dim // self.heads)
        query = query.view(shape).permute(0, 2, 1, 3)
        key = key.view(shape).permute(0, 2, 3, 1)
        value = value.view(shape).permute(0, 2, 1, 3)
        weights = torch.matmul(query, key) / math.sqrt(value.size(-1))
        causal = self.bias[:, :, :length, :length].to(weights.dtype)
        weights = weights * causal + -1e4 * (1 - causal) + additive_mask
        weights = self.attn_dropout(torch.softmax(weights, dim=-1))
        out = torch.matmul(weights, value).permute(0, 2, 1, 3).contiguous()
        return self.resid_dropout(self.c_proj(out.view(batch, length, dim)))


class GatedMLP(nn.Module):
    """`c_proj(GELU(c_fc(x)) * gated_layer(x))` (GEGLU, 4x wide)."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.c_fc = Conv1D(dim, 4 * dim)
        self.c_proj = Conv1D(4 * dim, dim)
        self.gated_layer = nn.Linear(dim, 4 * dim, bias=False)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x)) * self.gated_layer(x)))


class Block(nn.Module):
    """Post-LayerNorm GPT block: `n = ln_1(x + attn(x))`, `ln_2(n + mlp(n))`."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = SelfAttention(dim, heads, dropout)
        self.ln_1 = nn.LayerNorm(dim)
        self.mlp = GatedMLP(dim, dropout)
        self.ln_2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        n = self.ln_1(x + self.attn(x, additive_mask))
        return self.ln_2(n + self.mlp(n))


class CrossAttention(nn.Module):
    """VIMA's `XAttention`: pre-LayerNorm queries, bias-free projections, residual, then a
    gated feed-forward whose gate reads the un-normalised attention output."""

    kv_position_ids: torch.Tensor

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed_dim {dim} is not divisible by xattn_n_heads {heads}")
        self.heads = heads
        self.layernorm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim, bias=False)
        self.key_value = nn.Linear(dim, 2 * dim, bias=False)
        self.attention_out = nn.Linear(dim, dim, bias=False)
        self.ln = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, 4 * dim, bias=False)
        self.act = nn.GELU()
        self.linear2 = nn.Linear(4 * dim, dim, bias=False)
        self.gated_layer = nn.Linear(dim, 4 * dim, bias=False)
        self.register_buffer("kv_position_ids", torch.arange(PROMPT_POSITIONS))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.heads, -1).permute(0, 2, 1, 3)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        queries = self._heads(self.query(self.layernorm(x)))
        keys, values = (self._heads(part) for part in self.key_value(memory).chunk(2, dim=-1))
        scores = torch.matmul(queries, keys.transpose(-1, -2)) / math.sqrt(queries.shape[-1])
        inverted = (1.0 - memory_mask[:, None, None, :].to(scores.dtype)) * torch.finfo(
            scores.dtype
        ).min
        probs = torch.softmax(scores + inverted, dim=-1)
        context = torch.matmul(probs, values).permute(0, 2, 1, 3).contiguous()
        attended = self.attention_out(context.view(*x.shape)) + x
        hidden = self.act(self.linear1(self.ln(attended))) * self.gated_layer(attended)
        return self.linear2(hidden) + attended


class XAttnGPT(nn.Module):
    """The decoder: learned positions for the stream (512) and the prompt (256), then per layer
    a cross-attention over the prompt and a GPT block; no final LayerNorm."""

    position_ids: torch.Tensor
    xattn_position_ids: torch.Tensor

    def __init__(self, dim: int, layers: int, heads: int, cross_heads: int, dropout: float) -> None:
        super().__init__()
        self.positions_embed = nn.Embedding(DECODER_POSITIONS, dim)
        self.xattn_positions_embed = nn.Embedding(PROMPT_POSITIONS, dim)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(dim, heads, dropout) for _ in range(layers))
        self.xattns = nn.ModuleList(CrossAttention(dim, cross_heads) for _ in range(layers))
        self.register_buffer("position_ids", torch.arange(DECODER_POSITIONS))
        self.register_buffer("xattn_position_ids", torch.arange(PROMPT_POSITIONS))
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

    def forward(
        self,
        tokens: torch.Tensor,
        masks: torch.Tensor,
        position_ids: torch.Tensor,
        prompt: torch.Tensor,
        prompt_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Batch-first: tokens [B, L, E], masks [B, L], position_ids [B, L]; `prompt` [B, Lp, E]
        already holds its positions (`prompt_memory`)."""
        if tokens.shape[1] > DECODER_POSITIONS:
            raise ValueError(
                f"{tokens.shape[1]} tokens exceed VIMA's {DECODER_POSITIONS} positions"
            )
        x = self.drop(tokens + self.positions_embed(position_ids))
        additive = (1.0 - masks[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for self_attention, cross in zip(self.h, self.xattns, strict=True):
            x = cross(x, prompt, prompt_mask)
            x = self_attention(x, additive)
        return x

    def prompt_memory(self, prompt: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
        """The prompt [B, Lp, E] plus its positions `cumsum(mask) - 1`."""
        if prompt.shape[1] > PROMPT_POSITIONS:
            raise ValueError(
                f"prompt of {prompt.shape[1]} tokens exceeds VIMA's {PROMPT_POSITIONS}"
            )
        ids = (torch.cumsum(prompt_mask.long(), dim=1) - 1).clamp(min=0)
        return prompt + self.xattn_positions_embed(ids)


# ---------------------------------------------------------------------- object encoder
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


class VisionTransformer(nn.Module):
    """The crop ViT: 16-pixel patches of a 32 x 32 crop, a CLS token, `ln_pre`, 4 blocks,
    `ln_post` on the CLS output and a projection."""

    def __init__(self) -> None:
        super().__init__()
        scale = CROP_WIDTH**-0.5
        patches = (CROP_SIZE // CROP_PATCH) ** 2
        self.conv1 = nn.Conv2d(3, CROP_WIDTH, CROP_PATCH, stride=CROP_PATCH, bias=False)
        self.cls_token = nn.Parameter(scale * torch.randn(CROP_WIDTH))
        self.pos_embed = nn.Parameter(scale * torch.randn(patches + 1, CROP_WIDTH))
        self.ln_pre = nn.LayerNorm(CROP_WIDTH)
        self.blocks = nn.Sequential(
            *(ResidualAttentionBlock(CROP_WIDTH, CROP_HEADS) for _ in range(CROP_LAYERS))
        )
        self.ln_post = nn.LayerNorm(CROP_WIDTH)
        self.projection = nn.Parameter(scale * torch.randn(CROP_WIDTH, CROP_WIDTH))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised crops [N, 3, 32, 32] -> features [N, 768]."""
        x = self.conv1(pixels)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        x = torch.cat([self.cls_token.repeat((x.shape[0], 1, 1)), x], dim=1)
        x = self.ln_pre(x + self.pos_embed)
        x = self.blocks(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.projection


class CropEncoder(nn.Module):
    """Normalises uint8-valued crops with VIMA's statistics and runs the ViT (`.vit`)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.vit = VisionTransformer()
        self.register_buffer("mean", torch.tensor(CROP_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CROP_STD).view(3, 1, 1), persistent=False)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Crops [..., 3, 32, 32] (0-255) -> features [..., 768]."""
        lead = crops.shape[:-3]
        pixels = (crops.float() / 255.0).sub(self.mean).div(self.std)
        return self.vit(pixels.flatten(0, -4)).view(*lead, CROP_WIDTH)


class ObjEncoder(nn.Module):
    """Per view: crop feature and box MLP (4 -> 768 -> 768 -> 768), fused to `embed_dim`;
    the views' tokens are concatenated (front objects, then top)."""

    box_scale: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.cropped_img_encoder = CropEncoder()
        self.bbox_mlp = nn.ModuleDict(
            {view: reference_mlp(4, CROP_WIDTH, CROP_WIDTH, 2) for view in VIEWS}
        )
        self.pre_transformer_layer = nn.ModuleDict(
            {view: nn.Linear(2 * CROP_WIDTH, dim) for view in VIEWS}
        )
        self.register_buffer("box_scale", torch.tensor(BOX_SCALE), persistent=False)

    def forward(
        self, crops: dict[str, torch.Tensor], boxes: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Per view crops [..., N_v, 3, 32, 32] and boxes [..., N_v, 4] -> [..., sum N_v, E]."""
        fused = []
        for view in VIEWS:
            features = self.cropped_img_encoder(crops[view])
            box = self.bbox_mlp[view](boxes[view].float() / self.box_scale)
            fused.append(self.pre_transformer_layer[view](torch.cat([features, box], dim=-1)))
        return torch.cat(fused, dim=-2)


# ------------------------------------------------------------------------------ actions
class ContinuousActionEmbedding(nn.Module):
    """One pose key's MLP (`_layer`: inputs -> 256 -> 256)."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self._layer = reference_mlp(inputs, ACTION_HIDDEN, ACTION_HIDDEN, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._layer(x)


class ActionEmbedding(nn.Module):
    """Embeds normalised actions: per key (sorted) an MLP, concatenated, then `_post_layer`."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self._embed_dict = nn.ModuleDict(
            {key: ContinuousActionEmbedding(len(bins)) for key, bins in ACTION_HEADS.items()}
        )
        self._post_layer = nn.Linear(ACTION_HIDDEN * len(ACTION_HEADS), dim)

    def forward(self, actions: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [self._embed_dict[key](actions[key]) for key in sorted(actions)]
        return self._post_layer(torch.cat(parts, dim=-1))


class MultiCategoricalNet(nn.Module):
    """One MLP (E -> 512 -> 512 -> bins) per component of a pose key."""

    def __init__(self, dim: int, bins: tuple[int, ...]) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(reference_mlp(dim, HEAD_HIDDEN, n, HEAD_DEPTH) for n in bins)
        for net in self.mlps:
            nn.init.orthogonal_(net[-1].weight, 0.01)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [net(x) for net in self.mlps]


class ActionDecoder(nn.Module):
    """The action heads (`_decoders.<key>.mlps.<component>`), raw logits per component."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self._decoders = nn.ModuleDict(
            {key: MultiCategoricalNet(dim, bins) for key, bins in ACTION_HEADS.items()}
        )

    def forward(self, x: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        return {key: net(x) for key, net in self._decoders.items()}


# ------------------------------------------------------------------------------- prompt
class WordEmbedding(nn.Module):
    """VIMA's frozen copy of T5's word embeddings (`_embed_layer`, 32128 x 768 for t5-base)."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self._embed_layer = nn.Embedding(vocab, dim)
        self._embed_layer.weight.requires_grad_(False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self._embed_layer(ids)


class T5PromptEncoder(nn.Module):
    """Holds the T5 encoder as `.t5` (transformers `T5EncoderModel`)."""

    def __init__(self, t5: Any) -> None:
        super().__init__()
        self.t5 = t5

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Batch-first tokens [B, L, 768] and mask [B, L] -> hidden states [B, L, 768]."""
        return self.t5(
            inputs_embeds=tokens.contiguous(), attention_mask=mask.float()
        ).last_hidden_state


class VimaNetwork(nn.Module):
    """VIMA's `VIMAPolicy` modules with its cfg (`embed_dim`, `xf_n_layers`, `sattn_n_heads`,
    `xattn_n_heads`) and a T5 encoder; methods take VIMA's native inputs, batch-first."""

    def __init__(
        self, dim: int, layers: int, heads: int, cross_heads: int, t5: Any, dropout: float = 0.1
    ) -> None:
        super().__init__()
        t5_dim, vocab = int(t5.config.d_model), int(t5.config.vocab_size)
        if t5_dim != WORD_DIM:
            raise ValueError(f"VIMA's prompt needs a {WORD_DIM}-wide T5, got d_model {t5_dim}")
        self.embed_dim = dim
        self.xattn_gpt = XAttnGPT(dim, layers, heads, cross_heads, dropout)
        self.obj_encoder = ObjEncoder(dim)
        self.end_effector_encoder = nn.Embedding(END_EFFECTORS, 2)
        self.obs_fusion_layer = nn.Linear(dim + 2, dim)
        self.action_encoder = ActionEmbedding(dim)
        self.action_decoder = ActionDecoder(dim)
        self.prompt_embedding = WordEmbedding(vocab, WORD_DIM)
        self.t5_prompt_encoder = T5PromptEncoder(t5)
        self.t5_prompt_encoder_post_layer: nn.Module = (
            nn.Identity() if dim == WORD_DIM else nn.Linear(WORD_DIM, dim, bias=False)
        )
        self.prompt_obj_post_layer = reference_mlp(dim, WORD_DIM, WORD_DIM, 2)
        with torch.no_grad():  # VIMA copies T5's input embeddings when it builds the policy
            self.prompt_embedding._embed_layer.weight.copy_(t5.get_input_embeddings().weight)

    def prompt_tokens(self, sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Assembled prompt [B, L, 768] (words and `prompt_obj_post_layer` outputs) -> the
        decoder's prompt tokens [B, L, E] (T5, then `t5_prompt_encoder_post_layer`)."""
        return self.t5_prompt_encoder_post_layer(self.t5_prompt_encoder(sequence, mask))

    def prompt_objects(
        self, crops: dict[str, torch.Tensor], boxes: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Tokens [..., sum N_v, 768] of a prompt image's objects."""
        return self.prompt_obj_post_layer(self.obj_encoder(crops, boxes))

    def observation_tokens(
        self,
        crops: dict[str, torch.Tensor],
        boxes: dict[str, torch.Tensor],
        end_effector: torch.Tensor,
    ) -> torch.Tensor:
        """Observation tokens [..., sum N_v, E] from per-view crops and boxes and the end
        effector [...] (`forward_obs_token`)."""
        objects = self.obj_encoder(crops, boxes)
        effector = self.end_effector_encoder(end_effector).unsqueeze(-2)
        effector = effector.expand(*objects.shape[:-1], effector.shape[-1])
        return self.obs_fusion_layer(torch.cat([objects, effector], dim=-1))

    def decode(
        self,
        obs_tokens: torch.Tensor,
        obs_mask: torch.Tensor,
        action_tokens: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
    ) -> torch.Tensor:
        """VIMA's `forward`, batch-first: obs tokens [B, T, Q, E] and mask [B, T, Q], action
        tokens [B, Ta, E] (Ta = T or T - 1), the prompt memory [B, Lp, E] (`prompt_memory`) ->
        the output at the last object slot of every step [B, T, E]."""
        batch, steps, per_step, dim = obs_tokens.shape
        stream = obs_tokens.new_zeros(batch, steps, per_step + 1, dim)
        masks = torch.ones(batch, steps, per_step + 1, dtype=torch.bool, device=obs_mask.device)
        stream[:, :, :per_step] = obs_tokens
        masks[:, :, :per_step] = obs_mask
        taken = action_tokens.shape[1]
        stream[:, :taken, per_step] = action_tokens
        length = steps * (per_step + 1) - (steps - taken)
        stream = stream.view(batch, -1, dim)[:, :length]
        masks = masks.view(batch, -1)[:, :length]
        position_ids = (torch.cumsum(masks.long(), dim=1) - 1).clamp(min=0)
        out = self.xattn_gpt(stream, masks, position_ids, memory, memory_mask)
        return out[:, per_step - 1 :: per_step + 1]

    def action_logits(self, features: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Raw logits of every head component from decoder outputs [..., E]."""
        return self.action_decoder(features)
