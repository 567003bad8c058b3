"""Incremental decoding (`begin_episode`, vima_train.model.incremental) gives `act`'s logits.

Every policy family steps through each sample episode alone, as online evaluation feeds it (the
first t observations, the t - 1 actions taken): the incremental episode's logits equal
`act_logits`' on the whole history within 1e-5 at every step, with the same greedy bins. Also
with steps whose objects are all hidden (vima-train's readout token of such a step is run again
once valid; VIMA's padded read slot with nothing valid before it looks at the action
placeholder). Misuse fails with a message: a step that is not the episode's next (an episode
switch), a batch, object shuffling, training mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from vima_train.config import ModelConfig, load_preset
from vima_train.data import collate, row_arrays
from vima_train.model import Policy
from vima_train.policies import build_policy

from .conftest import read_rows
from .test_train_model import VARIANTS, VOCAB, _prefix

TOLERANCE = 1e-5
#: vima-train's own network: both decoders, both visual kinds, both readouts, the pointer heads,
#: a masked prompt.
OWN = [
    "xattn-objects-14",
    "xattn-patches-14",
    "decoder_only-objects-14",
    "decoder_only-patches-12",
    "xattn-readout-token",
    "decoder_only-readout-token",
    "objects-fixes",
    "pointer",
    "pointer_match-patch8",
    "decoder_only-mask-both",
]
#: The reference families at a small size (VIMA's crop ViT and prompt stay 768 wide).
REFERENCE = {
    "vima": ("vima-2m", 768),
    "cogelot-xattn-obj": ("cogelot-xattn-obj-original", None),
    "cogelot-concat-obj": ("cogelot-concat-obj-original", None),
    "cogelot-xattn-patches": ("cogelot-xattn-patches-original", None),
}


def reference_policy(name: str) -> Any:
    """A reference family's network at embed 48 (2 layers) with a one-block T5, seeded."""
    preset, t5_width = REFERENCE[name]
    model = load_preset(preset).model
    t5 = {"vocab_size": 1536, "d_model": t5_width or 48, "d_kv": 8, "d_ff": 96, "num_layers": 1,
          "num_heads": 4, "feed_forward_proj": "relu", "dropout_rate": 0.0}  # fmt: skip
    config = model.model_copy(
        update={
            "embed_dim": 48,
            "dropout": 0.0,
            "decoder": model.decoder.model_copy(update={"layers": 2, "heads": 4, "cross_heads": 4}),
            "prompt_encoder": model.prompt_encoder.model_copy(
                update={"t5_path": None, "t5_config": t5, "train_last_n": None}
            ),
        }
    )
    torch.manual_seed(0)
    return build_policy(ModelConfig.model_validate(config.model_dump()), VOCAB).eval()


def own_policy(name: str) -> Policy:
    torch.manual_seed(0)
    return Policy(VARIANTS[name], VOCAB).eval()


def hidden(row: dict[str, Any], steps: list[int]) -> dict[str, Any]:
    """The row with every object of observations `steps` hidden (both views)."""
    new = dict(row)
    for view in ("front", "top"):
        mask = row[f"obs_mask_{view}"].copy()
        mask[steps] = False
        new[f"obs_mask_{view}"] = mask
    return new


def compare_steps(policy: Any, rows: list[dict[str, Any]]) -> float:
    """Each row's episode stepped through both paths: the largest logit gap; asserts equal
    greedy bins at every step."""
    gap, count = 0.0, 0
    for number, row in enumerate(rows):
        full = collate([row])
        with torch.no_grad():
            cache = policy.encode_prompt(full)
            episode = policy.begin_episode(cache)
            for step in range(1, int(full.observations.step_mask.sum()) + 1):
                observations = collate(_prefix([row], step)).observations
                actions = full.actions[:, : step - 1]
                expected = policy.act_logits(cache, observations, actions)
                logits = episode.logits(observations, actions)
                assert logits.shape == expected.shape
                gap = max(gap, float((logits - expected).abs().max()))
                assert torch.equal(logits.argmax(-1), expected.argmax(-1)), (number, step)
                count += 1
    assert count == sum(row["obs_mask_front"].shape[0] for row in rows)
    return gap


@pytest.fixture(scope="module")
def episodes(train_dataset: Path) -> list[dict[str, Any]]:
    """The 9 sample episodes (1-3 observations, 2-7 objects per view), and two with hidden
    objects (at the first step, and at later ones)."""
    rows = [row_arrays(row) for split in ("train", "valid")
            for row in read_rows(train_dataset, split=split)]  # fmt: skip
    assert len(rows) == 9
    longest = max(rows, key=lambda row: row["obs_mask_front"].shape[0])
    assert longest["obs_mask_front"].shape[0] >= 3
    return [*rows, hidden(rows[0], [0]), hidden(longest, [1, 2])]


@pytest.mark.parametrize("name", OWN)
def test_own_network_steps_give_act_logits(name: str, episodes: list[dict[str, Any]]) -> None:
    assert compare_steps(own_policy(name), episodes) <= TOLERANCE


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_network_steps_give_act_logits(name: str, episodes: list[dict[str, Any]]) -> None:
    pytest.importorskip("transformers", reason="t5 extra not installed")
    assert compare_steps(reference_policy(name), episodes) <= TOLERANCE


def test_hidden_objects_exercise_the_rerun_readout(train_rows: list[dict[str, Any]]) -> None:
    """The readout token of a step without a visible object is run again at the next step,
    where it has become valid (else the positions after it would be off by one)."""
    policy = own_policy("xattn-readout-token")
    row = hidden(train_rows[0], [0])
    full = collate([row])
    episode = policy.begin_episode(policy.encode_prompt(full))
    episode.logits(collate(_prefix([row], 1)).observations, full.actions[:, :0])
    assert episode.pending_readout and episode.counted == 0
    episode.logits(collate(_prefix([row], 2)).observations, full.actions[:, :1])
    visible = int(np.asarray(row["obs_mask_front"][1]).sum() + row["obs_mask_top"][1].sum())
    assert not episode.pending_readout and episode.counted == 2 + visible + 1


def test_misuse_fails_with_a_message(train_rows: list[dict[str, Any]]) -> None:
    policy = own_policy("xattn-objects-14")
    row = max(train_rows, key=lambda row: row["obs_mask_front"].shape[0])
    full = collate([row])
    cache = policy.encode_prompt(full)
    episode = policy.begin_episode(cache)
    with pytest.raises(ValueError, match="observations of 2 steps given at step 1"):
        episode.logits(collate(_prefix([row], 2)).observations, full.actions[:, :1])
    for step in (1, 2):
        episode.logits(collate(_prefix([row], step)).observations, full.actions[:, : step - 1])
    with pytest.raises(ValueError, match="a new episode starts from its prompt"):
        episode.logits(collate(_prefix([row], 1)).observations, full.actions[:, :0])
    with pytest.raises(ValueError, match="1 actions for 3 observations"):
        episode.logits(collate(_prefix([row], 3)).observations, full.actions[:, :1])
    # the failed calls changed nothing: the episode goes on at its third step
    third = collate(_prefix([row], 3)).observations
    assert torch.equal(episode.act(third, full.actions[:, :2]), policy.act(cache, third,
                       full.actions[:, :2]))  # fmt: skip
    two = collate(train_rows[:2])
    with pytest.raises(ValueError, match="one episode, got 2"):
        policy.begin_episode(policy.encode_prompt(two))
    policy.shuffle_objects = True
    with pytest.raises(ValueError, match="shuffle_objects"):
        policy.begin_episode(cache)
    policy.shuffle_objects = False
    with pytest.raises(ValueError, match="eval mode"):
        policy.train().begin_episode(cache)
