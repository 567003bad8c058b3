"""Presets and overrides."""

from __future__ import annotations

import pytest
from vima_train.config import ConfigError, load_preset, preset_names, to_yaml
from vima_train.model.prompt import check_t5_source
from vima_train.policies import parameter_count

#: vima-train's network in CoGeLoT's twelve experiments (named cogelot-* before 2026-12-07).
COGELOT = [
    f"vt-cogelot-{d}-{v}-{i}"
    for d in ("xattn", "concat")
    for v in ("obj", "obj-shuffle", "patches")
    for i in ("original", "reworded")
]


SIZES = ("2m", "4m", "9m", "20m", "43m", "92m", "200m")


def _parameters(name: str) -> int:
    return parameter_count(load_preset(name).model, 1512)


def test_every_preset_validates_and_builds() -> None:
    names = preset_names()
    scratch = {f"scratch-{n.removeprefix('vt-')}" for n in COGELOT}
    assert {"tiny", "reference-37m", *COGELOT, *scratch} <= set(names)
    assert {f"{kind}{s}" for kind in ("vt-vima-", "scratch-vima-") for s in SIZES} <= set(names)
    assert {"vima-2m", "vima-200m"} <= set(names)
    assert not [name for name in names if name.startswith("_")]  # mixins are not presets
    for name in names:
        assert load_preset(name).preset == name
    assert _parameters("tiny") < 1_000_000
    counts = [_parameters(f"scratch-vima-{s}") for s in SIZES]
    assert counts == sorted(counts)
    labels = [2e6, 4e6, 9e6, 20e6, 43e6, 92e6, 200e6]
    assert all(0.8 < c / label < 1.2 for c, label in zip(counts, labels, strict=True))
    # the published presets carry T5-base (110M encoder) on top of their own parts
    assert all(_parameters(f"vt-vima-{s}") > 100e6 for s in SIZES)
    # VIMA's own network: the "200M" label counts its decoder (xattn_gpt)
    assert load_preset("vima-200m").model.family == "vima"
    assert 385e6 < _parameters("vima-200m") < 395e6
    # CoGeLoT's own network (its cross-attention, object-centric experiments)
    reference = [
        f"cogelot-{d}-{v}-{i}"
        for d in ("xattn", "concat")
        for v in ("obj", "obj-shuffle", "patches")
        for i in ("original", "reworded")
    ]
    assert {load_preset(name).model.family for name in reference} == {"cogelot"}
    assert _parameters("cogelot-xattn-obj-original") > _parameters("vima-200m")  # 14 heads


def test_paper_presets_use_pretrained_t5_and_scratch_ones_do_not() -> None:
    """vt-cogelot-* and vt-vima-* have the papers' prompt encoder (pretrained T5-base, data
    tokenized with the t5-base tokenizer; CoGeLoT trains its last two blocks); each scratch-*
    twin differs only in the prompt encoder and the tokenizer."""
    for name in [*COGELOT, *(f"vt-vima-{s}" for s in SIZES)]:
        twin = f"scratch-{name.removeprefix('vt-')}"
        paper, scratch = load_preset(name), load_preset(twin)
        prompt = paper.model.prompt_encoder
        assert prompt.kind == "t5" and prompt.t5_path == "t5-base", name
        assert paper.data.tokenizer == "t5-base" and scratch.data.tokenizer is None
        assert prompt.train_last_n == (2 if name.startswith("vt-cogelot") else None)
        assert scratch.model.prompt_encoder.kind == "transformer"
        assert paper.model.model_copy(update={"prompt_encoder": scratch.model.prompt_encoder}) == (
            scratch.model
        )
        assert paper.train == scratch.train
    for name in preset_names():
        if not name.startswith(("cogelot-", "vima-", "vt-vima-", "vt-cogelot-")):
            assert load_preset(name).model.prompt_encoder.kind == "transformer", name


def test_t5_preset_without_t5_weights_is_a_config_error_naming_the_download() -> None:
    pytest.importorskip("transformers", reason="t5 extra not installed")
    config = load_preset(
        "cogelot-xattn-obj-original", ["model.prompt_encoder.t5_path=/no/such/folder/t5-base"]
    )
    with pytest.raises(ConfigError, match=r"hf download /no/such/folder/t5-base.*scratch-"):
        check_t5_source(config.model.prompt_encoder)
    check_t5_source(load_preset("scratch-cogelot-xattn-obj-original").model.prompt_encoder)


def test_cogelot_experiments_differ_only_in_their_axes() -> None:
    shuffle = load_preset("vt-cogelot-concat-obj-shuffle-reworded")
    assert shuffle.model.decoder.kind == "decoder_only" and shuffle.model.shuffle_objects
    assert shuffle.data.variants == ["reworded"]
    patches = load_preset("vt-cogelot-xattn-patches-original")
    assert patches.model.visual.kind == "patches" and patches.model.decoder.kind == "xattn"
    assert shuffle.model.embed_dim == patches.model.embed_dim == 768


def test_overrides_and_errors() -> None:
    config = load_preset("tiny", ["model.decoder.layers=3", "data.variants=[original, reworded]",
                                  "train.lr=0.5", "data.tasks=null"])  # fmt: skip
    assert config.model.decoder.layers == 3 and config.train.lr == 0.5
    assert config.data.variants == ["original", "reworded"] and config.data.tasks is None
    assert config.model.decoder.heads == load_preset("tiny").model.decoder.heads
    assert "layers: 3" in to_yaml(config)
    for bad, message in [
        ("model.decoder.nope=1", "has no field 'nope'"),
        ("model.embed_dim.x=1", "is a value"),
        ("train.lr=-1", "train.lr"),
        ("model.action_axes=13", "model.action_axes"),
        ("novalue", "not KEY=VALUE"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_preset("tiny", [bad])
    with pytest.raises(ConfigError, match="unknown preset"):
        load_preset("huge")


def test_learning_rate_schedules() -> None:
    from vima_train.config import TrainConfig
    from vima_train.schedule import lr_multiplier

    full = TrainConfig(warmup=100, lr=1e-4, lr_end=1e-7)
    assert lr_multiplier(0, full, 1000) == pytest.approx(0.01)
    assert lr_multiplier(49, full, 1000) == pytest.approx(0.5)
    assert lr_multiplier(99, full, 1000) == pytest.approx(1.0)
    assert lr_multiplier(100, full, 1000) == pytest.approx(1.0)
    assert lr_multiplier(550, full, 1000) == pytest.approx(0.5 + 0.5e-3, rel=1e-6)  # halfway
    assert lr_multiplier(1000, full, 1000) == pytest.approx(1e-3)
    assert lr_multiplier(5000, full, 1000) == pytest.approx(1e-3)
    vima = TrainConfig(warmup=7000, schedule="vima", vima_decay_end=24000)
    assert lr_multiplier(24000, vima, 46880) == pytest.approx(1e-3)
    assert lr_multiplier(15500, vima, 46880) == pytest.approx(0.5 + 0.5e-3, rel=1e-6)
    fraction = TrainConfig(warmup=0.1, schedule="constant")
    assert lr_multiplier(9, fraction, 100) == pytest.approx(1.0)
    assert lr_multiplier(4, fraction, 100) == pytest.approx(0.5)
    assert lr_multiplier(99, fraction, 100) == 1.0
