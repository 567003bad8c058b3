"""Shared pieces of the reference-network tests (tests/train/test_train_*_reference.py): the
fixtures' seeded weights as a state dict, and a prompt assembled from native inputs."""

from __future__ import annotations

from typing import Any

import torch
from repo_scripts import load_script


def seeded_state(keys: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """`policy.<key>` -> tensor for a fixture's recorded keys: parameters from
    scripts/reference/seeded_weights.py (tied keys share one tensor, as in the reference),
    causal-mask and position-id buffers as the reference modules register them."""
    seeded = load_script("scripts/reference/seeded_weights.py")
    state, parameters = {}, {}
    for entry in keys:
        key, shape, name = entry["key"], tuple(entry["shape"]), entry["seeded_as"]
        if name is not None:
            if name not in parameters:
                parameters[name] = torch.from_numpy(seeded.seeded_array(name, shape))
            value = parameters[name]
        elif key.endswith("attn.bias"):
            value = torch.tril(torch.ones(shape[-2:])).view(shape)
        else:
            assert key.endswith("position_ids"), key
            value = torch.arange(shape[0])
        state[f"policy.{key}"] = value
    return state


def assembled_prompt(
    token_types: torch.Tensor, words: torch.Tensor, images: torch.Tensor, objects: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Words [W, D] and image tokens [I, Q, D] with their mask [I, Q] interleaved in the
    prompt's order (token type 0 word, 1 image): the sequence [1, L, D] and mask [1, L]."""
    sequence, mask, word, image = [], [], 0, 0
    for kind in token_types.tolist():
        if kind == 0:
            sequence.append(words[word])
            mask.append(True)
            word += 1
        else:
            sequence += list(images[image])
            mask += objects[image].tolist()
            image += 1
    return torch.stack(sequence)[None], torch.tensor(mask)[None]
