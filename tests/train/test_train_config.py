"""Presets and overrides."""

from __future__ import annotations

import pytest
import torch
from vima_train.config import ConfigError, load_preset, preset_names, to_yaml
from vima_train.model import Policy

COGELOT = [
    f"cogelot-{d}-{v}-{i}"
    for d in ("xattn", "concat")
    for v in ("obj", "obj-shuffle", "patches")
    for i in ("original", "reworded")
]


def _parameters(name: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in Policy(load_preset(name).model, 1512).parameters())


def test_every_preset_validates_and_builds() -> None:
    names = preset_names()
    assert {"tiny", "reference-37m", *COGELOT} <= set(names)
    assert {f"vima-{s}" for s in ("2m", "4m", "9m", "20m", "43m", "92m", "200m")} <= set(names)
    for name in names:
        assert load_preset(name).preset == name
    assert _parameters("tiny") < 1_000_000
    counts = [_parameters(f"vima-{s}") for s in ("2m", "4m", "9m", "20m", "43m", "92m", "200m")]
    assert counts == sorted(counts)
    labels = [2e6, 4e6, 9e6, 20e6, 43e6, 92e6, 200e6]
    assert all(0.8 < c / label < 1.2 for c, label in zip(counts, labels, strict=True))


def test_cogelot_experiments_differ_only_in_their_axes() -> None:
    shuffle = load_preset("cogelot-concat-obj-shuffle-reworded")
    assert shuffle.model.decoder.kind == "decoder_only" and shuffle.model.shuffle_objects
    assert shuffle.data.variants == ["reworded"]
    patches = load_preset("cogelot-xattn-patches-original")
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
