"""VIMA's decoder, module for module (vimalabs/VIMA `vima/nn/seq_modeling/xattn_gpt/`):
post-LayerNorm GPT blocks with gated (GEGLU) MLPs, a causal mask that adds -1e4 (not -inf), a
cross-attention layer with its own gated feed-forward before every block, no final LayerNorm,
learned positions `cumsum(mask) - offset` (VIMA: 1; CoGeLoT's copy: 0)."""

from __future__ import annotations

import math

import torch
from torch import nn

from vima_train.model.layers import KeysValues

#: Rows of the stream's and the prompt's position tables.
DECODER_POSITIONS, PROMPT_POSITIONS = 512, 256
#: Rows of the word table OpenAI GPT's model carries (unused: inputs are embeddings).
GPT_VOCAB = 40478


def position_ids(mask: torch.Tensor, offset: int, rows: int) -> torch.Tensor:
    """Positions `cumsum(mask) - offset` [B, L] of a mask [B, L] (clamped at 0, where VIMA would
    index row -1 and fail), refused past a table of `rows` rows."""
    ids = (torch.cumsum(mask.long(), dim=1) - offset).clamp(min=0)
    if mask.shape[1] > rows or (mask.shape[1] and int(ids.max()) >= rows):
        raise ValueError(f"{mask.shape[1]} tokens exceed the network's {rows} positions")
    return ids


def padding_mask(masks: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive key mask [B, 1, 1, L] of a validity mask [B, L]: 0 or the dtype's min."""
    return (1.0 - masks[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


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
    """Causal self-attention of a GPT block; `bias` is the lower-triangular mask (saved in
    VIMA's cross-attention decoder, not in transformers' GPT that the concatenation one uses)."""

    bias: torch.Tensor

    def __init__(self, dim: int, heads: int, dropout: float, saved_mask: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)
        tril = torch.tril(torch.ones(DECODER_POSITIONS, DECODER_POSITIONS))
        shape = (1, 1, DECODER_POSITIONS, DECODER_POSITIONS)
        self.register_buffer("bias", tril.view(shape), persistent=saved_mask)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        return self.step(x, None, self.bias[:, :, :length, :length], additive_mask)[0]

    def step(
        self,
        x: torch.Tensor,
        past: KeysValues | None,
        causal: torch.Tensor,
        additive_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, KeysValues]:
        """New tokens `x` [B, L, E] after `past` tokens (their keys and values, or None):
        `causal` [1, 1, L, past + L] is 1 where a token may look and `additive_mask` [B, 1, 1,
        past + L] the keys' padding; the outputs and the new tokens' keys and values."""
        batch, length, dim = x.shape
        query, key, value = self.c_attn(x).split(dim, dim=2)
        shape = (batch, length, self.heads, dim // self.heads)
        query = query.view(shape).permute(0, 2, 1, 3)
        new = KeysValues(key.view(shape).permute(0, 2, 1, 3), value.view(shape).permute(0, 2, 1, 3))
        seen = new if past is None else past.extended(new)
        weights = torch.matmul(query, seen.keys.transpose(-1, -2)) / math.sqrt(shape[-1])
        causal = causal.to(weights.dtype)
        weights = weights * causal + -1e4 * (1 - causal) + additive_mask
        weights = self.attn_dropout(torch.softmax(weights, dim=-1))
        out = torch.matmul(weights, seen.values).permute(0, 2, 1, 3).contiguous()
        return self.resid_dropout(self.c_proj(out.view(batch, length, dim))), new


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

    def __init__(self, dim: int, heads: int, dropout: float, saved_mask: bool = True) -> None:
        super().__init__()
        self.attn = SelfAttention(dim, heads, dropout, saved_mask)
        self.ln_1 = nn.LayerNorm(dim)
        self.mlp = GatedMLP(dim, dropout)
        self.ln_2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        return self.step(x, None, self.attn.bias[:, :, :length, :length], additive_mask)[0]

    def step(
        self,
        x: torch.Tensor,
        past: KeysValues | None,
        causal: torch.Tensor,
        additive_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, KeysValues]:
        """The block on new tokens after `past` ones (`SelfAttention.step`)."""
        attended, new = self.attn.step(x, past, causal, additive_mask)
        n = self.ln_1(x + attended)
        return self.ln_2(n + self.mlp(n)), new


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
        return self.attend(x, self.keys_values(memory), memory_mask)

    def keys_values(self, memory: torch.Tensor) -> KeysValues:
        """Keys and values [B, H, Lp, E / H] of the prompt `memory` [B, Lp, E] (kept for an
        episode by incremental decoding)."""
        keys, values = (self._heads(part) for part in self.key_value(memory).chunk(2, dim=-1))
        return KeysValues(keys, values)

    def attend(
        self, x: torch.Tensor, memory: KeysValues, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """Queries `x` [B, L, E] over the memory's keys and values (mask [B, Lp])."""
        queries = self._heads(self.query(self.layernorm(x)))
        scores = torch.matmul(queries, memory.keys.transpose(-1, -2)) / math.sqrt(queries.shape[-1])
        inverted = (1.0 - memory_mask[:, None, None, :].to(scores.dtype)) * torch.finfo(
            scores.dtype
        ).min
        probs = torch.softmax(scores + inverted, dim=-1)
        context = torch.matmul(probs, memory.values).permute(0, 2, 1, 3).contiguous()
        attended = self.attention_out(context.view(*x.shape)) + x
        hidden = self.act(self.linear1(self.ln(attended))) * self.gated_layer(attended)
        return self.linear2(hidden) + attended


class XAttnGPT(nn.Module):
    """The decoder: learned positions for the stream (512) and the prompt (256), then per layer
    a cross-attention over the prompt and a GPT block; no final LayerNorm."""

    position_ids: torch.Tensor
    xattn_position_ids: torch.Tensor

    def __init__(
        self,
        dim: int,
        layers: int,
        heads: int,
        cross_heads: int,
        dropout: float,
        position_offset: int = 1,
    ) -> None:
        super().__init__()
        self.position_offset = position_offset
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

    def positions_of(self, mask: torch.Tensor, rows: int) -> torch.Tensor:
        """`position_ids` with this decoder's offset."""
        return position_ids(mask, self.position_offset, rows)

    def forward(
        self,
        tokens: torch.Tensor,
        masks: torch.Tensor,
        prompt: torch.Tensor,
        prompt_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Batch-first: tokens [B, L, E], masks [B, L]; `prompt` [B, Lp, E] already holds its
        positions (`prompt_memory`)."""
        x = self.drop(tokens + self.positions_embed(self.positions_of(masks, DECODER_POSITIONS)))
        additive = padding_mask(masks, x.dtype)
        for self_attention, cross in zip(self.h, self.xattns, strict=True):
            x = cross(x, prompt, prompt_mask)
            x = self_attention(x, additive)
        return x

    def prompt_memory(self, prompt: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
        """The prompt [B, Lp, E] plus its positions (`positions_of`)."""
        return prompt + self.xattn_positions_embed(self.positions_of(prompt_mask, PROMPT_POSITIONS))


class GPTModel(nn.Module):
    """transformers' OpenAI GPT as VIMA's `HFGPT` builds it: an unused word table, learned
    positions, post-LayerNorm GEGLU blocks (the same `Block`s, causal mask not saved)."""

    position_ids: torch.Tensor

    def __init__(self, dim: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.tokens_embed = nn.Embedding(GPT_VOCAB, dim)
        self.positions_embed = nn.Embedding(DECODER_POSITIONS, dim)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(dim, heads, dropout, saved_mask=False) for _ in range(layers))
        self.register_buffer("position_ids", torch.arange(DECODER_POSITIONS))


class ConcatGPT(nn.Module):
    """CoGeLoT's `VIMAGPTDecoderOnly`: the prompt tokens, a learned separator and the stream in
    one causal GPT, positions `cumsum(mask) - 1` over all three; returns the stream's outputs.
    Same interface as `XAttnGPT` (`prompt_memory`, then `forward`)."""

    def __init__(self, dim: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.lm = GPTModel(dim, layers, heads, dropout)
        self.prompt_sep_token = nn.Parameter(torch.zeros(dim))
        self.position_offset = 1
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

    def prompt_memory(self, prompt: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
        """The prompt as it is (its positions come with the stream's)."""
        return prompt

    def forward(
        self,
        tokens: torch.Tensor,
        masks: torch.Tensor,
        prompt: torch.Tensor,
        prompt_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Batch-first stream [B, L, E] and mask [B, L] after the prompt [B, Lp, E] and its
        mask -> the outputs at the stream's tokens [B, L, E]."""
        batch = tokens.shape[0]
        separator = self.prompt_sep_token.view(1, 1, -1).expand(batch, 1, -1)
        x = torch.cat([prompt, separator.to(prompt.dtype), tokens], dim=1)
        ones = torch.ones(batch, 1, dtype=torch.bool, device=masks.device)
        mask = torch.cat([prompt_mask.bool(), ones, masks.bool()], dim=1)
        ids = position_ids(mask, self.position_offset, DECODER_POSITIONS)
        x = self.lm.drop(x + self.lm.positions_embed(ids))
        additive = padding_mask(mask, x.dtype)
        for block in self.lm.h:
            x = block(x, additive)
        return x[:, -tokens.shape[1] :]
