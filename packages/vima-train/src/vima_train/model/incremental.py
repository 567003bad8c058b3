"""Incremental decoding for acting online: each step of an episode pays for its new tokens only.

`act` re-reads an episode's whole history at every step: every observation through the visual
encoder, the whole observation/action stream through the decoder. The decoder is causal, so the
outputs and attention keys of the tokens already seen do not change when tokens are appended;
an `IncrementalEpisode` keeps, per decoder layer, the keys and values of the settled tokens
(and, for the cross-attention decoder, the prompt's), encodes the newest observation only and
runs the decoder on what is new: the previous step's action token, the newest observation's
tokens (and the readout token). Same logits as `act` (tested to 1e-5 on the sample episodes).

What makes the saved tokens equal to what `act` would recompute:
- a token is kept only once its input, position and validity are final ("settled"); a token
  whose validity changes later is run again (vima-train's readout token of a step without a
  visible object becomes valid with the step's action; VIMA's action placeholder);
- positions count valid tokens (`cumsum(mask)`): the count of the kept ones carries over;
- masked tokens are never attended to (their weight is exactly 0), so only valid tokens' keys
  are kept; the newest step runs whole, padded slots included, as `act` runs it (the readout of
  the last object slot may be a padded slot; padding an earlier step to a later step's object
  count changes no valid token);
- the newest observation is cut from the collated history `act` would get, so its padding is
  the one `act` sees.

Every family's episode has the same interface: `logits` / `act` take what `act` takes (every
observation seen so far, the actions taken) for one episode, and refuse a step that is not the
next one of the episode (an episode switch needs a new episode with its prompt).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import fields, replace
from typing import Any, Protocol

import torch

from vima_train.data.batch import Observations
from vima_train.model.layers import KeysValues, causal_allowed


class EpisodeDecoder(Protocol):
    """What acting asks of an episode's decoder (`IncrementalEpisode` or `FullHistory`)."""

    def logits(self, observations: Observations, actions: torch.Tensor) -> torch.Tensor:
        """Logits [B, A, C] of the next action (`act_logits`' inputs)."""
        ...

    def act(self, observations: Observations, actions: torch.Tensor) -> torch.Tensor:
        """Greedy bins [B, A] of the next action."""
        ...


def newest_observation(observations: Observations, index: int) -> Observations:
    """Observation `index` of a collated history, as a history of one step."""
    values = {}
    for f in fields(observations):
        value = getattr(observations, f.name)
        values[f.name] = None if value is None else value[:, index : index + 1]
    return replace(observations, **values)  # type: ignore[arg-type]


class IncrementalEpisode(ABC):
    """One episode's decoder state; `logits` / `act` per step (what `act` computes).

    Subclasses build the step's new tokens and run their decoder (`_step`) with the kept keys
    and values (`past`, one per layer, of valid tokens only) and the count of tokens the
    positions have counted (`counted`).
    """

    #: `cumsum(mask) - offset` positions of the family's decoder stream.
    offset = 1

    def __init__(self, policy: Any, layers: int) -> None:
        if policy.training:
            raise ValueError("incremental decoding needs the policy in eval mode")
        if policy.shuffle_objects:
            raise ValueError(
                "incremental decoding cannot follow shuffle_objects (each act draws new orders "
                "for the whole history): switch it off or use act"
            )
        self.policy = policy
        self.steps = 0
        self.past: list[KeysValues | None] = [None] * layers
        self.counted = 0

    def act(self, observations: Observations, actions: torch.Tensor) -> torch.Tensor:
        """Greedy bins [1, A] of the episode's next action (`act`'s)."""
        return self.logits(observations, actions).argmax(-1)

    @torch.no_grad()
    def logits(self, observations: Observations, actions: torch.Tensor) -> torch.Tensor:
        """Logits [1, A, C] of the next action: `observations` hold the t observations seen so
        far (this episode's next step: one more than the last call), `actions` [1, >= t - 1,
        14] the actions taken (as for `act`); only observation t and action t - 1 are read."""
        rows = observations.step_mask.shape[0]
        if rows != 1 or actions.shape[0] != 1:
            raise ValueError(f"an incremental episode is one episode, got {rows} rows")
        seen = int(observations.step_mask.sum())
        if seen != self.steps + 1:
            raise ValueError(
                f"observations of {seen} steps given at step {self.steps + 1} of the episode: "
                "each step brings one new observation; a new episode starts from its prompt"
            )
        if actions.shape[1] < seen - 1:
            raise ValueError(f"{actions.shape[1]} actions for {seen} observations")
        previous = actions[:, seen - 2] if seen > 1 else None
        # `act` pads the actions to one per observation: the newest step's is a placeholder
        placeholder = actions[:, seen - 1] if actions.shape[1] >= seen else None
        logits = self._step(newest_observation(observations, seen - 1), previous, placeholder)
        self.steps += 1
        return logits

    @abstractmethod
    def _step(
        self,
        newest: Observations,
        previous: torch.Tensor | None,
        placeholder: torch.Tensor | None,
    ) -> torch.Tensor:
        """Logits [1, A, C] of the step with observation `newest` [1, 1, ...], after action
        `previous` [1, 14] (None at the first step); `placeholder` [1, 14] is the newest
        step's own action slot as `act` fills it (None: zeros)."""

    def positions(self, counted: torch.Tensor) -> torch.Tensor:
        """Positions [1, L] of new tokens after the kept ones; `counted` [1, L] says which
        the positions count."""
        total = self.counted + counted.long().cumsum(-1)
        return (total - self.offset).clamp(min=0)

    def allowed(self, valid: torch.Tensor) -> torch.Tensor:
        """[1, L, kept + L]: new token i may see every kept token and new token j <= i when
        j is valid."""
        kept = 0 if self.past[0] is None else self.past[0].keys.shape[2]
        ones = valid.new_ones(1, valid.shape[1], kept)
        return torch.cat([ones, causal_allowed(valid)], 2)

    def keep(
        self, new: list[KeysValues], valid: torch.Tensor, counted: torch.Tensor, settled: int
    ) -> None:
        """Keep the first `settled` new tokens: the keys and values of the valid ones (`valid`
        [1, L]), and the count of those the positions count (`counted` [1, L])."""
        index = valid[0, :settled].nonzero().squeeze(1)
        for layer, kv in enumerate(new):
            taken = kv.taken(index)
            past = self.past[layer]
            self.past[layer] = taken if past is None else past.extended(taken)
        self.counted += int(counted[0, :settled].sum())


class FullHistory:
    """The reference path behind the same interface: the policy's `act` over the whole
    history at every step (what training's teacher forcing computes)."""

    def __init__(self, policy: Any, cache: Any) -> None:
        self.policy, self.cache = policy, cache

    def logits(self, observations: Observations, actions: torch.Tensor) -> torch.Tensor:
        """Logits [B, A, C] of the next action (`act_logits`)."""
        logits: torch.Tensor = self.policy.act_logits(self.cache, observations, actions)
        return logits

    def act(self, observations: Observations, actions: torch.Tensor) -> torch.Tensor:
        """Greedy bins [B, A] (`act`)."""
        bins: torch.Tensor = self.policy.act(self.cache, observations, actions)
        return bins


def begin_episode(policy: Any, cache: Any, incremental: bool = True) -> EpisodeDecoder:
    """An episode's decoder from its encoded prompt: `policy.begin_episode(cache)` (new tokens
    only per step), or with `incremental=False` the whole history every step (`FullHistory`)."""
    if incremental:
        decoder: EpisodeDecoder = policy.begin_episode(cache)
        return decoder
    return FullHistory(policy, cache)
