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

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vima_train.policies.vima.decoder import ConcatGPT, XAttnGPT
from vima_train.policies.vima.patches import PatchEncoder
from vima_train.policies.vima.ragged import drop_dead_tokens, ends_of, row_parts
from vima_train.policies.vima.vision import CROP_WIDTH, ObjEncoder, reference_mlp

#: Action heads in VIMA's order: bins of each component (2-D positions, quaternions).
ACTION_HEADS: dict[str, tuple[int, ...]] = {
    "pose0_position": (50, 100),
    "pose0_rotation": (50, 50, 50, 50),
    "pose1_position": (50, 100),
    "pose1_rotation": (50, 50, 50, 50),
}
#: Fixed sizes of VIMA's network at every model size.
WORD_DIM = 768
ACTION_HIDDEN, HEAD_HIDDEN, HEAD_DEPTH = 256, 512, 2
END_EFFECTORS = 2


@dataclass(frozen=True)
class Conventions:
    """What a network built from VIMA's modules fixes: its action heads (bins per component of
    each pose key), the offset of its positions (`cumsum(mask) - offset`, stream and prompt),
    the widths of the crop ViT and of the prompt's object tokens (None: `embed_dim`), and
    whether the prompt's positions count the tokens it may attend to (`attended`, CoGeLoT:
    one mask for both) or every token present (VIMA, whose prompts mask nothing)."""

    heads: dict[str, tuple[int, ...]]
    position_offset: int
    crop_width: int | None
    prompt_width: int | None
    positions_count_attended: bool = False


#: VIMA's own: 2-D positions, positions from 0, a 768-wide crop ViT and prompt at every size.
VIMA = Conventions(ACTION_HEADS, 1, CROP_WIDTH, WORD_DIM)


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

    def __init__(self, dim: int, heads: dict[str, tuple[int, ...]] = ACTION_HEADS) -> None:
        super().__init__()
        self._embed_dict = nn.ModuleDict(
            {key: ContinuousActionEmbedding(len(bins)) for key, bins in heads.items()}
        )
        self._post_layer = nn.Linear(ACTION_HIDDEN * len(heads), dim)

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

    def __init__(self, dim: int, heads: dict[str, tuple[int, ...]] = ACTION_HEADS) -> None:
        super().__init__()
        self._decoders = nn.ModuleDict(
            {key: MultiCategoricalNet(dim, bins) for key, bins in heads.items()}
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


def interleave(
    obs_tokens: torch.Tensor, obs_mask: torch.Tensor, action_tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """VIMA's stream: each step's observation tokens [B, T, Q, E] (mask [B, T, Q]) then its
    action token [B, Ta, E] (Ta = T or T - 1; actions always valid) -> tokens [B, L, E] and
    mask [B, L], L = T (Q + 1) - (T - Ta)."""
    batch, steps, per_step, dim = obs_tokens.shape
    stream = obs_tokens.new_zeros(batch, steps, per_step + 1, dim)
    masks = torch.ones(batch, steps, per_step + 1, dtype=torch.bool, device=obs_mask.device)
    stream[:, :, :per_step] = obs_tokens
    masks[:, :, :per_step] = obs_mask
    taken = action_tokens.shape[1]
    stream[:, :taken, per_step] = action_tokens
    length = steps * (per_step + 1) - (steps - taken)
    return stream.view(batch, -1, dim)[:, :length], masks.view(batch, -1)[:, :length]


class VimaNetwork(nn.Module):
    """VIMA's `VIMAPolicy` modules with its cfg (`embed_dim`, `xf_n_layers`, `sattn_n_heads`,
    `xattn_n_heads`) and a T5 encoder; methods take VIMA's native inputs, batch-first.
    `conventions` are VIMA's unless a copy of the network (CoGeLoT's) fixes others; `decoder`
    is VIMA's cross-attention one (`xattn`) or CoGeLoT's concatenation GPT (`decoder_only`),
    `visual` object crops (`objects`) or whole-frame patches (`patches`,
    `vima_train.policies.vima.patches`)."""

    def __init__(
        self,
        dim: int,
        layers: int,
        heads: int,
        cross_heads: int,
        t5: Any,
        dropout: float = 0.1,
        conventions: Conventions = VIMA,
        decoder: str = "xattn",
        visual: str = "objects",
    ) -> None:
        super().__init__()
        t5_dim, vocab = int(t5.config.d_model), int(t5.config.vocab_size)
        words = conventions.prompt_width or dim
        if t5_dim != words:
            raise ValueError(f"the prompt needs a {words}-wide T5, got d_model {t5_dim}")
        self.embed_dim = dim
        self.conventions = conventions
        if decoder == "xattn":
            self.xattn_gpt = XAttnGPT(
                dim, layers, heads, cross_heads, dropout, conventions.position_offset
            )
        else:
            self.concat_gpt = ConcatGPT(dim, layers, heads, dropout)
        self.obj_encoder: ObjEncoder | PatchEncoder = (
            ObjEncoder(dim, conventions.crop_width or dim)
            if visual == "objects"
            else PatchEncoder(dim)
        )
        self.end_effector_encoder = nn.Embedding(END_EFFECTORS, 2)
        self.obs_fusion_layer = nn.Linear(dim + 2, dim)
        self.action_encoder = ActionEmbedding(dim, conventions.heads)
        self.action_decoder = ActionDecoder(dim, conventions.heads)
        self.prompt_embedding = WordEmbedding(vocab, words)
        self.t5_prompt_encoder = T5PromptEncoder(t5)
        self.t5_prompt_encoder_post_layer: nn.Module = (
            nn.Identity() if dim == words else nn.Linear(words, dim, bias=False)
        )
        self.prompt_obj_post_layer = reference_mlp(dim, words, words, 2)
        with torch.no_grad():  # VIMA copies T5's input embeddings when it builds the policy
            self.prompt_embedding._embed_layer.weight.copy_(t5.get_input_embeddings().weight)

    @property
    def sequence_model(self) -> XAttnGPT | ConcatGPT:
        """The decoder: `xattn_gpt` (VIMA's) or `concat_gpt` (CoGeLoT's concatenation GPT)."""
        found = self._modules.get("xattn_gpt") or self._modules["concat_gpt"]
        assert isinstance(found, XAttnGPT | ConcatGPT)
        return found

    def prompt_tokens(self, sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Assembled prompt [B, L, W] (words and `prompt_obj_post_layer` outputs) -> the
        decoder's prompt tokens [B, L, E] (T5, then `t5_prompt_encoder_post_layer`)."""
        return self.t5_prompt_encoder_post_layer(self.t5_prompt_encoder(sequence, mask))

    def visual_features(self, *views: dict[str, torch.Tensor]) -> torch.Tensor:
        """The visual encoder on per-view crops and boxes (objects) or frames (patches)."""
        return self.obj_encoder(*views)

    def prompt_objects(self, *views: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokens [..., sum N_v, W] of a prompt image (its objects' crops and boxes, or its
        frames for patches)."""
        return self.prompt_obj_post_layer(self.visual_features(*views))

    def observation_tokens(
        self, *views: dict[str, torch.Tensor], end_effector: torch.Tensor
    ) -> torch.Tensor:
        """Observation tokens [..., N, E] from per-view crops and boxes (or frames) and the end
        effector [...] (`forward_obs_token`)."""
        objects = self.visual_features(*views)
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
        the output at the last object slot of every step [B, T, E].

        The padding is left out (vima_train.policies.vima.ragged; the same outputs): the rows
        run in parts of similar length, each without its dead tokens, its prompt cut to its
        longest."""
        per_step, dim = obs_tokens.shape[2:]
        stream, masks = interleave(obs_tokens, obs_mask, action_tokens)
        length = stream.shape[1]
        read = torch.zeros(length, dtype=torch.bool, device=masks.device)
        read[per_step - 1 :: per_step + 1] = True
        prompt_ends = ends_of(memory_mask.bool())
        parts = row_parts((masks | read).sum(1))
        outs = []
        for rows in parts:
            part, part_masks, places = drop_dead_tokens(stream[rows], masks[rows], read)
            end = int(prompt_ends[rows].max())
            out = self.sequence_model(part, part_masks, memory[rows, :end], memory_mask[rows, :end])
            outs.append(out.gather(1, places.unsqueeze(-1).expand(-1, -1, dim)))
        if len(parts) == 1:
            return outs[0]
        return torch.cat(outs).index_select(0, torch.cat(parts).argsort())

    def action_logits(self, features: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Raw logits of every head component from decoder outputs [..., E]."""
        return self.action_decoder(features)
