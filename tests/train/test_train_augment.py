"""Crop augmentation (`train.augment_crops`) on the real sample episodes."""

from __future__ import annotations

import pytest
import torch
from vima_train.augment import augment_batch, dihedral
from vima_train.data import Batch


def _symmetries(crop: torch.Tensor) -> list[torch.Tensor]:
    turned = [torch.rot90(crop, k, (-2, -1)) for k in range(4)]
    return turned + [torch.rot90(crop.flip(-1), k, (-2, -1)) for k in range(4)]


def test_dihedral_turns_each_crop_by_a_square_symmetry(batch: Batch) -> None:
    assert batch.observations.crops is not None
    crops = batch.observations.crops
    torch.manual_seed(0)
    out = dihedral(crops)
    assert out.shape == crops.shape and out.dtype == torch.uint8
    flat_in, flat_out = crops.flatten(0, -4), out.flatten(0, -4)
    chosen = set()
    for before, after in zip(flat_in, flat_out, strict=True):
        matches = [i for i, s in enumerate(_symmetries(before)) if torch.equal(s, after)]
        assert matches, "an augmented crop is not a rotation/mirror of its crop"
        chosen.add(matches[0])
    # the real crops are not symmetric, so several different symmetries were drawn
    assert len(chosen) >= 4


def test_augment_batch_changes_crops_only(batch: Batch) -> None:
    torch.manual_seed(1)
    out = augment_batch(batch, "dihedral")
    assert batch.prompt.crops is not None and out.prompt.crops is not None
    assert not torch.equal(out.prompt.crops, batch.prompt.crops)
    assert not torch.equal(out.observations.crops, batch.observations.crops)
    assert torch.equal(out.observations.bbox, batch.observations.bbox)
    assert torch.equal(out.action_bins, batch.action_bins)
    # the same seed draws the same crops (a resumed run replays its batches)
    torch.manual_seed(1)
    assert torch.equal(augment_batch(batch, "dihedral").prompt.crops, out.prompt.crops)
    assert augment_batch(batch, "none") is batch


def test_augment_rejects_unknown_kind_and_oblong_crops(batch: Batch) -> None:
    with pytest.raises(ValueError, match="augment_crops must be one of"):
        augment_batch(batch, "colour")
    with pytest.raises(ValueError, match="square crops"):
        dihedral(torch.zeros(2, 3, 32, 16, dtype=torch.uint8))
