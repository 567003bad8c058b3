"""What offline and online evaluation both feed the policy: an episode's record arrays under a
perturbation, and the evaluation switches of the policy.

Prompt perturbations re-tokenize the new prompt with the tokenizer recorded in the checkpoint
and keep the prompt images it still mentions (a perturbation never adds one); `shuffle_objects`
permutes every observation's object slots with the per-episode order of
`vima_schema.perturbations.object_orders`; the prompt masks set the policy's `prompt_mask`
(`masked_prompt`). During evaluation the training-time object shuffle of obj-shuffle
checkpoints is off (`evaluation_switches`): it draws from torch's global generator and would
make results depend on the run, the worker count and the step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from vima_schema.layout import placeholders
from vima_schema.perturbations import (
    Instruction,
    Perturbation,
    PromptMask,
    Vocabulary,
    object_orders,
)
from vima_tokenize.preprocessed import VIEW_NAMES
from vima_tokenize.text import encode_prompt
from vima_train.config import ModelConfig
from vima_train.policies import AnyPolicy


def view_arrays(prefix: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Record array names `<prefix>_<kind>_<view>` of every kind for both views."""
    return tuple(f"{prefix}_{kind}_{view}" for kind in kinds for view in VIEW_NAMES)


_PROMPT_ARRAYS = view_arrays("prompt", ("crops", "bbox", "mask", "frames"))
_OBJECT_ARRAYS = view_arrays("obs", ("crops", "bbox", "mask"))


class PatchImageMask(StrEnum):
    """What `mask_visual` / `mask_both` do to a patch model's prompt images."""

    mask = "mask"  # the image tokens are masked, as for object models (default)
    ignore = "ignore"  # CoGeLoT: its mask only reaches object crops, patch images stay visible


@dataclass
class EpisodeArrays:
    """One episode's record arrays and instruction (plus its difficulty and seed)."""

    arrays: dict[str, Any]
    instruction: Instruction
    difficulty: str
    episode_seed: int


def checkpoint_id(path: Path) -> str:
    """`<file name>@<first 12 hex digits of its SHA-256>`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return f"{path.name}@{digest.hexdigest()[:12]}"


def gobbledygook_vocabulary(config: ModelConfig) -> Vocabulary:
    """Where `gobbledygook_tokens` draws from for a model: the tokenizer's own tokens for a T5
    prompt encoder (t5-base's vocabulary, as CoGeLoT), else the shipped English words."""
    return Vocabulary.tokenizer if config.prompt_encoder.kind == "t5" else Vocabulary.english


def masked_prompt(mask: PromptMask, visual_kind: str, patch_image_mask: PatchImageMask) -> str:
    """The policy's `prompt_mask` for a perturbation's mask on a model with `visual_kind`."""
    if visual_kind != "patches" or patch_image_mask is PatchImageMask.mask:
        return mask.value
    return {PromptMask.visual: PromptMask.none, PromptMask.both: PromptMask.text}.get(
        mask, mask
    ).value


@contextmanager
def evaluation_switches(policy: AnyPolicy) -> Iterator[AnyPolicy]:
    """The policy with its training-time object shuffle off; its prompt mask and shuffle are
    restored afterwards."""
    trained_shuffle, trained_mask = policy.shuffle_objects, policy.prompt_mask
    policy.shuffle_objects = False
    try:
        yield policy
    finally:
        policy.shuffle_objects, policy.prompt_mask = trained_shuffle, trained_mask


def perturbed_arrays(
    episode: EpisodeArrays,
    perturbation: Perturbation,
    seed: int,
    tokenizer: Any,
    vocabulary: Vocabulary = Vocabulary.english,
) -> tuple[dict[str, Any], Instruction]:
    """The record arrays of an episode under a perturbation (the input arrays are not changed)."""
    after = perturbation(episode.instruction, seed, tokenizer, vocabulary)
    arrays = episode.arrays
    if after.prompt != episode.instruction.prompt:
        arrays = dict(arrays)
        encoded = encode_prompt(tokenizer, after.prompt)
        before = placeholders(episode.instruction.prompt)
        position = {name: before.index(name) for name in set(before)}
        try:
            order = np.asarray([position[name] for name in encoded.placeholders], np.int64)
        except KeyError as error:
            raise ValueError(f"{after.episode}: perturbed prompt names new image {error}") from None
        arrays["token_types"] = encoded.token_types
        arrays["word_ids"] = encoded.word_ids
        for name in (*_PROMPT_ARRAYS, "prompt_object_ids"):
            arrays[name] = arrays[name][order]
    if after.shuffle_objects:
        arrays = dict(arrays)
        count, objects = arrays["obs_mask_front"].shape[:2]
        orders = np.asarray(object_orders(seed, after.episode, count, objects), np.int64)
        rows = np.arange(count)[:, None]
        for name in _OBJECT_ARRAYS:
            arrays[name] = arrays[name][rows, orders] if count and objects else arrays[name]
    return arrays, after
