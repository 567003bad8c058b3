"""Transformer building blocks on `scaled_dot_product_attention` (pre-LayerNorm)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class KeysValues:
    """Attention keys and values [B, H, L, D / H] of L tokens."""

    keys: torch.Tensor
    values: torch.Tensor

    def extended(self, new: KeysValues) -> KeysValues:
        """These tokens' keys and values followed by `new`'s."""
        return KeysValues(
            torch.cat([self.keys, new.keys], 2), torch.cat([self.values, new.values], 2)
        )

    def taken(self, index: torch.Tensor) -> KeysValues:
        """The tokens at `index` [K] (of the length axis)."""
        return KeysValues(self.keys[:, :, index], self.values[:, :, index])


def attention_bias(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive mask [B, 1, Lq, Lk] from a boolean `allowed` [B, Lq, Lk] (finite minimum, so a
    row with nothing allowed gives no NaN; `Attention` zeroes such rows' output)."""
    bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return bias.masked_fill(~allowed, torch.finfo(dtype).min).unsqueeze(1)


def causal_allowed(valid: torch.Tensor) -> torch.Tensor:
    """[B, L, L] boolean: query i may see key j <= i when key j is valid."""
    length = valid.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=valid.device).tril()
    return causal.unsqueeze(0) & valid.unsqueeze(1)


def positions(valid: torch.Tensor) -> torch.Tensor:
    """Position ids counting valid tokens from 0 (padding repeats the previous id)."""
    return (valid.long().cumsum(-1) - 1).clamp(min=0)


class Attention(nn.Module):
    """Multi-head attention of queries `x` over `memory`; queries allowed nothing get 0."""

    def __init__(self, dim: int, heads: int, dropout: float, memory_dim: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(memory_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        return self.attend(x, self.keys_values(memory), allowed)

    def keys_values(self, memory: torch.Tensor) -> KeysValues:
        """Keys and values [B, H, L, D / H] of `memory` [B, L, D] (kept by incremental
        decoding for the tokens already seen)."""
        batch, length = memory.shape[:2]
        head = self.key_value.out_features // (2 * self.heads)
        kv = self.key_value(memory).view(batch, length, 2, self.heads, head)
        k, v = kv.unbind(2)
        return KeysValues(k.transpose(1, 2), v.transpose(1, 2))

    def attend(self, x: torch.Tensor, memory: KeysValues, allowed: torch.Tensor) -> torch.Tensor:
        """Queries `x` [B, Lq, D] over `memory`'s keys and values; `allowed` [B, Lq, Lk]."""
        batch, length, dim = x.shape
        q = self.query(x).view(batch, length, self.heads, dim // self.heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(
            q,
            memory.keys,
            memory.values,
            attn_mask=attention_bias(allowed, q.dtype),
            dropout_p=self.dropout if self.training else 0.0,
        )
        out = out.transpose(1, 2).reshape(batch, length, dim)
        return self.out(out) * allowed.any(-1, keepdim=True).to(out.dtype)


class FeedForward(nn.Sequential):
    """Linear - GELU - Linear."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__(nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))


class Block(nn.Module):
    """Pre-LN block: [cross-attention to memory], causal/masked self-attention, feed-forward."""

    def __init__(self, dim: int, heads: int, mult: int, dropout: float, cross: bool = False):
        super().__init__()
        self.cross = Attention(dim, heads, dropout) if cross else None
        self.norm_cross = nn.LayerNorm(dim) if cross else None
        self.norm_self, self.attend = nn.LayerNorm(dim), Attention(dim, heads, dropout)
        self.norm_ff, self.ff = nn.LayerNorm(dim), FeedForward(dim, mult)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        allowed: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_allowed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        crossed = None
        if self.cross is not None:
            assert memory is not None and memory_allowed is not None
            crossed = (self.cross.keys_values(memory), memory_allowed)
        return self.step(x, allowed, None, crossed)[0]

    def step(
        self,
        x: torch.Tensor,
        allowed: torch.Tensor,
        past: KeysValues | None,
        crossed: tuple[KeysValues, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, KeysValues]:
        """The block on new tokens `x` [B, L, D] after `past` tokens (their self-attention
        keys and values, or None): `allowed` [B, L, past + L] over both; `crossed` the
        cross-attention memory's keys and values and its `allowed` [B, L, Lm]. Returns the
        outputs and the new tokens' keys and values."""
        if self.cross is not None and self.norm_cross is not None:
            assert crossed is not None, "a cross-attention block needs its memory"
            x = x + self.drop(self.cross.attend(self.norm_cross(x), *crossed))
        h = self.norm_self(x)
        new = self.attend.keys_values(h)
        seen = new if past is None else past.extended(new)
        x = x + self.drop(self.attend.attend(h, seen, allowed))
        return x + self.drop(self.ff(self.norm_ff(x))), new


class Encoder(nn.Module):
    """Stack of self-attention blocks with a final LayerNorm."""

    def __init__(self, dim: int, layers: int, heads: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, mult, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, scheme: str = "gpt") -> None:
    """Zero biases, unit LayerNorms; `gpt` (the published models): N(0, 0.02) linear and
    embedding weights; `fan_in`: linear weights N(0, 1 / fan_in) (unit gain at any width) and
    N(0, 1) embeddings (positions as strong as unit-scale tokens)."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        fan_in = module.weight[0].numel()
        nn.init.normal_(module.weight, std=0.02 if scheme == "gpt" else fan_in**-0.5)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02 if scheme == "gpt" else 1.0)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
