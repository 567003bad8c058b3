"""Published presets are fixed: every preset resolves to its golden config, names never change
network (scripts/preset_golden.py writes the golden file when presets are added)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vima_train.config import (
    RETIRED_PRESETS,
    ConfigError,
    flatten_keys,
    load_preset,
    preset_names,
)

GOLDEN = json.loads((Path(__file__).parent / "data" / "presets-golden.json").read_text())


def test_every_preset_resolves_to_its_golden_config() -> None:
    """A changed default or mixin that moves any preset's network or recipe fails here, naming
    the preset and the first differing keys: a change needs a new preset name."""
    assert set(preset_names()) == set(GOLDEN), "add new presets with scripts/preset_golden.py"
    changed = {}
    for name in preset_names():
        now, then = (
            flatten_keys(load_preset(name).model_dump(mode="json")),
            flatten_keys(GOLDEN[name]),
        )
        diff = sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k))
        if diff:
            changed[name] = diff[:5]
    assert not changed, f"presets changed (give the new network a new name): {changed}"


def test_retired_names_fail_loudly() -> None:
    for name in RETIRED_PRESETS:
        assert name not in GOLDEN
        with pytest.raises(ConfigError, match="renamed vt-"):
            load_preset(name)
