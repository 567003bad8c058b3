"""Every policy variant on a real tokenized batch of the sample episodes: shapes, loss,
gradients on every trainable parameter, prompt masks, object shuffling, greedy acting."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch
from vima_train.config import ModelConfig
from vima_train.data import Batch, collate
from vima_train.metrics import loss_of
from vima_train.model import Policy
from vima_train.model.actions import bins_to_actions
from vima_train.model.pointer import PictureMatch, Pictures
from vima_train.model.visual import gather_slots, shuffle_order

VOCAB = 1512
TINY: dict[str, Any] = {
    "embed_dim": 32,
    "dropout": 0.0,
    "head_hidden": 32,
    "action_hidden": 16,
    "prompt_encoder": {"layers": 1, "heads": 2},
    "visual": {"layers": 1, "heads": 2},
    "decoder": {"layers": 2, "heads": 2},
}
T5_CONFIG = {
    "vocab_size": VOCAB,
    "d_model": 24,
    "d_kv": 8,
    "d_ff": 48,
    "num_layers": 2,
    "num_heads": 3,
    "feed_forward_proj": "relu",
}


def tiny(**changes: Any) -> ModelConfig:
    data = {**TINY}
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return ModelConfig.model_validate(data)


VARIANTS = {
    "xattn-objects-14": tiny(),
    "xattn-patches-14": tiny(visual={"kind": "patches"}),
    "decoder_only-objects-14": tiny(decoder={"kind": "decoder_only"}),
    "decoder_only-patches-12": tiny(
        decoder={"kind": "decoder_only"}, visual={"kind": "patches"}, action_axes=12
    ),
    "xattn-objects-12-shuffle": tiny(action_axes=12, shuffle_objects=True),
    "decoder_only-objects-shuffle": tiny(decoder={"kind": "decoder_only"}, shuffle_objects=True),
    "mask-text": tiny(prompt_mask="text"),
    "mask-visual": tiny(prompt_mask="visual"),
    "mask-both": tiny(prompt_mask="both"),
    "decoder_only-mask-both": tiny(decoder={"kind": "decoder_only"}, prompt_mask="both"),
    "t5-last-1": tiny(prompt_encoder={"kind": "t5", "t5_config": T5_CONFIG, "train_last_n": 1}),
    # the plateau fixes (docs/TRAINING.md), alone and together
    "xattn-readout-token": tiny(decoder={"readout": "token"}),
    "decoder_only-readout-token": tiny(decoder={"kind": "decoder_only", "readout": "token"}),
    "objects-fixes": tiny(
        init="fan_in",
        visual={"bbox_encoding": "fourier", "fusion_norm": True, "token_norm": True},
        decoder={"readout": "token"},
    ),
    "patches-token-norm": tiny(init="fan_in", visual={"kind": "patches", "token_norm": True}),
    # the pointer position head (vima_train.model.pointer)
    "pointer": tiny(position_head="pointer", decoder={"readout": "token"}),
    "pointer_match-patch8": tiny(
        position_head="pointer_match", decoder={"readout": "token"}, visual={"crop_patch": 8}
    ),
    "decoder_only-pointer-12-shuffle": tiny(
        position_head="pointer",
        decoder={"kind": "decoder_only"},
        action_axes=12,
        shuffle_objects=True,
    ),
}


def needs_t5(name: str) -> None:
    """Skip T5 variants when the optional `t5` extra (transformers) is not installed."""
    if VARIANTS[name].prompt_encoder.kind == "t5":
        pytest.importorskip("transformers", reason="t5 extra not installed")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_forward_backward_every_variant(name: str, batch: Batch) -> None:
    needs_t5(name)
    torch.manual_seed(0)
    config = VARIANTS[name]
    policy = Policy(config, VOCAB).train()
    logits = policy(batch)
    steps = batch.step_mask.shape[1]
    assert logits.shape == (batch.size, steps, config.action_axes, 100)
    targets = policy.targets(batch)
    assert targets.shape == (batch.size, steps, config.action_axes)
    assert bool(((targets == -100) == ~batch.step_mask.unsqueeze(-1)).all())
    loss = loss_of(logits, targets)
    assert torch.isfinite(loss)
    loss.backward()
    trainable = {k: p for k, p in policy.named_parameters() if p.requires_grad}
    missing = [k for k, p in trainable.items() if p.grad is None]
    assert missing == [], f"parameters without gradient (DDP would need find_unused): {missing}"
    assert all(torch.isfinite(p.grad).all() for p in trainable.values())


def test_t5_train_last_n_freezes_the_rest(batch: Batch) -> None:
    needs_t5("t5-last-1")
    policy = Policy(VARIANTS["t5-last-1"], VOCAB).train()
    t5 = policy.prompt.t5
    assert not t5.shared.weight.requires_grad
    assert not any(p.requires_grad for p in t5.encoder.block[0].parameters())
    assert all(p.requires_grad for p in t5.encoder.block[1].parameters())
    assert not t5.encoder.block[0].training and t5.encoder.block[1].training


def test_class_masking_and_bins(batch: Batch) -> None:
    policy = Policy(tiny(action_axes=12), VOCAB).eval()
    logits = policy(batch)
    bins = policy.heads.valid.sum(-1)
    assert bins.tolist() == [50, 100, 50, 50, 50, 50, 50, 100, 50, 50, 50, 50]  # no z axes
    assert bool((logits.argmax(-1) < bins).all())
    probabilities = logits.softmax(-1)
    assert float(probabilities[..., 0, 50:].sum()) == 0.0


def _with_prompt(batch: Batch, **changes: Any) -> Batch:
    return dataclasses.replace(batch, prompt=dataclasses.replace(batch.prompt, **changes))


@pytest.mark.parametrize("kind", ["xattn", "decoder_only"])
def test_prompt_masks_hide_exactly_their_part(kind: str, batch: Batch) -> None:
    torch.manual_seed(0)
    policy = Policy(tiny(decoder={"kind": kind}), VOCAB).eval()
    other_words = _with_prompt(batch, word_ids=(batch.prompt.word_ids + 7) % VOCAB)
    assert batch.prompt.crops is not None
    other_crops = _with_prompt(batch, crops=255 - batch.prompt.crops)
    outputs = {}
    for mask in ("none", "text", "visual", "both"):
        policy.prompt_mask = mask  # switched on the same weights
        outputs[mask] = [policy(b) for b in (batch, other_words, other_crops)]
    same = {m: [torch.equal(o[0], x) for x in o[1:]] for m, o in outputs.items()}
    assert same["none"] == [False, False]
    assert same["text"] == [True, False]
    assert same["visual"] == [False, True]
    assert same["both"] == [True, True]


def test_shuffle_order_permutes_valid_slots_per_row() -> None:
    torch.manual_seed(1)
    mask = torch.tensor([[True, False, True, True, False], [False, True, True, False, True]])
    tokens = torch.arange(10.0).view(2, 5, 1)
    seen: set[tuple[float, ...]] = set()
    for _ in range(30):
        out = gather_slots(tokens, shuffle_order(mask))
        for row in range(2):
            valid = mask[row]
            assert torch.equal(out[row, ~valid], tokens[row, ~valid])  # padding stays
            assert sorted(out[row, valid, 0].tolist()) == tokens[row, valid, 0].tolist()
        seen.add(tuple(out.flatten().tolist()))
    assert len(seen) > 10  # fresh permutation per call


def test_shuffle_objects_changes_order_not_padding(batch: Batch) -> None:
    policy = Policy(tiny(), VOCAB).eval()
    base = policy(batch)
    policy.shuffle_objects = True
    torch.manual_seed(0)
    shuffled = [policy(batch) for _ in range(3)]
    assert not all(torch.allclose(base, s) for s in shuffled)
    policy.shuffle_objects = False
    assert torch.allclose(policy(batch), base)


def _prefix(rows: list[dict[str, Any]], steps: int) -> list[dict[str, Any]]:
    """Rows cut to their first `steps` observations and `steps - 1` actions."""
    cut = []
    for row in rows:
        n = min(steps, row["obs_mask_front"].shape[0])
        new = dict(row)
        for key, value in row.items():
            if key.startswith("obs_"):
                new[key] = value[:n]
        cut.append(new)
    return cut


@pytest.mark.parametrize(
    "name",
    [
        "xattn-objects-14",
        "decoder_only-objects-14",
        "objects-fixes",
        "decoder_only-readout-token",
        "pointer",
        "pointer_match-patch8",
    ],
)
def test_act_matches_teacher_forced_argmax(name: str, train_rows: list[dict[str, Any]]) -> None:
    """Step by step with one prompt cache, `act` returns the argmax that the teacher-forced
    forward gives at that step for each episode (episodes of different lengths together)."""
    torch.manual_seed(0)
    policy = Policy(VARIANTS[name], VOCAB).eval()
    full = collate(train_rows)
    expected = policy(full).argmax(-1)  # [B, T, A]
    cache = policy.encode_prompt(full)
    lengths = full.step_mask.sum(1)
    for step in range(1, int(lengths.max()) + 1):
        observations = collate(_prefix(train_rows, step)).observations
        bins = policy.act(cache, observations, full.actions[:, : step - 1])
        assert bins.shape == (full.size, 14)
        for b in range(full.size):
            t = min(step, int(lengths[b])) - 1
            assert torch.equal(bins[b], expected[b, t]), (b, step)
    actions = bins_to_actions(bins, 14)
    assert actions.shape == (full.size, 14)
    assert bool((actions[:, 0] >= 0.25).all() and (actions[:, 0] <= 0.75).all())


@pytest.mark.parametrize("name", ["xattn-objects-14", "decoder_only-patches-12"])
def test_bf16_autocast_forward_backward(name: str, batch: Batch) -> None:
    """The GPU precision (bf16-mixed) path, run with CPU autocast: logits stay float32."""
    policy = Policy(VARIANTS[name], VOCAB).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = policy(batch)
        loss = loss_of(logits, policy.targets(batch))
    assert logits.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in policy.parameters() if p.requires_grad)


def test_no_visible_object_anywhere(batch: Batch) -> None:
    """Observations whose objects are all invisible (the reference's crop ViT asserted)."""
    hidden = dataclasses.replace(
        batch,
        observations=dataclasses.replace(
            batch.observations, object_mask=torch.zeros_like(batch.observations.object_mask)
        ),
    )
    logits = Policy(tiny(), VOCAB)(hidden)
    assert torch.isfinite(logits).all()


def test_final_observation_kept_changes_nothing(train_rows: list[dict[str, Any]]) -> None:
    """Rows tokenized with keep_final_observation (T + 1 observations) train on the first T."""
    longer = []
    for row in train_rows:
        new = dict(row)
        for key, value in row.items():
            if key.startswith("obs_"):
                new[key] = np.concatenate([value, value[-1:]])
        longer.append(new)
    policy = Policy(tiny(), VOCAB).eval()
    base, extended = collate(train_rows), collate(longer)
    assert extended.observations.step_mask.shape[1] == base.step_mask.shape[1] + 1
    valid = base.step_mask
    assert torch.equal(policy(extended)[valid], policy(base)[valid])


def test_box_features_and_token_norm_make_the_box_reach_the_logits(batch: Batch) -> None:
    """The plateau's measured cause: with the published init a 40-pixel move of one object's box
    changes the logits by ~1e-7 of their spread; with the fixes it changes them visibly."""

    def sensitivity(config: ModelConfig) -> float:
        torch.manual_seed(0)
        policy = Policy(config, VOCAB).eval()
        before = policy(batch)
        moved = batch.observations.bbox.clone()
        moved[..., 0, 0] += 40
        observations = dataclasses.replace(batch.observations, bbox=moved)
        after = policy(dataclasses.replace(batch, observations=observations))
        valid = batch.step_mask
        return float((after - before)[valid][..., :50].abs().max() / before[valid][..., :50].std())

    published, fixed = (
        sensitivity(VARIANTS["xattn-objects-14"]),
        sensitivity(VARIANTS["objects-fixes"]),
    )
    assert published < 1e-3 < fixed, (published, fixed)


@pytest.mark.parametrize("head", ["pointer", "pointer_match"])
def test_pointer_needs_object_tokens(head: str) -> None:
    with pytest.raises(ValueError, match=rf"position_head={head} needs visual\.kind=objects"):
        tiny(position_head=head, visual={"kind": "patches"})


def test_picture_match_compares_the_selected_picture_with_the_scene() -> None:
    """Pose 0 selects the first prompt picture, pose 1 the second; each scores highest the scene
    object whose token is that picture's; without a usable picture the scores are zero."""
    dim = 4
    match = PictureMatch(dim, poses=2)
    eye = torch.eye(dim)
    with torch.no_grad():
        for linear in (match.picture_key, match.picture_value, match.scene_key):
            linear.weight.copy_(eye)
            linear.bias.zero_()
        match.select.weight.zero_()
        match.select.bias.copy_(torch.cat([eye[0], eye[1]]) * 50.0)
    prompt = eye[:3].unsqueeze(0) * 5.0  # pictures e0, e1, e2
    scene = eye[[1, 3, 0]].unsqueeze(0)  # objects e1, e3, e0
    valid = torch.ones(1, 3, dtype=torch.bool)
    scores = match(torch.zeros(1, dim), Pictures(prompt, valid, scene))
    assert scores.shape == (1, 2, 3)
    assert scores.argmax(-1).tolist() == [[2, 0]]
    masked = match(torch.zeros(1, dim), Pictures(prompt, torch.zeros_like(valid), scene))
    assert bool((masked == 0).all())


def test_pointer_match_keeps_the_prompt_pictures(batch: Batch) -> None:
    """The prompt cache holds the pictures' tokens for the match; masking the visual prompt
    leaves none usable."""
    torch.manual_seed(0)
    policy = Policy(tiny(position_head="pointer_match", decoder={"readout": "token"}), VOCAB)
    policy.eval()
    cache = policy.encode_prompt(batch)
    assert cache.pictures is not None and cache.picture_valid is not None
    assert cache.picture_valid.shape == cache.pictures.shape[:2]
    assert bool(cache.picture_valid.any())
    policy.prompt_mask = "visual"
    assert not bool(policy.encode_prompt(batch).picture_valid.any())


def test_pointer_places_the_chosen_object_where_its_box_lies(batch: Batch) -> None:
    """The pick/place x and y rows are normalised distributions over the axis's bins; when the
    pointer is sure of one object and the gate of itself, their argmax is the bin under that
    object's top-view box centre (VIMA-Bench's top camera), whatever the bins heads say."""
    torch.manual_seed(0)
    policy = Policy(tiny(position_head="pointer"), VOCAB).eval()
    pointer = policy.pointer
    assert pointer is not None
    logits = policy(batch)
    rows = logits[..., pointer.slots, :][batch.step_mask]  # [steps, 4, C]
    for row, bins in zip(range(4), (50, 100, 50, 100), strict=True):
        mass = rows[:, row, :bins].exp().sum(-1)
        assert torch.allclose(mass, torch.ones_like(mass), atol=1e-4)
        assert bool((rows[:, row, bins:] < -1e8).all())
    features = torch.randn(3, policy.config.embed_dim)
    objects = torch.randn(3, 4, policy.config.embed_dim)
    boxes = torch.tensor([[64, 32, 10, 10], [128, 64, 10, 10], [192, 96, 10, 10], [0, 0, 0, 0]])
    boxes = boxes.expand(3, 4, 4)
    valid = torch.tensor([True, True, True, False]).expand(3, 4)
    with torch.no_grad():
        pointer.gate.bias.fill_(30.0)
        pointer.key.weight.copy_(torch.eye(policy.config.embed_dim))
        pointer.key.bias.zero_()
        # object n gets score 1e3 * n for both poses: the third (n = 2) is chosen
        objects = objects.clone()
        objects[..., 0] = torch.arange(4.0) * 1e3 * math.sqrt(policy.config.embed_dim)
        pointer.query.weight.zero_()
        pointer.query.bias.zero_()
        pointer.query.bias[0] = 1.0
        pointer.query.bias[policy.config.embed_dim] = 1.0
        out = pointer(torch.zeros(3, 14, 100), features, objects, boxes, valid)
    chosen = out[:, pointer.slots].argmax(-1)
    # box centre (192, 96) of 256 x 128: u = 0.75, v = 0.75 -> x = 0.625 m, y = 0.25 m
    x_bin, y_bin = round((0.625 - 0.25) / 0.5 * 49), round((0.25 + 0.5) / 1.0 * 99)
    assert chosen.tolist() == [[x_bin, y_bin, x_bin, y_bin]] * 3
    others = [i for i in range(14) if i not in pointer.slots.tolist()]
    assert bool((out[:, others] == 0).all())


def test_shuffled_boxes_follow_their_tokens(batch: Batch) -> None:
    """With `shuffle_objects` the boxes and crop features the pointer reads are permuted with
    the object tokens."""
    policy = Policy(VARIANTS["decoder_only-pointer-12-shuffle"], VOCAB).eval()
    steps = batch.step_mask.shape[1]
    policy.shuffle_objects = False
    plain, valid, plain_scene = policy.encode_observations(batch.observations, steps)
    policy.shuffle_objects = True
    torch.manual_seed(3)
    mixed, _, mixed_scene = policy.encode_observations(batch.observations, steps)
    assert plain_scene is not None and mixed_scene is not None
    assert not torch.equal(plain, mixed)
    for field in ("boxes", "crops"):
        flat_plain = getattr(plain_scene, field).flatten(2, 3)
        flat_mixed = getattr(mixed_scene, field).flatten(2, 3)
        for index in valid.nonzero().tolist():
            b, t, q = index
            match = (plain[b, t] - mixed[b, t, q]).abs().amax(-1).argmin()
            assert torch.equal(flat_plain[b, t, match], flat_mixed[b, t, q])
