"""The VIMA-style policy: prompt encoder, observation and action tokens, sequence model, heads.

Per step the stream holds `[o_1 .. o_Q, a]`: Q observation tokens (object-centric: N front
then N top objects; patches: 16) and one action token. The output at the last observation
token of a step predicts that step's action (causality keeps the action token unseen); with
`decoder.readout=token` the stream is `[o_1 .. o_Q, r, a]` and the output at the learned readout
token `r` predicts it.

`shuffle_objects` and `prompt_mask` are plain attributes: they can be switched on a loaded
policy at evaluation time without touching its weights.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vima_train.config import ModelConfig
from vima_train.data.batch import IGNORE_INDEX, Batch, Observations, Prompt
from vima_train.model.actions import (
    ActionEncoder,
    ActionHeads,
    axis_bins,
    axis_indices,
    bins_to_actions,
)
from vima_train.model.layers import Block, causal_allowed, init_weights, positions
from vima_train.model.pointer import Pictures, PointerPositions
from vima_train.model.policy_episode import PolicyEpisode
from vima_train.model.prompt import PromptEncoder, assemble
from vima_train.model.visual import ObjectEncoder, PatchEncoder, gather_slots, shuffle_order

PROMPT_MASKS = ("none", "text", "visual", "both")
END_EFFECTORS = 2
END_EFFECTOR_DIM = 2


@dataclass
class PromptCache:
    """An encoded prompt, reused for every step of an episode.

    `memory` [B, Lp, D] (decoder memory positions already added for the cross-attention
    decoder), `present` [B, Lp] (a prompt token exists), `valid` [B, Lp] (may be attended to:
    present and not masked by `prompt_mask`); object-centric policies also keep the crop
    features of the prompt's objects, `pictures` [B, P, D], and which may be used,
    `picture_valid` [B, P] (for `position_head=pointer_match`).
    """

    memory: torch.Tensor
    present: torch.Tensor
    valid: torch.Tensor
    pictures: torch.Tensor | None = None
    picture_valid: torch.Tensor | None = None


@dataclass
class SceneObjects:
    """The observed objects of object-centric policies in token order (after any shuffle):
    `boxes` [B, T, V, N, 4] and `crops` [B, T, V, N, D], their crop features."""

    boxes: torch.Tensor
    crops: torch.Tensor

    def at(self, rows: torch.Tensor, steps: torch.Tensor) -> SceneObjects:
        """The objects of step `steps[i]` of episode `rows[i]`: [R, V, N, ...]."""
        return SceneObjects(self.boxes[rows, steps], self.crops[rows, steps])


def prompt_sequence(
    prompt: Prompt,
    words: torch.Tensor,
    images: torch.Tensor,
    image_token_mask: torch.Tensor,
    prompt_mask: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Words [B, W, D] and image tokens [B, I, Q, D] in prompt order: the sequence, `present`
    (a token exists) and `valid` (may be attended to under `prompt_mask`), all [B, L(, D)]."""
    sequence, present, is_word = assemble(
        prompt.token_types,
        words.to(images.dtype),
        prompt.word_mask,
        images,
        prompt.image_mask,
        image_token_mask,
    )
    valid = present.clone()
    if prompt_mask in ("text", "both"):
        valid &= ~is_word
    if prompt_mask in ("visual", "both"):
        valid &= is_word
    return sequence, present, valid


def actions_so_far(
    observations: Observations, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For `act`: observations seen per episode [B] and the actions taken so far padded to one
    per observation step [B, O, 14]; ValueError when an episode has no observation."""
    steps = observations.step_mask.shape[1]
    seen = observations.step_mask.sum(1)
    if bool((seen == 0).any()):
        raise ValueError("every episode needs at least one observation")
    padded = actions.new_zeros(actions.shape[0], steps, actions.shape[-1])
    count = min(actions.shape[1], steps)
    padded[:, :count] = actions[:, :count]
    return seen, padded


def _visual_encoder(config: ModelConfig) -> ObjectEncoder | PatchEncoder:
    """The encoder `config.visual` asks for: of object crops and boxes, or of frame patches."""
    dim, mult, vis = config.embed_dim, config.ff_mult, config.visual
    width = vis.width or dim
    if vis.kind == "objects":
        frequencies = vis.bbox_frequencies if vis.bbox_encoding == "fourier" else 0
        return ObjectEncoder(
            dim,
            width,
            vis.layers,
            vis.heads,
            mult,
            vis.fusion_norm,
            frequencies,
            vis.crop_patch,
        )
    return PatchEncoder(dim, width, vis.layers, vis.heads, mult)


class Policy(nn.Module):
    """Teacher-forced `forward(batch) -> logits [B, T, A, C]`; greedy `act` for inference."""

    axes: torch.Tensor

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        #: Metadata of the checkpoint the policy was loaded from (`load_policy`), else None.
        self.checkpoint_meta: dict[str, Any] | None = None
        self.shuffle_objects = config.shuffle_objects
        self.prompt_mask = config.prompt_mask
        dim, mult, drop = config.embed_dim, config.ff_mult, config.dropout
        self.visual = _visual_encoder(config)
        self.prompt = PromptEncoder(config.prompt_encoder, dim, mult, drop, vocab_size)
        self.end_effector = nn.Embedding(END_EFFECTORS, END_EFFECTOR_DIM)
        self.obs_fusion = nn.Linear(dim + END_EFFECTOR_DIM, dim)
        #: LayerNorm of visual tokens after fusion (`visual.token_norm`), shared by prompt
        #: images and observations.
        self.token_norm = nn.LayerNorm(dim) if config.visual.token_norm else nn.Identity()
        self.action_encoder = ActionEncoder(config.action_axes, config.action_hidden, dim)
        dec = config.decoder
        cross = dec.kind == "xattn"
        self.blocks = nn.ModuleList(
            Block(dim, dec.heads, mult, drop, cross=cross) for _ in range(dec.layers)
        )
        self.position = nn.Embedding(dec.max_length, dim)
        self.readout = nn.Parameter(torch.zeros(dim)) if dec.readout == "token" else None
        if cross:
            self.memory_position = nn.Embedding(config.prompt_encoder.max_length, dim)
        else:
            self.separator = nn.Parameter(torch.zeros(dim))
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(drop)
        self.heads = ActionHeads(dim, config.head_hidden, axis_bins(config.action_axes))
        self.pointer = (
            PointerPositions(
                dim,
                config.action_axes,
                max(axis_bins(config.action_axes)),
                match=config.position_head == "pointer_match",
            )
            if config.position_head != "bins"
            else None
        )
        init = functools.partial(init_weights, scheme=config.init)
        for name, module in self.named_children():
            if name != "prompt":
                module.apply(init)
        for name, module in self.prompt.named_children():
            if name != "t5":
                module.apply(init)
        self.heads.reset_parameters()
        if self.pointer is not None:
            self.pointer.reset_parameters()
        self.register_buffer(
            "axes", torch.tensor(axis_indices(config.action_axes)), persistent=False
        )

    # ------------------------------------------------------------------ prompt
    def encode_prompt(self, batch: Batch | Prompt) -> PromptCache:
        """Encode the prompts of a batch once (applies the current `prompt_mask`)."""
        prompt = batch.prompt if isinstance(batch, Batch) else batch
        if self.prompt_mask not in PROMPT_MASKS:
            raise ValueError(f"prompt_mask must be one of {PROMPT_MASKS}, got {self.prompt_mask}")
        words = self.prompt.words(prompt.word_ids)
        pictures = picture_valid = None
        if isinstance(self.visual, ObjectEncoder):
            assert prompt.crops is not None and prompt.bbox is not None, "batch has no crops"
            crops = self.visual.crop_features(prompt.crops, prompt.object_mask)
            tokens = self.visual.with_boxes(crops, prompt.bbox).flatten(2, 3)
            token_mask = prompt.object_mask.flatten(2)
            pictures, picture_valid = crops.flatten(1, 3), token_mask.flatten(1)
            if self.prompt_mask in ("visual", "both"):
                picture_valid = torch.zeros_like(picture_valid)
        else:
            assert prompt.frames is not None, "batch has no frames"
            tokens = self.visual(prompt.frames)
            token_mask = prompt.image_mask.unsqueeze(-1).expand(*tokens.shape[:3])
        tokens = self.prompt.visual_post(self.token_norm(tokens))
        sequence, present, valid = prompt_sequence(
            prompt, words, tokens, token_mask, self.prompt_mask
        )
        memory = self.prompt(sequence, present, valid)
        if self.config.decoder.kind == "xattn":
            if memory.shape[1] > self.memory_position.num_embeddings:
                raise ValueError(f"prompt of {memory.shape[1]} tokens is too long")
            memory = memory + self.memory_position(positions(present))
        return PromptCache(memory, present, valid, pictures, picture_valid)

    # ------------------------------------------------------------ observations
    def encode_observations(
        self, observations: Observations, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor, SceneObjects | None]:
        """Tokens [B, T, Q, D] and validity [B, T, Q] of the first `steps` observations, and the
        observed objects in token order (object-centric policies; None for patches)."""
        step_mask = observations.step_mask[:, :steps]
        scene = None
        if isinstance(self.visual, ObjectEncoder):
            assert observations.crops is not None and observations.bbox is not None
            mask = observations.object_mask[:, :steps]
            boxes = observations.bbox[:, :steps]
            crops = self.visual.crop_features(observations.crops[:, :steps], mask)
            tokens = self.visual.with_boxes(crops, boxes)
            if self.shuffle_objects:
                source = shuffle_order(mask)
                tokens, boxes, crops = (gather_slots(x, source) for x in (tokens, boxes, crops))
            scene = SceneObjects(boxes, crops)
            tokens, valid = tokens.flatten(2, 3), mask.flatten(2)
        else:
            assert observations.frames is not None, "batch has no frames"
            tokens = self.visual(observations.frames[:, :steps])
            valid = step_mask.unsqueeze(-1).expand(*tokens.shape[:3])
        effector = self.end_effector(observations.end_effector[:, :steps])
        effector = effector.unsqueeze(2).expand(-1, -1, tokens.shape[2], -1)
        tokens = self.obs_fusion(torch.cat([tokens, effector.to(tokens.dtype)], -1))
        return self.token_norm(tokens), valid & step_mask.unsqueeze(-1), scene

    # ------------------------------------------------------------------ decode
    def decode(
        self,
        cache: PromptCache,
        obs_tokens: torch.Tensor,
        obs_valid: torch.Tensor,
        actions: torch.Tensor,
        action_valid: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [B, T, D] at the readout token of every step and the outputs [B, T, Q, D]
        at its observation tokens."""
        batch, steps, per_step, dim = obs_tokens.shape
        act_tokens = self.action_encoder(actions).to(obs_tokens.dtype).unsqueeze(2)
        parts, part_valid = [obs_tokens], [obs_valid]
        if self.readout is not None:
            parts.append(self.readout.to(obs_tokens.dtype).expand(batch, steps, 1, dim))
            part_valid.append((obs_valid.any(-1) | action_valid).unsqueeze(2))
        parts.append(act_tokens)
        part_valid.append(action_valid.unsqueeze(2))
        stream = torch.cat(parts, 2).view(batch, -1, dim)
        valid = torch.cat(part_valid, 2).view(batch, -1)
        step_tokens = len(parts) - 1 + per_step
        if self.config.decoder.kind == "xattn":
            if stream.shape[1] > self.position.num_embeddings:
                raise ValueError(
                    f"{stream.shape[1]} observation/action tokens exceed decoder.max_length "
                    f"{self.position.num_embeddings}"
                )
            x = self.drop(stream + self.position(positions(valid)))
            allowed = causal_allowed(valid)
            memory_allowed = cache.valid.unsqueeze(1).expand(-1, x.shape[1], -1)
            for block in self.blocks:
                x = block(x, allowed, cache.memory, memory_allowed)
        else:
            prompt_len = cache.memory.shape[1]
            separator = self.separator.expand(batch, 1, dim).to(stream.dtype)
            x = torch.cat([cache.memory.to(stream.dtype), separator, stream], 1)
            ones = torch.ones(batch, 1, dtype=torch.bool, device=valid.device)
            present = torch.cat([cache.present, ones, valid], 1)
            if x.shape[1] > self.position.num_embeddings:
                raise ValueError(
                    f"{x.shape[1]} prompt + observation/action tokens exceed decoder.max_length "
                    f"{self.position.num_embeddings}"
                )
            x = self.drop(x + self.position(positions(present)))
            allowed = causal_allowed(torch.cat([cache.valid, ones, valid], 1))
            for block in self.blocks:
                x = block(x, allowed)
            x = x[:, prompt_len + 1 :]
        x = self.norm(x).view(batch, steps, step_tokens, dim)
        readout = x[:, :, per_step if self.readout is not None else per_step - 1]
        return readout, x[:, :, :per_step]

    def action_logits(
        self,
        features: torch.Tensor,
        objects: torch.Tensor,
        valid: torch.Tensor,
        scene: SceneObjects | None,
        cache: PromptCache,
    ) -> torch.Tensor:
        """Logits [..., A, C] of a step from its readout `features` [..., D]; the pointer head
        also reads the step's observation outputs `objects` [..., Q, D], `valid` [..., Q] and
        `scene` (boxes [..., V, N, 4], crop features [..., V, N, D]) at its top-view objects,
        and `pointer_match` the prompt's pictures in `cache`."""
        logits = self.heads(features)
        if self.pointer is None:
            return logits
        assert scene is not None, "the pointer head needs object-centric observations"
        top = scene.boxes.shape[-2]
        pictures = None
        if self.pointer.match is not None:
            assert cache.pictures is not None and cache.picture_valid is not None
            extra = (1,) * (features.dim() - 2)  # steps: broadcast one prompt over them
            prompt = cache.pictures.view(cache.pictures.shape[0], *extra, *cache.pictures.shape[1:])
            usable = cache.picture_valid.view(cache.picture_valid.shape[0], *extra, -1)
            pictures = Pictures(prompt, usable, scene.crops[..., -1, :, :])
        return self.pointer(
            logits,
            features,
            objects[..., -top:, :],
            scene.boxes[..., -1, :, :],
            valid[..., -top:],
            pictures,
        )

    def forward(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced logits [B, T, A, C] (float32) for every step of the batch."""
        steps = batch.step_mask.shape[1]
        cache = self.encode_prompt(batch)
        obs_tokens, obs_valid, scene = self.encode_observations(batch.observations, steps)
        # an observation after the last action (keep_final_observation) has nothing to predict
        obs_valid = obs_valid & batch.step_mask.unsqueeze(-1)
        features, objects = self.decode(
            cache, obs_tokens, obs_valid, batch.actions, batch.step_mask
        )
        return self.action_logits(features, objects, obs_valid, scene, cache)

    def targets(self, batch: Batch) -> torch.Tensor:
        """Bins of the predicted axes [B, T, A], IGNORE_INDEX on padded steps."""
        bins = batch.action_bins.index_select(-1, self.axes)
        return bins.masked_fill(~batch.step_mask.unsqueeze(-1), IGNORE_INDEX)

    # --------------------------------------------------------------- inference
    def act_logits(
        self, cache: PromptCache, observations: Observations, actions: torch.Tensor
    ) -> torch.Tensor:
        """Logits [B, A, C] of the next action of each episode.

        `observations` holds the t_b observations seen so far (padded, `step_mask`), `actions`
        [B, >= t_b - 1, 14] the actions taken so far (continuous, as in the record); episode b's
        action token of step t is used for t < t_b - 1 only.
        """
        steps = observations.step_mask.shape[1]
        seen, padded = actions_so_far(observations, actions)
        step_ids = torch.arange(steps, device=seen.device)
        action_valid = step_ids.unsqueeze(0) < (seen - 1).unsqueeze(1)
        obs_tokens, obs_valid, scene = self.encode_observations(observations, steps)
        features, objects = self.decode(cache, obs_tokens, obs_valid, padded, action_valid)
        rows, last = torch.arange(features.shape[0], device=seen.device), seen - 1
        return self.action_logits(
            features[rows, last],
            objects[rows, last],
            obs_valid[rows, last],
            None if scene is None else scene.at(rows, last),
            cache,
        )

    @torch.no_grad()
    def act(
        self, cache: PromptCache, observations: Observations, actions: torch.Tensor
    ) -> torch.Tensor:
        """Greedy bins [B, A] of the next action of each episode (`act_logits`' argmax): the
        whole history re-read, the reference for `begin_episode`."""
        return self.act_logits(cache, observations, actions).argmax(-1)

    def begin_episode(self, cache: PromptCache) -> PolicyEpisode:
        """One episode's incremental decoder from its encoded prompt (batch of one): the same
        logits as `act_logits`, each step encoding and decoding its new tokens only."""
        return PolicyEpisode(self, cache)

    def bins_to_actions(self, bins: torch.Tensor) -> torch.Tensor:
        """Bins [..., A] from `act` -> continuous 14-axis actions [..., 14]."""
        return bins_to_actions(bins, self.config.action_axes)
