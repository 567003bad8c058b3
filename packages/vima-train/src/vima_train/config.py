"""Run configuration: pydantic models, presets (YAML files) and `KEY=VALUE` overrides.

A preset is a YAML file in `vima_train/presets/`; `extends: NAME` starts from another preset and
deep-merges the file's keys over it. Every key is validated (unknown keys are errors).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A preset, override or config file that cannot be used (message names the problem)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptEncoderConfig(_Strict):
    """Encoder of the interleaved word/visual prompt."""

    kind: Literal["transformer", "t5"] = "transformer"
    #: transformer: layers and heads of the encoder trained from scratch.
    layers: int = Field(default=2, ge=0)
    heads: int = Field(default=4, ge=1)
    #: Most prompt tokens (words + visual tokens); longer prompts are an error.
    max_length: int = Field(default=512, ge=1)
    #: t5: local folder or hub name of a pretrained T5 (transformers `T5EncoderModel`).
    t5_path: str | None = None
    #: t5: a `T5Config` as a mapping, to build a randomly initialised T5 instead (tests).
    t5_config: dict[str, Any] | None = None
    #: t5: train only the last N blocks (and the final layer norm); the word embedding and the
    #: other blocks are frozen and kept in eval mode (no dropout). None trains everything.
    train_last_n: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _t5_source(self) -> PromptEncoderConfig:
        if self.kind == "t5" and (self.t5_path is None) == (self.t5_config is None):
            raise ValueError("prompt_encoder.kind=t5 needs exactly one of t5_path, t5_config")
        return self


class VisualConfig(_Strict):
    """Visual tokens of observations and prompt images."""

    kind: Literal["objects", "patches"] = "objects"
    layers: int = Field(default=2, ge=0)
    heads: int = Field(default=4, ge=1)
    #: ViT width; None = model.embed_dim.
    width: int | None = Field(default=None, ge=8)
    #: objects: box coordinates into the box MLP as they are (`linear`, the published models)
    #: or as sines and cosines at `bbox_frequencies` octaves (`fourier`: a 1 cm move changes
    #: the features as much as a large one, so fine positions are easy to read out).
    bbox_encoding: Literal["linear", "fourier"] = "linear"
    bbox_frequencies: int = Field(default=6, ge=1, le=12)
    #: objects: LayerNorm on the crop feature and on the bounding-box feature of each view
    #: before they are fused (the published models have none).
    fusion_norm: bool = False
    #: LayerNorm on every visual token (observations and prompt images) after its fusion
    #: (the published models have none).
    token_norm: bool = False
    #: objects: side of the crop ViT's square patches on the 32 x 32 crops (16, the published
    #: models: 4 patches; 8: 16 patches, finer shape and texture at about 3x the crop cost).
    crop_patch: Literal[8, 16] = 16


class DecoderConfig(_Strict):
    """Sequence model over observation and action tokens."""

    kind: Literal["xattn", "decoder_only"] = "xattn"
    layers: int = Field(default=2, ge=1)
    heads: int = Field(default=4, ge=1)
    #: Most positions of the obs/action stream (decoder_only: prompt + separator included).
    max_length: int = Field(default=512, ge=1)
    #: Heads of the cross-attention layers (None = `heads`; VIMA's `xattn_n_heads`).
    cross_heads: int | None = Field(default=None, ge=1)
    #: What predicts a step's action: the output at its last observation token
    #: (`last_object`, the published models) or at a learned readout token inserted after the
    #: observation tokens of every step (`token`: its output is what attention gathered, not
    #: one object's token).
    readout: Literal["last_object", "token"] = "last_object"


#: Settings a `family: vima` or `family: cogelot` config may choose (the cfg, T5, dropout and the
#: evaluation switches); every other setting must have the value of `REFERENCE_FIXED[family]` or
#: its default.
VIMA_FREE = frozenset(
    {
        "family",
        "embed_dim",
        "dropout",
        "decoder.layers",
        "decoder.heads",
        "decoder.cross_heads",
        "prompt_encoder.t5_path",
        "prompt_encoder.t5_config",
        "prompt_encoder.train_last_n",
        "shuffle_objects",
        "prompt_mask",
    }
)
#: What VIMA's network is, in vima-train's terms (vima_train.policies.vima).
VIMA_FIXED: dict[str, Any] = {
    "action_axes": 12,
    "prompt_encoder.kind": "t5",
    "prompt_encoder.max_length": 256,
    "decoder.kind": "xattn",
    "decoder.max_length": 512,
    "visual.kind": "objects",
}
#: What CoGeLoT's copy of VIMA's network is (vima_train.policies.cogelot): 3-D positions, 14 axes;
#: its decoder is VIMA's cross-attention one or its concatenation GPT (`decoder.kind`), its
#: visual tokens object crops or frame patches (`visual.kind`).
COGELOT_FIXED: dict[str, Any] = {
    k: v for k, v in VIMA_FIXED.items() if k not in {"decoder.kind", "visual.kind"}
} | {"action_axes": 14}
#: The fixed and the free settings of each reference family.
REFERENCE_FIXED: dict[str, dict[str, Any]] = {"vima": VIMA_FIXED, "cogelot": COGELOT_FIXED}
REFERENCE_FREE: dict[str, frozenset[str]] = {
    "vima": VIMA_FREE,
    "cogelot": VIMA_FREE | {"decoder.kind", "visual.kind"},
}


class ModelConfig(_Strict):
    """Policy architecture; two checkpoints with equal ModelConfig have the same shape."""

    #: Which network: `vima-train` (vima_train.model, with its switches), `vima` (VIMA's
    #: published network exactly, vima_train.policies.vima) or `cogelot` (CoGeLoT's copy of it,
    #: vima_train.policies.cogelot); in the reference families only the settings in `VIMA_FREE`
    #: may change.
    family: Literal["vima-train", "vima", "cogelot"] = "vima-train"
    embed_dim: int = Field(default=64, ge=8)
    ff_mult: int = Field(default=4, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    #: 14 = CoGeLoT (z included), 12 = VIMA (no z).
    action_axes: Literal[12, 14] = 14
    #: Linear-layer init: gpt = N(0, 0.02) (the published models), fan_in = N(0, 1/fan_in).
    init: Literal["gpt", "fan_in"] = "gpt"
    #: Pick/place x and y: per-axis bins heads (`bins`, the published models) or a choice among
    #: the observed objects placed where their top-view boxes lie, mixed with the bins heads by
    #: a learned gate (`pointer`, vima_train.model.pointer; object-centric policies only);
    #: `pointer_match` also compares the prompt's pictures with the observed objects directly.
    position_head: Literal["bins", "pointer", "pointer_match"] = "bins"
    #: Hidden width of the per-axis action heads.
    head_hidden: int = Field(default=512, ge=1)
    #: Width of the per-pose action-encoder MLPs.
    action_hidden: int = Field(default=256, ge=1)
    prompt_encoder: PromptEncoderConfig = PromptEncoderConfig()
    visual: VisualConfig = VisualConfig()
    decoder: DecoderConfig = DecoderConfig()
    #: Shuffle object tokens of every observation (valid slots, per view, fresh per forward).
    shuffle_objects: bool = False
    #: Mask part of the prompt: none, text, visual or both.
    prompt_mask: Literal["none", "text", "visual", "both"] = "none"

    @model_validator(mode="after")
    def _reference_is_fixed(self) -> ModelConfig:
        if self.family not in REFERENCE_FIXED:
            return self
        defaults = flatten_keys(ModelConfig().model_dump())
        wanted = defaults | REFERENCE_FIXED[self.family]
        actual = flatten_keys(self.model_dump())
        free = REFERENCE_FREE[self.family]
        wrong = [
            f"{key}={actual[key]!r} (the network has {wanted[key]!r})"
            for key in sorted(actual)
            if not any(key == name or key.startswith(f"{name}.") for name in free)
            and actual[key] != wanted.get(key)
        ]
        if wrong:
            raise ValueError(
                f"family={self.family} is a published network exactly; not part of it: "
                + ", ".join(wrong)
            )
        return self

    @model_validator(mode="after")
    def _shuffle_needs_objects(self) -> ModelConfig:
        if self.shuffle_objects and self.visual.kind != "objects":
            raise ValueError("shuffle_objects needs visual.kind=objects")
        if self.position_head != "bins" and self.visual.kind != "objects":
            raise ValueError(f"position_head={self.position_head} needs visual.kind=objects")
        return self


class DataConfig(_Strict):
    """Which tokenized configs to read and how to batch them."""

    #: Dataset variants (folder names): original, reworded, a perturbation name...; several
    #: are mixed in one dataset.
    variants: list[str] = Field(default_factory=lambda: ["original"], min_length=1)
    #: Task names to keep; None = every task found.
    tasks: list[str] | None = None
    batch_size: int = Field(default=16, ge=1)
    num_workers: int = Field(default=0, ge=0)
    #: Batch episodes of similar token counts together (less padding).
    bucket_by_length: bool = False
    #: Folder of the memory-mapped Arrow cache; None = $VIMA_TRAIN_CACHE or ~/.cache/vima-train.
    cache_dir: str | None = None
    #: tokenizer.json the dataset was tokenized with, when it is not vima-tokenize's default.
    tokenizer: str | None = None


class TrainConfig(_Strict):
    """Optimisation, schedule, hardware and logging."""

    seed: int = 1000
    lr: float = Field(default=1e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    #: full: warm-up then cosine to lr_end at the last step; vima: cosine ends at
    #: vima_decay_end; constant: warm-up then flat.
    schedule: Literal["full", "vima", "constant"] = "full"
    #: Warm-up steps; a value below 1 is a fraction of the total steps.
    warmup: float = Field(default=7000, ge=0)
    lr_end: float = Field(default=1e-7, ge=0)
    vima_decay_end: int = Field(default=24000, ge=1)
    max_steps: int = Field(default=-1, ge=-1)
    max_epochs: int = Field(default=10, ge=1)
    accumulate: int = Field(default=1, ge=1)
    gradient_clip: float = Field(default=1.0, ge=0)
    #: Training targets: 0 = the exact bin (one-hot cross-entropy, the published loss);
    #: sigma > 0 = Gaussian soft targets over neighbouring bins (sigma in bins). Validation
    #: losses stay exact-bin cross-entropy.
    label_sigma: float = Field(default=0.0, ge=0)
    #: Augment object crops while training: none, or dihedral (each crop turned by a random
    #: multiple of 90 degrees and maybe mirrored; vima_train.augment).
    augment_crops: Literal["none", "dihedral"] = "none"
    #: auto = bf16-mixed on GPU, 32-true on CPU.
    precision: str = "auto"
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = Field(default=1, ge=1)
    strategy: str = "auto"
    wandb: Literal["offline", "online", "disabled"] = "offline"
    wandb_project: str = "vima-train"
    #: Also save a checkpoint every N optimiser steps (besides every epoch and last).
    checkpoint_every_n_steps: int | None = Field(default=None, ge=1)
    log_every_n_steps: int = Field(default=10, ge=1)
    #: Run validation every epoch (False skips it).
    run_validation: bool = True
    #: Write `<run>/episodes/rank<R>.txt`: every (variant, task, index) trained on, in order.
    record_episodes: bool = False


class RunConfig(_Strict):
    """Everything a training run depends on besides the dataset."""

    preset: str = "custom"
    description: str = ""
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()


#: Settings a resumed run may change: where it runs, how long, and how it logs; not what it
#: learns (every other difference makes `fit --resume` refuse the checkpoint).
RESUME_MAY_CHANGE = frozenset(
    {
        "preset",
        "description",
        "data.num_workers",
        "data.cache_dir",
        *(
            f"train.{name}"
            for name in (
                "max_steps",
                "max_epochs",
                "precision",
                "accelerator",
                "devices",
                "num_nodes",
                "strategy",
                "wandb",
                "wandb_project",
                "checkpoint_every_n_steps",
                "log_every_n_steps",
                "run_validation",
                "record_episodes",
            )
        ),
    }
)


def learning_differences(before: RunConfig, after: RunConfig) -> list[str]:
    """`key: old -> new` for every setting outside `RESUME_MAY_CHANGE` that differs."""
    old, new = flatten_keys(before.model_dump()), flatten_keys(after.model_dump())
    return [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in sorted(old.keys() | new.keys())
        if key not in RESUME_MAY_CHANGE and old.get(key) != new.get(key)
    ]


def flatten_keys(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as `a.b.c: value` (mappings flattened, everything else a leaf)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= flatten_keys(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


#: Preset names that no longer name a network, and what to use instead. A name never comes back
#: with another network (tests/train/data/presets-golden.json pins every current one).
RETIRED_PRESETS = {
    f"vima-{size}": (
        f"renamed vt-vima-{size} on 2026-12-07 (vima-train's network at VIMA's size); VIMA's own "
        "network is family vima: vima-2m, vima-200m, or `vima-train import` of a released file"
    )
    for size in ("4m", "9m", "20m", "43m", "92m")
}


def _presets_dir() -> Any:
    return resources.files("vima_train") / "presets"


def preset_names() -> list[str]:
    """Names of the shipped presets, sorted (files starting with `_` are mixins, not presets)."""
    return sorted(
        p.name[:-5]
        for p in _presets_dir().iterdir()
        if p.name.endswith(".yaml") and not p.name.startswith("_")
    )


def _preset_dict(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A preset's mapping: `extends` (a name or a list, merged in order) under its own keys."""
    if name in seen:
        raise ConfigError(f"preset {name!r}: circular 'extends'")
    source = _presets_dir() / f"{name}.yaml"
    if name in RETIRED_PRESETS and not source.is_file():
        raise ConfigError(f"preset {name!r} was {RETIRED_PRESETS[name]}")
    if not source.is_file():
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(preset_names())})")
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    bases = data.pop("extends", None) or []
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = deep_merge(merged, _preset_dict(base, (*seen, name)))
    return deep_merge(merged, data)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` merged over `base` (nested mappings merged, everything else replaced)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_key(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one `a.b.c=VALUE` override (VALUE parsed as YAML) to a config mapping."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {assignment!r} is not KEY=VALUE")
    parts = key.split(".")
    model: type[BaseModel] = RunConfig
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            where = ".".join(parts[:depth]) or "the config"
            raise ConfigError(f"unknown key {key!r}: {where} has no field {part!r}")
        annotation = field.annotation
        if depth < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                raise ConfigError(f"unknown key {key!r}: {'.'.join(parts[: depth + 1])} is a value")
            model = annotation
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {assignment!r}: value is not valid YAML ({error})") from None
    update: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        update = {part: update}
    return deep_merge(data, update)


def validate(data: dict[str, Any], where: str) -> RunConfig:
    """Validate a config mapping; errors become one `ConfigError` line naming `where`."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None


def load_preset(name: str, overrides: Sequence[str] = ()) -> RunConfig:
    """The validated config of preset `name` with `KEY=VALUE` overrides applied."""
    data = _preset_dict(name)
    data["preset"] = name
    for assignment in overrides:
        data = set_key(data, assignment)
    return validate(data, f"preset {name!r}")


def to_yaml(config: RunConfig) -> str:
    """The config as readable YAML (every field, resolved)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
