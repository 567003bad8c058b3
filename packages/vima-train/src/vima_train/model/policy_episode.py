"""Incremental decoding of vima-train's own policy (`Policy.begin_episode`; the rules in
`vima_train.model.incremental`).

A step's new tokens: the readout token of the previous step when it was not yet valid (a step
without a visible object: it becomes valid with the step's action), the previous action's token,
the newest observation's tokens and, with `decoder.readout=token`, its readout token. The
newest step's action token is masked in `act` and after every token read, so it is left out.
The cross-attention decoder keeps the prompt memory's keys and values per layer; the
concatenation decoder runs the prompt and its separator once, keeping their keys and values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch

from vima_train.data.batch import Observations
from vima_train.model.incremental import IncrementalEpisode
from vima_train.model.layers import Block, KeysValues, causal_allowed

if TYPE_CHECKING:
    from vima_train.model.policy import Policy, PromptCache


class PolicyEpisode(IncrementalEpisode):
    """One episode of a vima-train `Policy`, decoded incrementally."""

    def __init__(self, policy: Policy, cache: PromptCache) -> None:
        super().__init__(policy, len(policy.blocks))
        if cache.memory.shape[0] != 1:
            raise ValueError(f"an incremental episode is one episode, got {cache.memory.shape[0]}")
        self.policy: Policy = policy
        self.cache = cache
        self.blocks = [cast(Block, block) for block in policy.blocks]
        self.cross = policy.config.decoder.kind == "xattn"
        self.memory: list[KeysValues] = []
        #: Tokens before the stream (the concatenation decoder's prompt and separator).
        self.prefix = 0
        self.pending_readout = False  # the last step's readout token is to be run again
        with torch.no_grad():
            if self.cross:
                for block in self.blocks:
                    assert block.cross is not None
                    self.memory.append(block.cross.keys_values(cache.memory))
            else:
                self._run_prefix()

    def _run_prefix(self) -> None:
        """The concatenation decoder's prompt and separator through every layer, kept."""
        policy, cache = self.policy, self.cache
        dim = cache.memory.shape[-1]
        separator = policy.separator.view(1, 1, dim).to(cache.memory.dtype)
        x = torch.cat([cache.memory, separator], 1)
        ones = cache.present.new_ones(1, 1)
        present, valid = torch.cat([cache.present, ones], 1), torch.cat([cache.valid, ones], 1)
        self.prefix = x.shape[1]
        self._check_length(0)
        x = policy.drop(x + policy.position(self.positions(present)))
        allowed = causal_allowed(valid)
        new = []
        for block in self.blocks:
            x, kv = block.step(x, allowed, None)
            new.append(kv)
        self.keep(new, valid, present, self.prefix)

    def _check_length(self, stream: int) -> None:
        """`decode`'s refusal of a stream (and prompt) longer than the position table."""
        rows = self.policy.position.num_embeddings
        if self.cross and stream > rows:
            raise ValueError(f"{stream} observation/action tokens exceed decoder.max_length {rows}")
        if not self.cross and self.prefix + stream > rows:
            raise ValueError(
                f"{self.prefix + stream} prompt + observation/action tokens exceed "
                f"decoder.max_length {rows}"
            )

    def _step(
        self,
        newest: Observations,
        previous: torch.Tensor | None,
        placeholder: torch.Tensor | None,
    ) -> torch.Tensor:
        policy, cache = self.policy, self.cache
        tokens, valid, scene = policy.encode_observations(newest, 1)
        tokens, valid = tokens[:, 0], valid[:, 0]  # [1, Q, D], [1, Q]
        per_step, dim = tokens.shape[1:]
        readout = None if policy.readout is None else policy.readout.to(tokens.dtype)
        parts: list[torch.Tensor] = []
        masks: list[torch.Tensor] = []
        yes = valid.new_ones(1, 1)
        if self.pending_readout:
            assert readout is not None
            parts.append(readout.view(1, 1, dim))
            masks.append(yes)
        if previous is not None:
            parts.append(policy.action_encoder(previous).to(tokens.dtype).view(1, 1, dim))
            masks.append(yes)
        start = sum(part.shape[1] for part in parts)  # of the newest observation's tokens
        parts.append(tokens)
        masks.append(valid)
        read = start + per_step - 1
        readout_valid = True
        if readout is not None:
            readout_valid = bool(valid.any())
            parts.append(readout.view(1, 1, dim))
            masks.append(valid.any(-1, keepdim=True))
            read += 1
        step_tokens = per_step + 1 + int(readout is not None)
        self._check_length(self.steps * step_tokens + step_tokens)
        x = torch.cat(parts, 1)
        mask = torch.cat(masks, 1)
        x = policy.drop(x + policy.position(self.positions(mask)))
        allowed = self.allowed(mask)
        memory_allowed = cache.valid.unsqueeze(1).expand(-1, x.shape[1], -1)
        new = []
        for layer, block in enumerate(self.blocks):
            crossed = (self.memory[layer], memory_allowed) if self.cross else None
            x, kv = block.step(x, allowed, self.past[layer], crossed)
            new.append(kv)
        x = policy.norm(x)
        steps = torch.zeros(1, dtype=torch.long, device=x.device)
        logits = policy.action_logits(
            x[:, read],
            x[:, start : start + per_step],
            valid,
            None if scene is None else scene.at(steps, steps),
            cache,
        )
        settled = x.shape[1] - int(not readout_valid)
        self.keep(new, mask, mask, settled)
        self.pending_readout = not readout_valid
        return logits
