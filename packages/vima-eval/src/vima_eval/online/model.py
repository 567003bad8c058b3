"""The policy's side of an online step: encode an episode's prompt once, then the greedy next
action, for one episode (`LocalModel`, in the worker) or a batch of them (the policy server).
Steps are decoded incrementally (`vima_train.model.incremental`: each step encodes and decodes
its new tokens only, the same logits); the whole-history path stays for reference.

A batch is made only of requests whose tensors have the same shapes (`shape_key`), concatenated
along the batch axis: nothing is padded. Padding would not be exact: the readout of VIMA-style
networks reads the last object slot of a step, padded or not, so an episode's action would depend
on how many objects the other episodes in the batch have. Same-shaped batches are exact up to
the float rounding of the batch size's kernels (logits within 1e-6, the same argmax; tested).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import fields, is_dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from vima_train.config import ModelConfig
from vima_train.data.batch import Observations, Prompt
from vima_train.model.incremental import EpisodeDecoder, begin_episode
from vima_train.model.policy import PromptCache

T = TypeVar("T")
Item = TypeVar("Item")


class Model(Protocol):
    """What a `PolicyAgent` asks of the policy (`LocalModel` or the policy server's client)."""

    config: ModelConfig
    meta: dict[str, Any]

    def step(
        self, prompt: Prompt | None, mask: str, observations: Observations, actions: torch.Tensor
    ) -> np.ndarray:
        """The continuous 14-axis next action; `prompt` starts a new episode (encoded with the
        policy's `prompt_mask` set to `mask`), None continues the current one."""
        ...


def to_device(batch: T, device: str) -> T:
    """A `Prompt` / `Observations` / `PromptCache` with its tensors on `device`."""
    if device == "cpu":
        return batch
    moved = {
        f.name: getattr(batch, f.name).to(device)
        for f in fields(batch)  # type: ignore[arg-type]
        if isinstance(getattr(batch, f.name), torch.Tensor)
    }
    return replace(batch, **moved)  # type: ignore[type-var]


def encode(policy: Any, prompt: Prompt, mask: str, device: str) -> PromptCache:
    """The prompt batch encoded with `policy.prompt_mask` = `mask` (restored after)."""
    trained, policy.prompt_mask = policy.prompt_mask, mask
    try:
        with torch.inference_mode():
            cache: PromptCache = policy.encode_prompt(to_device(prompt, device))
    finally:
        policy.prompt_mask = trained
    return cache


def act(
    policy: Any,
    episode: EpisodeDecoder,
    observations: Observations,
    actions: torch.Tensor,
    device: str,
) -> np.ndarray:
    """Continuous actions [B, 14] of a batch from its episodes' decoder (`begin_episode`: one
    episode's incremental decoder, or `FullHistory` of a batch), the greedy bins decoded by the
    policy's own `bins_to_actions` (each family maps its bins the way it was trained)."""
    with torch.inference_mode():
        bins = episode.act(to_device(observations, device), actions.to(device))
    return np.asarray(policy.bins_to_actions(bins).cpu().numpy())


class LocalModel:
    """The policy in this process, one episode at a time: the prompt encoded once, each step
    decoded incrementally (`vima_train.model.incremental`)."""

    #: Decode each step's new tokens only; False: the whole history every step (the reference
    #: path, which the benchmarks compare against).
    incremental = True

    def __init__(self, policy: Any, device: str = "cpu") -> None:
        self.policy = policy
        self.config: ModelConfig = policy.config
        self.meta: dict[str, Any] = policy.checkpoint_meta or {}
        self.device = device
        self._episode: EpisodeDecoder | None = None

    def step(
        self, prompt: Prompt | None, mask: str, observations: Observations, actions: torch.Tensor
    ) -> np.ndarray:
        """See `Model.step`."""
        if prompt is not None:
            self._episode = None
            cache = encode(self.policy, prompt, mask, self.device)
            self._episode = begin_episode(self.policy, cache, self.incremental)
        if self._episode is None:
            raise ValueError("no episode: the first step of an episode brings its prompt")
        return act(self.policy, self._episode, observations, actions, self.device)[0]


def shape_key(*items: Any) -> Hashable:
    """The shapes (and dtypes) of every tensor or array in `items` (dataclasses, dicts,
    tensors, arrays, None): requests with equal keys can be concatenated along the batch
    axis."""
    key: list[Any] = []
    for item in items:
        if item is None:
            key.append(None)
        elif is_dataclass(item):
            key.append(shape_key(*(getattr(item, f.name) for f in fields(item))))
        elif isinstance(item, dict):
            key.append(tuple((name, shape_key(item[name])) for name in sorted(item)))
        else:
            key.append((tuple(item.shape), str(item.dtype)))
    return tuple(key)


def concatenate(items: Sequence[T]) -> T:
    """Dataclasses (or tensors) of equal shapes concatenated along the batch axis."""
    first = items[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(list(items))  # type: ignore[arg-type, return-value]
    values = {}
    for f in fields(first):  # type: ignore[arg-type]
        parts = [getattr(item, f.name) for item in items]
        values[f.name] = None if parts[0] is None else torch.cat(parts)
    return replace(first, **values)  # type: ignore[type-var]


def row(batch: T, index: int) -> T:
    """Row `index` of a batched dataclass, as a batch of one."""
    values = {}
    for f in fields(batch):  # type: ignore[arg-type]
        value = getattr(batch, f.name)
        values[f.name] = None if value is None else value[index : index + 1]
    return replace(batch, **values)  # type: ignore[type-var]


def group(items: Sequence[Item], key: Callable[[Item], Hashable]) -> list[list[int]]:
    """Indices of `items` grouped by `key`, in the order of each group's first item."""
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)
    return list(groups.values())


def to_arrays(batch: Any) -> dict[str, np.ndarray | None]:
    """A `Prompt` / `Observations` as numpy arrays (sent between processes by value)."""
    return {
        f.name: None if getattr(batch, f.name) is None else getattr(batch, f.name).numpy()
        for f in fields(batch)
    }


def from_arrays(kind: type[T], arrays: dict[str, np.ndarray | None]) -> T:
    """`to_arrays`'s inverse."""
    return kind(**{k: None if v is None else torch.from_numpy(v) for k, v in arrays.items()})
