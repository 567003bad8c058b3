"""VIMA's network behind vima-train's policy interface (`forward`, `targets`, `encode_prompt`,
`act`, `bins_to_actions`), so training, offline and online evaluation take it as they are.

Batches are turned into VIMA's native inputs the way VIMA's own evaluation code
(`scripts/example.py`) prepares them:
- objects of each view are packed visible first, then the absent slots (zero crops and boxes,
  masked); prompt images are padded per view to the most visible objects of that view in the
  batch, observations keep one slot per scene object;
- the crop ViT runs on every slot, padded ones included, and the action is read at the last
  top-view slot of each step, as VIMA does;
- bins are VIMA's: `bucketize` on `linspace(0, 1, n)` of the normalised action, and back to a
  value as `bin / n` (the `reference` convention; vima-train's own policies use bin centres,
  `bin / (n - 1)`), x 50, y 100 and 50 per rotation component: 12 axes, no z.

The axes and bins come from the network's `Conventions`, so a copy of VIMA's network with other
heads (CoGeLoT's, vima_train.policies.cogelot) reuses this class.
"""

from __future__ import annotations

from typing import Any

import torch
from vima_schema.vocabulary import PLACEHOLDER_TOKENS
from vima_tokenize.actions import AXIS_HIGH, AXIS_LOW, Z_FILL

from vima_train.config import ConfigError, ModelConfig
from vima_train.data.batch import IGNORE_INDEX, Batch, Observations, Prompt
from vima_train.model.actions import axis_indices
from vima_train.model.policy import (
    PROMPT_MASKS,
    PromptCache,
    actions_so_far,
    prompt_sequence,
)
from vima_train.model.prompt import early_t5_blocks, t5_encoder
from vima_train.model.visual import shuffle_order
from vima_train.policies.vima.episode import VimaEpisode
from vima_train.policies.vima.modeling import VIMA, Conventions, VimaNetwork
from vima_train.policies.vima.ragged import ends_of, row_parts
from vima_train.policies.vima.vision import VIEWS


def take_slots(values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """`values` [..., N, *rest] with its slot axis reordered by `order` [..., N]."""
    extra = values.dim() - order.dim()
    index = order.view(*order.shape, *(1,) * extra).expand(
        *order.shape, *values.shape[order.dim() :]
    )
    return values.gather(order.dim() - 1, index)


def visible_first(mask: torch.Tensor) -> torch.Tensor:
    """Slot order [..., N] putting the visible slots of `mask` [..., N] first (stable)."""
    return (~mask).to(torch.uint8).argsort(dim=-1, stable=True)


def per_view(
    crops: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, slots: list[int] | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
    """Crops [..., V, N, 3, 32, 32], boxes [..., V, N, 4], mask [..., V, N] -> VIMA's per-view
    dictionaries with visible objects first, cut to `slots[v]` slots per view, and the token
    mask [..., sum slots] (front, then top)."""
    order = visible_first(mask)
    crops, boxes, mask = (take_slots(x, order) for x in (crops, boxes, mask))
    kept = slots or [mask.shape[-1]] * len(VIEWS)
    crop_views, box_views, masks = {}, {}, []
    for v, view in enumerate(VIEWS):
        crop_views[view] = crops[..., v, : kept[v], :, :, :]
        box_views[view] = boxes[..., v, : kept[v], :]
        masks.append(mask[..., v, : kept[v]])
    return crop_views, box_views, torch.cat(masks, dim=-1)


class VimaPolicy(VimaNetwork):
    """VIMA's network (state-dict keys exactly VIMA's) with vima-train's policy interface."""

    #: The network's conventions (heads, positions, widths); subclasses fix others.
    CONVENTIONS: Conventions = VIMA

    axes: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    bin_counts: torch.Tensor

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        dec = config.decoder
        t5 = t5_encoder(config.prompt_encoder)
        super().__init__(
            config.embed_dim,
            dec.layers,
            dec.heads,
            dec.cross_heads or dec.heads,
            t5,
            config.dropout,
            self.CONVENTIONS,
            dec.kind,
            config.visual.kind,
        )
        if vocab_size - len(PLACEHOLDER_TOKENS) > int(t5.config.vocab_size):
            raise ConfigError(
                f"tokenizer of {vocab_size} ids does not fit VIMA's {t5.config.vocab_size}-word "
                "T5 embedding: tokenize with the t5-base tokenizer"
            )
        self.config = config
        #: Metadata of the checkpoint the policy was loaded from (`load_policy`), else None.
        self.checkpoint_meta: dict[str, Any] | None = None
        self.shuffle_objects = config.shuffle_objects
        self.prompt_mask = config.prompt_mask
        # CoGeLoT's T5PromptEncoder freezes all but the last N blocks; they stay in train mode
        for block in early_t5_blocks(t5, config.prompt_encoder.train_last_n):
            block.requires_grad_(False)
        counts = [n for bins in self.CONVENTIONS.heads.values() for n in bins]
        axes = axis_indices(len(counts))  # stored axes (of vima-train's 14), in head order
        #: Head axes by bin count, for one `bucketize` per count.
        self.bin_groups = {
            count: [axis for axis, n in enumerate(counts) if n == count]
            for count in sorted(set(counts))
        }
        self.register_buffer("axes", torch.tensor(axes), persistent=False)
        self.register_buffer("low", torch.tensor([AXIS_LOW[i] for i in axes]), persistent=False)
        self.register_buffer("high", torch.tensor([AXIS_HIGH[i] for i in axes]), persistent=False)
        self.register_buffer("bin_counts", torch.tensor(counts), persistent=False)
        for count in self.bin_groups:  # VIMA's bin edges, linspace(0, 1, n)
            self.register_buffer(f"edges_{count}", torch.linspace(0, 1, count), persistent=False)

    def train(self, mode: bool = True) -> VimaPolicy:
        """VIMA's word embedding is frozen; it stays in eval mode."""
        super().train(mode)
        self.prompt_embedding.eval()
        return self

    # ------------------------------------------------------------------ prompt
    def encode_prompt(self, batch: Batch | Prompt) -> PromptCache:
        """Encode the prompts of a batch once (applies the current `prompt_mask`)."""
        prompt = batch.prompt if isinstance(batch, Batch) else batch
        if self.prompt_mask not in PROMPT_MASKS:
            raise ValueError(f"prompt_mask must be one of {PROMPT_MASKS}, got {self.prompt_mask}")
        images, token_mask = self.prompt_images(prompt)
        words = self.prompt_embedding(prompt.word_ids)
        sequence, present, valid = prompt_sequence(
            prompt, words, images, token_mask, self.prompt_mask
        )
        tokens = self.encode_prompt_tokens(sequence, valid)
        counted = valid if self.CONVENTIONS.positions_count_attended else present
        memory = self.sequence_model.prompt_memory(tokens, counted)
        return PromptCache(memory, present, valid)

    def prompt_images(self, prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens [B, I, Q, W] and token mask [B, I, Q] of the prompt's images: their objects
        (padded per view to the most visible objects of that view in the batch), or their
        frames' patches (every token valid)."""
        if self.config.visual.kind == "patches":
            assert prompt.frames is not None, "batch has no frames"
            frames = {view: prompt.frames[:, :, v] for v, view in enumerate(VIEWS)}
            images = self.prompt_objects(frames)
            return images, torch.ones(images.shape[:-1], dtype=torch.bool, device=images.device)
        assert prompt.crops is not None and prompt.bbox is not None, "batch has no crops"
        visible = prompt.object_mask & prompt.image_mask[..., None, None]
        counts = visible.sum(-1).flatten(0, 1)  # [B * I, V] visible objects per view
        slots = counts.amax(0).tolist() if counts.numel() else [0] * len(VIEWS)
        crops, boxes, token_mask = per_view(prompt.crops, prompt.bbox, prompt.object_mask, slots)
        return self.prompt_objects(crops, boxes), token_mask

    def encode_prompt_tokens(self, sequence: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """T5 and its post layer over an assembled prompt (a prompt with nothing to attend to,
        e.g. every token masked, gets zeros). The rows run in parts of similar length, each cut
        to its longest (`ragged.row_parts`): T5's positions are relative and a masked key weighs
        nothing, so every attended token's output is the whole batch's; past a row's last one
        the outputs are zeros."""
        usable = valid.any(-1, keepdim=True)
        mask, ends = valid | ~usable, ends_of(valid)
        parts = [(rows, int(ends[rows].max())) for rows in row_parts(ends)]
        outs = [self.prompt_tokens(sequence[rows, :end], mask[rows, :end]) for rows, end in parts]
        out = outs[0].new_zeros(*sequence.shape[:2], outs[0].shape[-1])
        for (rows, end), part in zip(parts, outs, strict=True):
            out[rows, :end] = part
        return out * usable.unsqueeze(-1).to(out.dtype)

    # ------------------------------------------------------------ observations
    def observation_stream(
        self, observations: Observations, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Observation tokens [B, T, Q, E] and mask [B, T, Q] of the first `steps` steps."""
        effector = observations.end_effector[:, :steps]
        if self.config.visual.kind == "patches":
            assert observations.frames is not None, "batch has no frames"
            frames = {view: observations.frames[:, :steps, v] for v, view in enumerate(VIEWS)}
            tokens = self.observation_tokens(frames, end_effector=effector)
            return tokens, observations.step_mask[:, :steps, None].expand(tokens.shape[:-1])
        assert observations.crops is not None and observations.bbox is not None
        mask = observations.object_mask[:, :steps]
        crops, boxes = observations.crops[:, :steps], observations.bbox[:, :steps]
        if self.shuffle_objects:
            order = shuffle_order(mask)
            crops, boxes, mask = (take_slots(x, order) for x in (crops, boxes, mask))
        crop_views, box_views, token_mask = per_view(crops, boxes, mask)
        tokens = self.observation_tokens(crop_views, box_views, end_effector=effector)
        return tokens, token_mask & observations.step_mask[:, :steps, None]

    # ----------------------------------------------------------------- actions
    def normalised(self, actions: torch.Tensor) -> torch.Tensor:
        """Continuous 14-axis actions [..., 14] -> the heads' axes scaled into [0, 1]."""
        return (actions.index_select(-1, self.axes).float() - self.low) / (self.high - self.low)

    def action_bins(self, actions: torch.Tensor) -> torch.Tensor:
        """Continuous 14-axis actions [..., 14] -> the heads' bins [..., A]: `bucketize` of the
        action normalised into [0, 1] on `linspace(0, 1, n)`."""
        scaled = self.normalised(actions)
        bins = torch.empty_like(scaled, dtype=torch.long)
        for count, axes in self.bin_groups.items():  # one bucketize per bin count (50, 100)
            edges = getattr(self, f"edges_{count}")
            bins[..., axes] = torch.bucketize(scaled[..., axes].contiguous(), edges)
        return bins

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        """Action tokens [..., E] of actions scaled into [0, 1] [..., A] (split per pose key)."""
        parts, start = {}, 0
        for key, heads in self.CONVENTIONS.heads.items():
            parts[key] = values[..., start : start + len(heads)]
            start += len(heads)
        return self.action_encoder(parts)

    def bin_tokens(self, bins: torch.Tensor) -> torch.Tensor:
        """Action tokens [..., E] of bins [..., A], each embedded as `bin / n`."""
        return self.encode_values(bins.float() / self.bin_counts.to(torch.float32))

    def action_tokens(self, actions: torch.Tensor) -> torch.Tensor:
        """VIMA's tokens [..., E] of continuous actions [..., 14]: binned, then `bin_tokens`
        (how VIMA's evaluation feeds its own actions back)."""
        return self.bin_tokens(self.action_bins(actions))

    def logits_of(self, features: torch.Tensor) -> torch.Tensor:
        """Logits [..., A, 100] (float32; classes beyond an axis's bins get -1e9)."""
        heads = [x for parts in self.action_logits(features).values() for x in parts]
        most = max(x.shape[-1] for x in heads)
        out = features.new_full((*features.shape[:-1], len(heads), most), -1e9).float()
        for axis, logits in enumerate(heads):
            out[..., axis, : logits.shape[-1]] = logits.float()
        return out

    # ------------------------------------------------------------- interface
    def forward(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced logits [B, T, A, 100] (float32) for every step of the batch."""
        steps = batch.step_mask.shape[1]
        cache = self.encode_prompt(batch)
        obs_tokens, obs_mask = self.observation_stream(batch.observations, steps)
        obs_mask = obs_mask & batch.step_mask.unsqueeze(-1)
        actions = self.action_tokens(batch.actions)
        features = self.decode(obs_tokens, obs_mask, actions, cache.memory, cache.valid)
        return self.logits_of(features)

    def targets(self, batch: Batch) -> torch.Tensor:
        """The heads' bins [B, T, A], IGNORE_INDEX on padded steps."""
        bins = self.action_bins(batch.actions)
        return bins.masked_fill(~batch.step_mask.unsqueeze(-1), IGNORE_INDEX)

    def act_logits(
        self, cache: PromptCache, observations: Observations, actions: torch.Tensor
    ) -> torch.Tensor:
        """Logits [B, A, 100] of the next action of each episode (t_b observations seen so
        far, the continuous actions taken before: `act` of vima-train's policy)."""
        seen, padded = actions_so_far(observations, actions)
        obs_tokens, obs_mask = self.observation_stream(observations, padded.shape[1])
        action_tokens = self.action_tokens(padded)
        features = self.decode(obs_tokens, obs_mask, action_tokens, cache.memory, cache.valid)
        rows = torch.arange(features.shape[0], device=seen.device)
        return self.logits_of(features[rows, seen - 1])

    @torch.no_grad()
    def act(
        self, cache: PromptCache, observations: Observations, actions: torch.Tensor
    ) -> torch.Tensor:
        """Greedy bins [B, A] of the next action of each episode (`act_logits`' argmax): the
        whole history re-read, the reference for `begin_episode`."""
        return self.act_logits(cache, observations, actions).argmax(-1)

    def begin_episode(self, cache: PromptCache) -> VimaEpisode:
        """One episode's incremental decoder from its encoded prompt (batch of one): the same
        logits as `act_logits`, each step encoding and decoding its new tokens only."""
        return VimaEpisode(self, cache)

    def bins_to_actions(self, bins: torch.Tensor) -> torch.Tensor:
        """Bins [..., A] -> continuous 14-axis actions [..., 14] the way VIMA's evaluation
        maps them (`bin / n` of the bounds, clamped); an axis without a head (VIMA's z) is
        `Z_FILL`."""
        values = self.low + bins.float() / self.bin_counts.float() * (self.high - self.low)
        values = torch.minimum(torch.maximum(values, self.low), self.high)
        out = torch.full((*bins.shape[:-1], 14), Z_FILL, device=bins.device)
        out[..., self.axes] = values
        return out
