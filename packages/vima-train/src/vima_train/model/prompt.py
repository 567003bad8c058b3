"""The multimodal prompt: word and visual tokens interleaved in prompt order, then encoded.

Each image placeholder expands in place into its visual tokens (object-centric: K front objects
then K top objects, K = most objects per image in the batch; patches: 16). Assembly is a
scatter computed from the token types, with no per-sample Python loop.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from vima_schema.vocabulary import PLACEHOLDER_TOKENS

from vima_train.config import ConfigError, PromptEncoderConfig
from vima_train.model.layers import Encoder, mlp, positions


def assemble(
    token_types: torch.Tensor,
    words: torch.Tensor,
    word_mask: torch.Tensor,
    images: torch.Tensor,
    image_mask: torch.Tensor,
    image_token_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Interleave words [B, W, D] and image tokens [B, I, Q, D] following `token_types`
    [B, L_tok] (0 word, 1 image, -1 padding).

    Returns the sequence [B, L, D], `present` [B, L] (a token exists there) and `is_word`
    [B, L]; `image_token_mask` [B, I, Q] says which visual tokens are real objects.
    """
    batch, _, dim = words.shape
    per_image = images.shape[2]
    lengths = torch.where(token_types == 0, 1, 0) + torch.where(token_types == 1, per_image, 0)
    ends = lengths.cumsum(-1)
    starts = ends - lengths
    total = int(ends[:, -1].max()) if ends.numel() else 0
    sequence = words.new_zeros(batch, total, dim)
    present = torch.zeros(batch, total, dtype=torch.bool, device=words.device)
    is_word = torch.zeros_like(present)
    word_b, word_t = (token_types == 0).nonzero(as_tuple=True)
    word_at = starts[word_b, word_t]
    sequence = sequence.index_put((word_b, word_at), words[word_mask])
    present[word_b, word_at] = True
    is_word[word_b, word_at] = True
    image_b, image_t = (token_types == 1).nonzero(as_tuple=True)
    image_at = starts[image_b, image_t].unsqueeze(1) + torch.arange(per_image, device=words.device)
    rows = image_b.unsqueeze(1).expand_as(image_at)
    sequence = sequence.index_put((rows, image_at), images[image_mask])
    present[rows, image_at] = image_token_mask[image_mask]
    return sequence, present, is_word


def early_t5_blocks(t5: Any, train_last_n: int | None) -> list[nn.Module]:
    """T5's encoder blocks before its last `train_last_n` (`prompt_encoder.train_last_n`: the
    ones that do not learn); none when it is None (every block learns)."""
    if train_last_n is None:
        return []
    blocks = list(t5.encoder.block)
    return blocks[: max(len(blocks) - train_last_n, 0)]


class PromptEncoder(nn.Module):
    """Word embedding + visual-token MLP + encoder (transformer from scratch, or T5)."""

    def __init__(
        self, config: PromptEncoderConfig, dim: int, mult: int, dropout: float, vocab: int
    ) -> None:
        super().__init__()
        self.config = config
        self.t5: Any = None
        if config.kind == "t5":
            self.t5 = t5_encoder(config)
            width = int(self.t5.config.d_model)
            # placeholders are added tokens after the words and are never embedded as words
            if vocab - len(PLACEHOLDER_TOKENS) > self.t5.config.vocab_size:
                raise ConfigError(
                    f"tokenizer has {vocab - len(PLACEHOLDER_TOKENS)} word ids but the T5 "
                    f"embedding only {self.t5.config.vocab_size}: tokenize with the T5 tokenizer"
                )
            self.words = self.t5.get_input_embeddings()
            self.position: nn.Embedding | None = None
            self.encoder: Encoder | None = None
        else:
            width = dim
            self.words = nn.Embedding(vocab, width)
            self.position = nn.Embedding(config.max_length, width)
            self.encoder = Encoder(width, config.layers, config.heads, mult, dropout)
        self.visual_post = mlp([dim, dim, dim, width])
        self.out = nn.Linear(width, dim) if width != dim else nn.Identity()
        self._frozen: list[nn.Module] = []
        if self.t5 is not None and config.train_last_n is not None:
            self._frozen = [self.words, *early_t5_blocks(self.t5, config.train_last_n)]
            for module in self._frozen:
                module.requires_grad_(False)

    def train(self, mode: bool = True) -> PromptEncoder:
        """Frozen T5 parts stay in eval mode (no dropout in blocks that do not learn)."""
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self

    def forward(
        self,
        sequence: torch.Tensor,
        present: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:
        """Encode an assembled prompt [B, L, width]; `valid` tokens may be attended to."""
        if self.t5 is not None:
            hidden = self.t5(inputs_embeds=sequence, attention_mask=valid.long()).last_hidden_state
            return self.out(hidden)
        assert self.encoder is not None and self.position is not None
        if sequence.shape[1] > self.config.max_length:
            raise ValueError(
                f"prompt of {sequence.shape[1]} tokens exceeds prompt_encoder.max_length "
                f"{self.config.max_length}"
            )
        x = sequence + self.position(positions(present))
        allowed = valid.unsqueeze(1).expand(-1, x.shape[1], -1)
        return self.out(self.encoder(x, allowed))


#: Architectures of pretrained T5 encoders the presets name, to build them without weights
#: (`vima-train presets` counts parameters offline; model-reference.md section 9).
KNOWN_T5: dict[str, dict[str, Any]] = {
    name: {
        "d_model": 768,
        "d_ff": 3072,
        "d_kv": 64,
        "num_layers": 12,
        "num_heads": 12,
        "vocab_size": 32128,
        "feed_forward_proj": "relu",
    }
    for name in ("t5-base", "google-t5/t5-base")
}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise ConfigError(
            "prompt_encoder.kind=t5 needs the t5 extra: uv sync --all-packages --extra t5"
        ) from error
    return transformers


def check_t5_source(config: PromptEncoderConfig) -> None:
    """Raise `ConfigError` naming what to download when the pretrained T5 of a `kind=t5`
    config is neither a local folder nor reachable (Hugging Face cache or Hub). Only the small
    config file is fetched here; the weights load when the policy is built."""
    if config.kind != "t5" or config.t5_path is None:
        return
    transformers = _transformers()
    try:
        transformers.T5Config.from_pretrained(config.t5_path)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"model.prompt_encoder.t5_path={config.t5_path!r}: the pretrained T5 encoder is "
            f"not a local folder, not in the Hugging Face cache, and the Hub did not answer "
            f"({reason}). Download it where the Hub is reachable (`hf download "
            f"{config.t5_path}`, then copy ~/.cache/huggingface or set HF_HOME), or set "
            f"model.prompt_encoder.t5_path and data.tokenizer to a local t5-base folder; the "
            f"presets named scratch-* train the prompt encoder from scratch instead"
        ) from None


def offline_architecture(config: PromptEncoderConfig) -> PromptEncoderConfig:
    """The same encoder built from its known architecture instead of pretrained weights (for
    counting parameters without a download); unknown T5 names are returned unchanged."""
    if config.kind == "t5" and config.t5_path in KNOWN_T5:
        return config.model_copy(update={"t5_path": None, "t5_config": KNOWN_T5[config.t5_path]})
    return config


def t5_encoder(config: PromptEncoderConfig) -> Any:
    """The transformers `T5EncoderModel` of a `kind=t5` config (random from `t5_config`, else
    pretrained from `t5_path`)."""
    transformers = _transformers()
    if config.t5_config is not None:
        return transformers.T5EncoderModel(transformers.T5Config(**config.t5_config))
    return transformers.T5EncoderModel.from_pretrained(config.t5_path)
