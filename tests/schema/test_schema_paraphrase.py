"""Tests of the paraphrase ("reworded") engine of vima-schema."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from vima_schema.layout import PLACEHOLDER_REGEX
from vima_schema.paraphrase import (
    PARAPHRASE_VOCABULARY,
    SUPPORTED_TASKS,
    RewordError,
    reword_prompt,
)

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "vima-raw"
PH = re.compile(PLACEHOLDER_REGEX)

# Prompts of instance 000000 of the 13 training tasks (vima-raw-format.md §5.3), with the
# texture names that occur in them.
REAL_PROMPTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "follow_order": ("Stack objects in this order {frame_0} {frame_1} {frame_2}.", ()),
    "manipulate_old_neighbor": (
        "First put {dragged_obj} into {base_obj} then put the object that was previously at its "
        "west into the same {base_obj}.",
        (),
    ),
    "novel_adj": (
        "{demo_blicker_obj_1} is kobar than {demo_less_blicker_obj_1}. {demo_blicker_obj_2} is "
        "kobar than {demo_less_blicker_obj_2}. {demo_blicker_obj_3} is kobar than "
        "{demo_less_blicker_obj_3}. Put the kobar {dragged_obj} into the {base_obj}.",
        (),
    ),
    "novel_noun": (
        "This is a dax {dragged_obj_1}. This is a zup {base_obj}. Put a dax into a zup.",
        (),
    ),
    "pick_in_order_then_restore": (
        "Put {dragged_obj} into {base_obj_1} then {base_obj_2}. Finally restore it into its "
        "original container.",
        (),
    ),
    "rearrange": ("Rearrange to this {scene}.", ()),
    "rearrange_then_restore": ("Rearrange objects to this setup {scene} and then restore.", ()),
    "rotate": ("Rotate the {dragged_obj} 150 degrees.", ()),
    "same_shape": ("Put all objects with the same profile as {base_obj} into it.", ()),
    "scene_understanding": (
        "Put the yellow and blue polka dot object in {scene} into the purple swirl object.",
        ("yellow and blue polka dot", "purple swirl", "granite"),
    ),
    "sweep_without_exceeding": (
        "Sweep one {swept_obj} into {bounds} without exceeding {constraint}.",
        (),
    ),
    "twist": (
        '"Twist" is defined as rotating object a specific angle. For examples: From '
        "{before_twist_1} to {after_twist_1}. From {before_twist_2} to {after_twist_2}. From "
        "{before_twist_3} to {after_twist_3}. Now twist all red and yellow polka dot objects.",
        ("red and yellow polka dot", "red and green polka dot"),
    ),
    "visual_manipulation": ("Put the {dragged_obj_1} into the {base_obj}.", ()),
}

# Other prompt families produced by VIMA-Bench (other seeds, difficulties and the 4 L4 tasks).
VARIANT_PROMPTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("follow_order", "Stack objects in this order {frame_0} {frame_1}.", ()),
    ("follow_order", "Stack objects in this order {frame_0} {frame_1} {frame_2} {frame_3}.", ()),
    (
        "manipulate_old_neighbor",
        "First put {dragged_obj} into {base_obj} then put the object that was previously at its "
        "north into the same {base_obj}.",
        (),
    ),
    (
        "novel_adj",
        "{demo_blicker_obj_1} is daxer than {demo_less_blicker_obj_1}. {demo_blicker_obj_2} is "
        "daxer than {demo_less_blicker_obj_2}. Put the less daxer {dragged_obj} into the "
        "{base_obj}.",
        (),
    ),
    (
        "novel_adj",
        "{demo_blicker_obj_1} is xachupiar than {demo_less_blicker_obj_1}. Put the xachupiar "
        "{dragged_obj} into the {base_obj}.",
        (),
    ),
    (
        "novel_noun",
        "This is a wug {base_obj}. This is a blicket {dragged_obj_1}. Put a blicket into a wug.",
        (),
    ),
    (
        "novel_noun",
        "This is a dax {dragged_obj_1}. This is a zup {base_obj}. This is a wug {dragged_obj_2}. "
        "Put a dax and a wug into a zup.",
        (),
    ),
    (
        "pick_in_order_then_restore",
        "Put {dragged_obj} into {base_obj_1} then {base_obj_2} then {base_obj_3}. Finally "
        "restore it into its original container.",
        (),
    ),
    ("rotate", "Rotate the {dragged_obj} 30 degrees.", ()),
    ("rotate", "Rotate the {dragged_obj} 160 degrees.", ()),
    (
        "scene_understanding",
        "Put the red object in {scene} into the blue paisley object.",
        ("red", "blue paisley"),
    ),
    (
        "sweep_without_exceeding",
        "Sweep all {swept_obj} into {bounds} without exceeding {constraint}.",
        (),
    ),
    (
        "sweep_without_exceeding",
        "Sweep any {swept_obj} into {bounds} without exceeding {constraint}.",
        (),
    ),
    (
        "sweep_without_exceeding",
        "Sweep two {swept_obj} into {bounds} without exceeding {constraint}.",
        (),
    ),
    (
        "sweep_without_touching",
        "Sweep three {swept_obj} into {bounds} without touching {constraint}.",
        (),
    ),
    (
        "twist",
        '"Twist" is defined as rotating object a specific angle. For examples: From '
        "{before_twist_1} to {after_twist_1}. Now twist all green objects.",
        ("green",),
    ),
    (
        "twist",
        '"Twist" is defined as rotating object a specific angle. For examples: From '
        "{before_twist_1} to {after_twist_1}. From {before_twist_2} to {after_twist_2}. Now "
        "twist all yellow paisley objects.",
        ("yellow paisley",),
    ),
    ("visual_manipulation", "Put the {dragged_obj_1} and {dragged_obj_2} into the {base_obj}.", ()),
    (
        "novel_adj_and_noun",
        "This is a wug {dragged_obj}. This is a dax {base_obj}. {demo_blicker_obj_1} is modier "
        "than {demo_less_blicker_obj_1}. {demo_blicker_obj_2} is modier than "
        "{demo_less_blicker_obj_2}. {demo_blicker_obj_3} is modier than {demo_less_blicker_obj_3}."
        " Put the less modier wug into the dax.",
        (),
    ),
    ("follow_motion", "Follow this motion for {dragged_obj}: {frame_0} {frame_1} {frame_2}.", ()),
    ("same_texture", "Put all objects with the same texture as {base_obj} into it.", ()),
]


def _sample_prompts() -> list[tuple[str, str, tuple[str, ...]]]:
    """Prompts and texture names of the sample episodes."""
    from vima_schema.safe_pickle import load_pickle

    cases = []
    for path in sorted(SAMPLES.glob("*/000000/trajectory.pkl")):
        obj, _ = load_pickle(path)
        textures = tuple(info["texture_name"] for info in obj["obj_id_to_info"].values())
        cases.append((path.parents[1].name, obj["prompt"], textures))
    return cases


ALL_CASES = (
    [(task, prompt, tex) for task, (prompt, tex) in REAL_PROMPTS.items()]
    + VARIANT_PROMPTS
    + _sample_prompts()
)
CASE_IDS = [f"{task}-{i}" for i, (task, _, _) in enumerate(ALL_CASES)]


def _present_textures(prompt: str, textures: tuple[str, ...]) -> list[str]:
    return [t for t in textures if re.search(rf"(?<![A-Za-z]){re.escape(t)}(?![A-Za-z])", prompt)]


def test_all_training_tasks_are_covered() -> None:
    assert set(REAL_PROMPTS) <= SUPPORTED_TASKS
    assert len(SUPPORTED_TASKS) >= 17


def test_sample_episodes_are_present() -> None:
    assert len(_sample_prompts()) >= 9


@pytest.mark.parametrize(("task", "prompt", "textures"), ALL_CASES, ids=CASE_IDS)
def test_paraphrase_invariants(task: str, prompt: str, textures: tuple[str, ...]) -> None:
    prompt_words = {w.lower() for w in re.findall(r"[A-Za-z]+", PH.sub(" ", prompt))}
    outputs = set()
    for seed in range(20):
        out = reword_prompt(prompt, task, random.Random(seed), textures)
        outputs.add(out)
        assert Counter(PH.findall(out)) == Counter(PH.findall(prompt)), out
        for texture in _present_textures(prompt, textures):
            assert texture in out, (texture, out)
        assert out.endswith("."), out
        assert "  " not in out, out
        assert out == out.strip()
        assert not out[0].isalpha() or out[0].isupper(), out
        # Every emitted word comes from the prompt or the declared vocabulary.
        for word in re.findall(r"[A-Za-z]+", PH.sub(" ", out)):
            assert word in PARAPHRASE_VOCABULARY or word.lower() in prompt_words, (word, out)
        # Same seed, same output.
        assert reword_prompt(prompt, task, random.Random(seed), textures) == out
    assert len(outputs) >= 2


def test_uses_only_the_given_rng() -> None:
    prompt, _ = REAL_PROMPTS["visual_manipulation"]
    random.seed(1)
    first = reword_prompt(prompt, "visual_manipulation", random.Random(7))
    random.seed(2)
    second = reword_prompt(prompt, "visual_manipulation", random.Random(7))
    assert first == second


def test_capitalisation_keeps_placeholders_and_textures() -> None:
    # No str.capitalize(): a leading placeholder and mixed-case texture names stay intact.
    prompt = "Put the Red Paisley object in {Scene_A} into the purple swirl object."
    starts = set()
    for seed in range(40):
        out = reword_prompt(prompt, "scene_understanding", random.Random(seed), ("Red Paisley",))
        assert "Red Paisley" in out and "{Scene_A}" in out, out
        starts.add(out[0])
    assert all(c.isupper() for c in starts if c.isalpha())
    leading = [
        reword_prompt(
            "Put the {dragged_obj_1} into the {base_obj}.",
            "visual_manipulation",
            random.Random(seed),
        )
        for seed in range(60)
    ]
    with_placeholder_first = [out for out in leading if out.startswith("{")]
    assert with_placeholder_first, "expected some paraphrases starting with a placeholder"
    for out in with_placeholder_first:
        assert out.startswith(("{dragged_obj_1}", "{base_obj}")), out
    lower = [out for out in leading if not out.startswith("{")]
    assert all(out[0].isupper() for out in lower)


def _novel_bindings(text: str) -> dict[str, str]:
    """Novel word -> placeholder, read from the definition sentences of a paraphrase."""
    bindings = {}
    for sentence in re.split(r"(?<=\.) ", text):
        placeholders = PH.findall(sentence)
        words = [w for w in ("dax", "blicket", "wug", "zup") if re.search(rf"\b{w}\b", sentence)]
        if len(placeholders) == 1 and len(words) == 1:
            assert words[0] not in bindings, text
            bindings[words[0]] = placeholders[0]
    return bindings


def _instruction_nouns(text: str) -> tuple[str, str]:
    """(dragged noun, base noun) of the last sentence, in the order they appear."""
    last = re.split(r"(?<=\.) ", text)[-1]
    words = re.findall(r"\b(dax|blicket|wug|zup)\b", last)
    assert len(words) == 2, text
    return words[0], words[1]


@pytest.mark.parametrize("seed", range(30))
def test_novel_noun_swapped_definitions_keep_bindings(seed: int) -> None:
    prompt = "This is a dax {base_obj}. This is a zup {dragged_obj_1}. Put a zup into a dax."
    out = reword_prompt(prompt, "novel_noun", random.Random(seed))
    assert _novel_bindings(out) == {"dax": "{base_obj}", "zup": "{dragged_obj_1}"}, out
    assert _instruction_nouns(out) == ("zup", "dax"), out


@pytest.mark.parametrize("seed", range(30))
def test_novel_adj_and_noun_swapped_definitions_keep_bindings(seed: int) -> None:
    prompt = (
        "This is a dax {base_obj}. This is a zup {dragged_obj}. {demo_blicker_obj_1} is modier "
        "than {demo_less_blicker_obj_1}. Put the modier zup into the dax."
    )
    out = reword_prompt(prompt, "novel_adj_and_noun", random.Random(seed))
    assert _novel_bindings(out) == {"dax": "{base_obj}", "zup": "{dragged_obj}"}, out
    assert _instruction_nouns(out) == ("zup", "dax"), out
    assert "modier zup" in out, out


def test_novel_adj_keeps_less_adverb() -> None:
    prompt = (
        "{demo_blicker_obj_1} is blicker than {demo_less_blicker_obj_1}. Put the less blicker "
        "{dragged_obj} into the {base_obj}."
    )
    for seed in range(20):
        out = reword_prompt(prompt, "novel_adj", random.Random(seed))
        assert "less blicker {dragged_obj}" in out, out


def test_sweep_keeps_determiner_and_constraint_kind() -> None:
    prompt = "Sweep two {swept_obj} into {bounds} without touching {constraint}."
    for seed in range(20):
        out = reword_prompt(prompt, "sweep_without_touching", random.Random(seed))
        assert re.search(r"\btwo\b", out), out
        assert "exceed" not in out, out


def test_direction_and_angle_are_kept() -> None:
    neighbor = (
        "First put {dragged_obj} into {base_obj} then put the object that was previously at its "
        "south into the same {base_obj}."
    )
    for seed in range(20):
        assert "south" in reword_prompt(neighbor, "manipulate_old_neighbor", random.Random(seed))
        out = reword_prompt("Rotate the {dragged_obj} 120 degrees.", "rotate", random.Random(seed))
        assert "120 degree" in out, out


def test_unparseable_prompt_raises_reword_error() -> None:
    prompt = "Juggle the {dragged_obj_1} over the {base_obj}."
    with pytest.raises(RewordError, match="visual_manipulation") as info:
        reword_prompt(prompt, "visual_manipulation", random.Random(0))
    assert prompt in str(info.value)
    assert isinstance(info.value, ValueError)


def test_undefined_novel_word_raises_reword_error() -> None:
    prompt = "This is a dax {dragged_obj_1}. This is a zup {base_obj}. Put a wug into a zup."
    with pytest.raises(RewordError, match="novel_noun"):
        reword_prompt(prompt, "novel_noun", random.Random(0))


def test_unknown_task_raises_reword_error() -> None:
    with pytest.raises(RewordError, match="no_such_task"):
        reword_prompt("Put the {a} into the {b}.", "no_such_task", random.Random(0))


def test_vocabulary() -> None:
    assert isinstance(PARAPHRASE_VOCABULARY, frozenset)
    for word in ("put", "Put", "rotate", "degrees", "twist", "exceeding", "touching", "profile"):
        assert word in PARAPHRASE_VOCABULARY
    assert all(re.fullmatch(r"[A-Za-z]+", w) for w in PARAPHRASE_VOCABULARY)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Put the {dragged_obj_1} into {base_obj}.", ["dragged_obj_1", "base_obj"]),
        ("a {foo-bar} b", []),
        ("{x y} {} {{scene}}", ["scene"]),
    ],
)
def test_one_placeholder_syntax(text: str, names: list[str]) -> None:
    # The schema, the paraphraser and the tokenizer corpus agree on what a placeholder is.
    from vima_schema.layout import placeholders
    from vima_tokenize.corpus import split_on_placeholders

    assert placeholders(text) == names
    assert [m[1:-1] for m in PH.findall(text)] == names
    known = [n for n in names if n in ("dragged_obj_1", "base_obj", "scene")]
    assert "".join(split_on_placeholders(text)) == PH.sub(
        lambda m: "" if m.group(0)[1:-1] in known else m.group(0), text
    )
