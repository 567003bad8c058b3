"""Tests of the shared VIMA prompt vocabulary (vima_schema.vocabulary) against the samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from vima_schema import vocabulary
from vima_schema.layout import placeholders
from vima_schema.reader import read_episode

SAMPLE_DIRS = sorted((Path(__file__).resolve().parents[2] / "data" / "samples").glob("*/*/000000"))


def _tuples() -> dict[str, tuple[object, ...]]:
    """Every tuple of the module, including the word lists of the slot mappings."""
    found: dict[str, tuple[object, ...]] = {}
    for name, value in vars(vocabulary).items():
        if name.isupper() and isinstance(value, tuple):
            found[name] = value
        elif name.isupper() and isinstance(value, dict):
            for slot, words in value.items():
                if isinstance(words, tuple):
                    found[f"{name}[{slot}]"] = words
    return found


def test_sample_episodes_are_present() -> None:
    assert len(SAMPLE_DIRS) >= 9


def test_sample_prompts_and_objects_are_in_the_vocabulary(sample_dir: Path) -> None:
    episode = read_episode(sample_dir)
    names = placeholders(episode.prompt)
    assert names
    assert set(names) <= set(vocabulary.PLACEHOLDER_NAMES), episode.prompt
    for info in episode.objects.values():
        assert info.obj_name in vocabulary.OBJECT_NAMES, info.obj_name
        assert info.texture_name in vocabulary.TEXTURE_NAMES, info.texture_name
    for asset in episode.prompt_assets.values():
        for shown in asset.obj_info:
            assert shown.obj_name in vocabulary.OBJECT_NAMES, shown.obj_name


def test_placeholder_tokens_match_names() -> None:
    assert len(vocabulary.PLACEHOLDER_NAMES) == 114
    tokens = tuple(f"{{{name}}}" for name in vocabulary.PLACEHOLDER_NAMES)
    assert tokens == vocabulary.PLACEHOLDER_TOKENS


@pytest.mark.parametrize(("name", "values"), sorted(_tuples().items()))
def test_no_duplicates(name: str, values: tuple[object, ...]) -> None:
    assert values, name
    assert len(set(values)) == len(values), name


def test_task_slots_refine_the_shared_slots() -> None:
    assert set(vocabulary.TASK_PARAPHRASE_SLOTS) == {
        "sweep_without_exceeding",
        "sweep_without_touching",
        "same_texture",
        "same_shape",
    }
    for slots in (vocabulary.PARAPHRASE_SLOTS, *vocabulary.TASK_PARAPHRASE_SLOTS.values()):
        assert all(isinstance(words, tuple) and words for words in slots.values())
