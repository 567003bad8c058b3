"""The reference families' faster training step computes what the plain one computes (issue 30
item 1): blank crops share one ViT pass and both views go through the ViT together
(policies/vima/vision.py), T5 and the decoder run the batch in parts of similar length without
the dead tokens (policies/vima/ragged.py), and the training's AdamW is fused in full precision
(module.adamw). Each is compared with the computation it replaced, on the sample episodes."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from vima_train.config import load_preset
from vima_train.data import Batch
from vima_train.metrics import loss_of
from vima_train.module import adamw
from vima_train.policies import build_policy
from vima_train.policies.vima.modeling import VimaNetwork, interleave
from vima_train.policies.vima.policy import VimaPolicy
from vima_train.policies.vima.ragged import drop_dead_tokens, ends_of, row_parts
from vima_train.policies.vima.vision import VIEWS, CropEncoder, ObjEncoder

TOLERANCE = 1e-5


def crop_pass_per_crop(self: CropEncoder, crops: torch.Tensor) -> torch.Tensor:
    """`CropEncoder.forward` before the sharing: the ViT on every crop."""
    lead = crops.shape[:-3]
    pixels = (crops.float() / 255.0).sub(self.mean).div(self.std)
    return self.vit(pixels.flatten(0, -4)).view(*lead, self.width)


def objects_per_view(
    self: ObjEncoder, crops: dict[str, torch.Tensor], boxes: dict[str, torch.Tensor]
) -> torch.Tensor:
    """`ObjEncoder.forward` before the views shared a ViT pass: one pass per view."""
    fused = []
    for view in VIEWS:
        features = self.cropped_img_encoder(crops[view])
        box = self.bbox_mlp[view](boxes[view].float() / self.box_scale)
        fused.append(self.pre_transformer_layer[view](torch.cat([features, box], dim=-1)))
    return torch.cat(fused, dim=-2)


def prompt_tokens_whole(self: VimaPolicy, sequence: torch.Tensor, valid: torch.Tensor) -> Any:
    """`VimaPolicy.encode_prompt_tokens` before the parts: T5 over the whole padded batch."""
    usable = valid.any(-1, keepdim=True)
    out = self.prompt_tokens(sequence, valid | ~usable)
    return out * usable.unsqueeze(-1).to(out.dtype)


def decode_whole(
    self: VimaNetwork,
    obs_tokens: torch.Tensor,
    obs_mask: torch.Tensor,
    action_tokens: torch.Tensor,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
) -> torch.Tensor:
    """`VimaNetwork.decode` before the parts: the whole padded stream and prompt."""
    per_step = obs_tokens.shape[2]
    stream, masks = interleave(obs_tokens, obs_mask, action_tokens)
    out = self.sequence_model(stream, masks, memory, memory_mask)
    return out[:, per_step - 1 :: per_step + 1]


PLAIN = {
    (CropEncoder, "forward"): crop_pass_per_crop,
    (ObjEncoder, "forward"): objects_per_view,
    (VimaPolicy, "encode_prompt_tokens"): prompt_tokens_whole,
    (VimaNetwork, "decode"): decode_whole,
}


def small_cogelot() -> torch.nn.Module:
    """CoGeLoT's network at embed 48, 2 layers, a 3-block T5 training its last 2."""
    preset = load_preset("cogelot-xattn-obj-original").model
    t5 = {"vocab_size": 1536, "d_model": 48, "d_kv": 8, "d_ff": 96, "num_layers": 3,
          "num_heads": 4, "feed_forward_proj": "relu", "dropout_rate": 0.0}  # fmt: skip
    config = preset.model_copy(
        update={
            "embed_dim": 48,
            "dropout": 0.0,
            "decoder": preset.decoder.model_copy(update={"layers": 2, "heads": 4}),
            "prompt_encoder": preset.prompt_encoder.model_copy(
                update={"t5_path": None, "t5_config": t5, "train_last_n": 2}
            ),
        }
    )
    torch.manual_seed(0)
    return build_policy(config, 1512).train()


def loss_and_gradients(policy: Any, batch: Batch) -> tuple[float, dict[str, torch.Tensor]]:
    policy.zero_grad(set_to_none=True)
    loss = loss_of(policy(batch), policy.targets(batch))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}
    policy.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


def test_blank_crops_share_a_pass_with_the_same_features_and_gradients() -> None:
    """Crops with blank ones among them (and a view without objects): features and the ViT's
    gradients equal those of a pass per crop."""
    torch.manual_seed(0)
    encoder = CropEncoder(48)
    crops = torch.randint(0, 256, (2, 3, 5, 3, 32, 32), dtype=torch.uint8)
    crops[0, 1] = 0
    crops[1, :, 3:] = 0
    weights = torch.randn(2, 3, 5, 48)
    results = []
    for forward in (CropEncoder.forward, crop_pass_per_crop):
        encoder.zero_grad()
        features = forward(encoder, crops)
        (features * weights).sum().backward()
        results.append(
            (features.detach(), {n: p.grad.clone() for n, p in encoder.named_parameters()})
        )
    (shared, shared_grads), (each, each_grads) = results
    assert torch.allclose(shared, each, atol=1e-6, rtol=0)
    for name, grad in each_grads.items():
        assert torch.allclose(shared_grads[name], grad, atol=1e-5 * float(grad.abs().max()), rtol=0)
    assert encoder(crops[:, :, :0]).shape == (2, 3, 0, 48)
    blank = encoder(torch.zeros(4, 3, 32, 32, dtype=torch.uint8))  # only blank crops
    assert torch.allclose(blank, shared[0, 1, :4], atol=1e-6, rtol=0)


def test_training_step_gives_the_plain_steps_losses(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CoGeLoT's network on the sample episodes (most object slots blank, prompts and episodes
    of different lengths): the loss and every gradient of one pass, and the losses of 3 clipped
    AdamW steps, equal (1e-5) those of the plain computation (a ViT pass per crop and per view,
    T5 and the decoder over the whole padded batch, torch's per-tensor AdamW)."""
    assert bool((batch.observations.crops.flatten(-3).amax(-1) == 0).any())
    assert len(row_parts(ends_of(batch.prompt.word_mask))) > 1
    runs = {}
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                for (owner, name), plain in PLAIN.items():
                    patch.setattr(owner, name, plain)
            policy = small_cogelot()
            first, grads = loss_and_gradients(policy, batch)
            trained = [p for p in policy.parameters() if p.requires_grad]
            if fast:
                optimizer = adamw(trained, 1e-3, 0.0, "32-true")
                assert optimizer.defaults["fused"]
            else:
                optimizer = torch.optim.AdamW(trained, lr=1e-3, weight_decay=0.0)
            losses = []
            for _ in range(3):
                loss = loss_of(policy(batch), policy.targets(batch))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
                losses.append(float(loss.detach()))
        runs[fast] = (first, grads, losses)
    (first, grads, losses), (plain_first, plain_grads, plain_losses) = runs[True], runs[False]
    assert abs(first - plain_first) <= TOLERANCE
    assert grads.keys() == plain_grads.keys()
    for name, grad in plain_grads.items():
        gap = float((grads[name] - grad).norm()) / max(float(grad.norm()), 1e-12)
        assert gap <= TOLERANCE, name
    assert max(abs(a - b) for a, b in zip(losses, plain_losses, strict=True)) <= TOLERANCE
    assert losses[-1] < losses[0]  # it trains


def test_adamw_is_fused_only_where_lightning_can_clip() -> None:
    """Fused in full precision; torch's default under mixed precision (Lightning refuses to clip
    gradients for an optimiser that unscales in its step)."""
    weights = [torch.nn.Parameter(torch.zeros(3))]
    assert adamw(weights, 1e-3, 0.0, "32-true").defaults["fused"] is True
    assert adamw(weights, 1e-3, 0.0, "bf16-mixed").defaults["fused"] is None
    assert adamw(weights, 1e-3, 0.0, "16-mixed").defaults["fused"] is None


def test_row_parts_cover_every_row_once_and_split_where_it_pays() -> None:
    lengths = torch.tensor([28, 32, 34, 12, 13, 19, 28, 77])
    parts = row_parts(lengths)
    assert sorted(torch.cat(parts).tolist()) == list(range(8))
    assert [p.tolist() for p in parts] == [[7], [2, 1, 0, 6, 5, 4, 3]]  # 77 alone: 315 of 616
    assert [p.tolist() for p in row_parts(torch.tensor([5, 5, 4]))] == [[0, 1, 2]]
    assert [p.tolist() for p in row_parts(torch.tensor([3]))] == [[0]]


def test_dead_tokens_are_left_out_and_read_slots_found() -> None:
    """Masked tokens go unless read; the read slots' places index what is kept; a row without
    any unmasked token keeps the stream whole."""
    stream = torch.arange(2 * 6, dtype=torch.float32).view(2, 6, 1)
    masks = torch.tensor([[1, 0, 0, 1, 0, 0], [1, 1, 0, 1, 0, 1]], dtype=torch.bool)
    read = torch.tensor([0, 0, 1, 0, 0, 1], dtype=torch.bool)
    kept, kept_masks, places = drop_dead_tokens(stream, masks, read)
    assert kept.shape == (2, 5, 1)
    assert kept[..., 0].tolist() == [[0, 2, 3, 5, 1], [6, 7, 8, 9, 11]]
    assert kept_masks.tolist() == [[1, 0, 1, 0, 0], [1, 1, 0, 1, 1]]
    assert places.tolist() == [[1, 3], [2, 4]]
    assert kept.gather(1, places.unsqueeze(-1))[..., 0].tolist() == [[2, 5], [8, 11]]
    whole, _, places = drop_dead_tokens(stream, masks & torch.tensor([[0], [1]]).bool(), read)
    assert whole.shape == stream.shape and places.tolist() == [[2, 5], [2, 5]]
