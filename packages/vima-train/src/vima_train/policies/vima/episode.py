"""Incremental decoding of VIMA's network and CoGeLoT's copy (`VimaPolicy.begin_episode`; the
rules in `vima_train.model.incremental`).

VIMA's stream per step is the observation's tokens then the action token, and `act` fills the
newest step's action slot (zeros, unless given): a valid token after the read slot. VIMA's causal
mask adds -1e4 rather than the dtype's minimum, so a query with no valid token before it (a
padded read slot of a first observation without visible objects) spreads its attention over
the valid tokens after it: that placeholder. So a step runs the previous action's token, the
newest observation's tokens and the placeholder, and keeps all but the placeholder. The
cross-attention decoder keeps the prompt's keys and values per layer; the concatenation GPT
runs the prompt and its separator once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch

from vima_train.data.batch import Observations
from vima_train.model.incremental import IncrementalEpisode
from vima_train.model.layers import KeysValues
from vima_train.policies.vima.decoder import (
    DECODER_POSITIONS,
    Block,
    ConcatGPT,
    CrossAttention,
    XAttnGPT,
    padding_mask,
)
from vima_train.policies.vima.ragged import ends_of

if TYPE_CHECKING:
    from vima_train.model.policy import PromptCache
    from vima_train.policies.vima.policy import VimaPolicy


class VimaEpisode(IncrementalEpisode):
    """One episode of a `VimaPolicy` (VIMA's or CoGeLoT's network), decoded incrementally."""

    def __init__(self, policy: VimaPolicy, cache: PromptCache) -> None:
        decoder = policy.sequence_model
        blocks = decoder.h if isinstance(decoder, XAttnGPT) else decoder.lm.h
        super().__init__(policy, len(blocks))
        if cache.memory.shape[0] != 1:
            raise ValueError(f"an incremental episode is one episode, got {cache.memory.shape[0]}")
        self.policy: VimaPolicy = policy
        self.decoder = decoder
        self.blocks = [cast(Block, block) for block in blocks]
        self.crosses: list[CrossAttention] = []
        self.offset = decoder.position_offset
        end = int(ends_of(cache.valid)[0])  # `decode` cuts the prompt after its last valid token
        self.memory, self.memory_mask = cache.memory[:, :end], cache.valid[:, :end]
        self.crossed: list[KeysValues] = []
        with torch.no_grad():
            if isinstance(decoder, XAttnGPT):
                self.crosses = [cast(CrossAttention, cross) for cross in decoder.xattns]
                self.crossed = [cross.keys_values(self.memory) for cross in self.crosses]
            else:
                self._run_prefix(decoder)

    def _run_prefix(self, decoder: ConcatGPT) -> None:
        """The concatenation GPT's prompt and separator through every layer, kept."""
        separator = decoder.prompt_sep_token.view(1, 1, -1).to(self.memory.dtype)
        x = torch.cat([self.memory, separator], 1)
        mask = torch.cat([self.memory_mask.bool(), self.memory_mask.new_ones(1, 1).bool()], 1)
        self._run(x, mask, x.shape[1])

    def _run(self, x: torch.Tensor, mask: torch.Tensor, settled: int) -> torch.Tensor:
        """New tokens `x` [1, L, E] with mask [1, L] through the decoder after the kept ones;
        the first `settled` are kept. Their outputs [1, L, E]."""
        ids = self.positions(mask)
        kept = 0 if self.past[0] is None else self.past[0].keys.shape[2]
        if kept + x.shape[1] > DECODER_POSITIONS or int(ids.max()) >= DECODER_POSITIONS:
            raise ValueError(
                f"{kept + x.shape[1]} tokens exceed the network's {DECODER_POSITIONS} positions"
            )
        length = x.shape[1]
        causal = (
            torch.ones(length, kept + length, device=x.device).tril(kept).view(1, 1, length, -1)
        )
        keys = torch.cat([mask.new_ones(1, kept), mask], 1)
        if isinstance(self.decoder, XAttnGPT):
            x = self.decoder.drop(x + self.decoder.positions_embed(ids))
        else:
            x = self.decoder.lm.drop(x + self.decoder.lm.positions_embed(ids))
        additive = padding_mask(keys, x.dtype)
        new = []
        for layer, block in enumerate(self.blocks):
            if self.crossed:
                x = self.crosses[layer].attend(x, self.crossed[layer], self.memory_mask)
            x, kv = block.step(x, self.past[layer], causal, additive)
            new.append(kv)
        self.keep(new, mask, mask, settled)
        return x

    def _step(
        self,
        newest: Observations,
        previous: torch.Tensor | None,
        placeholder: torch.Tensor | None,
    ) -> torch.Tensor:
        policy = self.policy
        tokens, token_mask = policy.observation_stream(newest, 1)
        tokens, token_mask = tokens[:, 0], token_mask[:, 0]  # [1, Q, E], [1, Q]
        if placeholder is None:
            placeholder = tokens.new_zeros(1, 14)
        actions = [placeholder] if previous is None else [previous, placeholder]
        action_tokens = policy.action_tokens(torch.stack(actions, 1)).to(tokens.dtype)
        yes = token_mask.new_ones(1, 1)
        parts, masks = [tokens, action_tokens[:, -1:]], [token_mask, yes]
        if previous is not None:
            parts, masks = [action_tokens[:, :1], *parts], [yes, *masks]
        x, mask = torch.cat(parts, 1), torch.cat(masks, 1)
        out = self._run(x, mask, x.shape[1] - 1)
        read = x.shape[1] - 2  # the newest observation's last slot
        return policy.logits_of(out[:, read])
