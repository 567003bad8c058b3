"""Training-time augmentation of object crops (`train.augment_crops`).

`dihedral`: every crop of a batch (prompt and observation) is independently rotated by a
multiple of 90 degrees and possibly mirrored. Prompt pictures show objects upright on a white
ground, the scene shows them turned by any angle: matching them needs features that do not
depend on the turn, which a thousand episodes alone do not teach (docs/EXPERIMENTS.md, T1).
Exact pixel permutations (no interpolation); drawn from the global torch generator, which the
training module reseeds per batch, so a resumed run replays the same crops.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

from vima_train.data.batch import Batch

AUGMENTATIONS = ("none", "dihedral")


@functools.cache
def _dihedral_maps(size: int) -> torch.Tensor:
    """[8, size * size] source pixel of every target pixel for the 8 symmetries of a square."""
    index = torch.arange(size * size).view(size, size)
    maps = []
    for image in (index, index.flip(-1)):
        maps += [torch.rot90(image, k, (0, 1)).flatten() for k in range(4)]
    return torch.stack(maps)


def dihedral(crops: torch.Tensor) -> torch.Tensor:
    """Square crops [..., C, S, S] each under a random one of the 8 square symmetries."""
    *lead, channels, height, width = crops.shape
    if height != width:
        raise ValueError(f"dihedral needs square crops, got {height}x{width}")
    flat = crops.reshape(-1, channels, height * width)
    maps = _dihedral_maps(height).to(crops.device)
    choice = torch.randint(len(maps), (flat.shape[0],), device=crops.device)
    index = maps[choice].unsqueeze(1).expand_as(flat)
    return flat.gather(-1, index).view(*lead, channels, height, width)


def augment_batch(batch: Batch, kind: str) -> Batch:
    """`batch` with its prompt and observation crops augmented by `kind` (`none`: unchanged)."""
    if kind not in AUGMENTATIONS:
        raise ValueError(f"augment_crops must be one of {AUGMENTATIONS}, got {kind!r}")
    if kind == "none" or batch.prompt.crops is None or batch.observations.crops is None:
        return batch
    prompt = dataclasses.replace(batch.prompt, crops=dihedral(batch.prompt.crops))
    observations = dataclasses.replace(batch.observations, crops=dihedral(batch.observations.crops))
    return dataclasses.replace(batch, prompt=prompt, observations=observations)
