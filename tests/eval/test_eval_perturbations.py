"""The fifteen perturbations on the real sample episodes (vima_schema.perturbations)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from vima_schema.enums import TASK_NAMES
from vima_schema.layout import placeholders
from vima_schema.perturbations import (
    DIFFERENT_INSTRUCTION_TASKS,
    PERTURBATIONS,
    TEXTUAL_TASKS,
    AssetInfo,
    Instruction,
    PromptMask,
    Vocabulary,
    english_words,
    get_perturbation,
    gobbledygook_words,
    instruction_from_episode,
    object_orders,
    vima_words,
)
from vima_schema.reader import read_episode
from vima_tokenize.text import load_tokenizer

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SAMPLE_DIRS = sorted(SAMPLES.glob("*/*/000000"))
NAMES = list(PERTURBATIONS)
#: Perturbations that draw random choices (the others are deterministic functions).
RANDOM = {
    "reworded", "gobbledygook_word", "gobbledygook_tokens", "textual_generic_noun",
    "textual_gobbledygook_word", "textual_gobbledygook_tokens", "different_instruction",
}  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return load_tokenizer()


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    assert len(SAMPLE_DIRS) == 11
    return [instruction_from_episode(read_episode(path)) for path in SAMPLE_DIRS]


def object_placeholders(instruction: Instruction, prompt: str) -> list[str]:
    return [
        name
        for name in placeholders(prompt)
        if instruction.assets[name].placeholder_type == "object"
    ]


def word_tokens(tokenizer: Tokenizer, prompt: str) -> int:
    return len(tokenizer.encode(prompt).ids)


def test_the_fifteen_reference_names() -> None:
    assert NAMES == [
        "noop", "reworded", "gobbledygook_word", "gobbledygook_tokens", "textual",
        "textual_no_noun", "textual_no_texture", "textual_generic_noun",
        "textual_gobbledygook_word", "textual_gobbledygook_tokens", "different_instruction",
        "mask_text", "mask_visual", "mask_both", "shuffle_objects",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"unknown perturbation 'paraphrase'.*reworded"):
        get_perturbation("paraphrase")


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_episode_and_seed(
    name: str, instructions: list[Instruction], tokenizer: Tokenizer
) -> None:
    perturbation = PERTURBATIONS[name]
    first = [perturbation(i, 7, tokenizer) for i in instructions]
    # another order (another "batch"), global random state disturbed: the same results
    random.seed(123)
    again = [perturbation(i, 7, tokenizer) for i in reversed(instructions)][::-1]
    assert first == again
    if name in RANDOM:
        other = [perturbation(i, 8, tokenizer).prompt for i in instructions]
        assert other != [p.prompt for p in first]  # the seed matters
        # the episode identity matters: the same prompt under another name changes
        renamed = [
            perturbation(Instruction(i.task, i.episode + "x", i.prompt, i.assets, i.scene), 7,
                         tokenizer).prompt
            for i in instructions
        ]  # fmt: skip
        assert renamed != [p.prompt for p in first]


def test_noop_returns_the_episode_unchanged(instructions: list[Instruction]) -> None:
    for instruction in instructions:
        assert PERTURBATIONS["noop"](instruction, 3) is instruction


def test_reworded_keeps_placeholders_and_uses_the_shared_engine(
    instructions: list[Instruction],
) -> None:
    from vima_schema.paraphrase import reword_prompt
    from vima_schema.perturbations import perturbation_rng

    for instruction in instructions:
        out = PERTURBATIONS["reworded"](instruction, 1)
        assert Counter(placeholders(out.prompt)) == Counter(placeholders(instruction.prompt))
        assert out.prompt != instruction.prompt
        rng = perturbation_rng("reworded", 1, instruction.episode)
        expected = reword_prompt(instruction.prompt, instruction.task, rng, instruction.textures)
        assert out.prompt == expected


@pytest.mark.parametrize("name", ["gobbledygook_word", "gobbledygook_tokens"])
def test_gobbledygook_keeps_words_and_placeholders(
    name: str, instructions: list[Instruction], tokenizer: Tokenizer
) -> None:
    for instruction in instructions:
        for seed in range(3):
            out = PERTURBATIONS[name](instruction, seed, tokenizer).prompt
            before, after = instruction.prompt.split(" "), out.split(" ")
            assert len(after) == len(before), out
            assert placeholders(out) == placeholders(instruction.prompt)
            for word_before, word_after in zip(before, after, strict=True):
                if "{" in word_before:
                    assert word_after == word_before
            kept = {w.strip('.,:"').lower() for w in before if "{" not in w}
            assert len(kept & {w.strip('.,:"').lower() for w in after}) < len(kept)


def test_gobbledygook_tokens_keeps_every_token_count(
    instructions: list[Instruction], tokenizer: Tokenizer
) -> None:
    def counts(prompt: str) -> Counter[int]:
        words = prompt.split(" ")
        return Counter(
            len(tokenizer.encode(w if i == 0 else " " + w, add_special_tokens=False).ids)
            for i, w in enumerate(words)
            if "{" not in w
        )

    perturbation = PERTURBATIONS["gobbledygook_tokens"]
    for instruction in instructions:
        for seed in range(5):
            out = perturbation(instruction, seed, tokenizer, Vocabulary.tokenizer).prompt
            assert word_tokens(tokenizer, out) == word_tokens(tokenizer, instruction.prompt)
            assert counts(out) == counts(instruction.prompt)
            assert out.isprintable()


def _drawn_words(before: str, after: str) -> list[str]:
    return [
        w.strip('.,:"')
        for b, w in zip(before.split(" "), after.split(" "), strict=True)
        if "{" not in b
    ]


@pytest.mark.parametrize("vocabulary", list(Vocabulary))
def test_gobbledygook_tokens_draws_no_vima_word(
    vocabulary: Vocabulary, instructions: list[Instruction], tokenizer: Tokenizer
) -> None:
    # defect: with the shipped tokenizer the "nonsense" was made of task words ("Put", "onto")
    excluded = vima_words()
    assert {"put", "into", "rotate", "onto", "block", "objects", "arrange"} <= excluded
    english = set(english_words())
    for instruction in instructions:
        for seed in range(3):
            out = PERTURBATIONS["gobbledygook_tokens"](instruction, seed, tokenizer, vocabulary)
            drawn = _drawn_words(instruction.prompt, out.prompt)
            assert drawn and not {w.lower() for w in drawn} & excluded, out.prompt
            if vocabulary is Vocabulary.english:
                assert set(drawn) <= english


def test_the_english_word_list_holds_no_word_of_the_tokenizer_corpus() -> None:
    import re

    from vima_tokenize.corpus import corpus_sentences

    corpus = {w.lower() for s in corpus_sentences() for w in re.findall(r"[A-Za-z]+", s)}
    words = english_words()
    assert len(words) > 1000 and not set(words) & corpus


def test_gobbledygook_tokens_needs_the_tokenizer(instructions: list[Instruction]) -> None:
    with pytest.raises(ValueError, match="needs the tokenizer"):
        PERTURBATIONS["gobbledygook_tokens"](instructions[0], 0)


def test_gobbledygook_word_keeps_punctuation() -> None:
    # reference defect: punctuation attached to words was lost
    out = gobbledygook_words('"Twist" is it. For examples: From {a} to {b}.', random.Random(0))
    words = out.split(" ")
    assert words[0][0] == '"' and words[0][-1] == '"'
    assert words[2].endswith(".") and words[4].endswith(":") and words[-1] == "{b}."


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("textual")])
def test_textual_leaves_no_object_placeholder(
    name: str, instructions: list[Instruction], tokenizer: Tokenizer
) -> None:
    for instruction in instructions:
        out = PERTURBATIONS[name](instruction, 0, tokenizer, Vocabulary.tokenizer)
        if instruction.task not in TEXTUAL_TASKS:
            assert (out is instruction) == ("gobbledygook" not in name)
            continue
        assert object_placeholders(instruction, out.prompt) == []
        assert out.assets == {}
        if "gobbledygook" not in name:
            assert out.prompt[0].isupper()
        if name == "textual_gobbledygook_tokens":
            textual = PERTURBATIONS["textual"](instruction, 0, tokenizer).prompt
            assert word_tokens(tokenizer, out.prompt) == word_tokens(tokenizer, textual)


def test_textual_descriptions(instructions: list[Instruction]) -> None:
    by_task = {i.task: i for i in instructions}
    textual = PERTURBATIONS["textual"]
    assert textual(by_task["visual_manipulation"]).prompt == (
        "Put the yellow and blue polka dot letter M into the purple swirl container."
    )
    assert textual(by_task["rotate"]).prompt == "Rotate the tiger letter T 150 degrees."
    # the colour the prompt image shows: novel_noun's images are neutral grey, as in CoGeLoT
    # (the scene's "red" would tell more than the image and the paper's condition do)
    assert textual(by_task["novel_noun"]).prompt == (
        "A dax is a gray letter A. A zup is a gray bowl. Put a dax into a zup."
    )
    assert PERTURBATIONS["textual_no_texture"](by_task["rotate"]).prompt == (
        "Rotate the letter T 150 degrees."
    )
    assert PERTURBATIONS["textual_no_noun"](by_task["rotate"]).prompt == (
        "Rotate the tiger 150 degrees."
    )
    generic = PERTURBATIONS["textual_generic_noun"](by_task["rotate"]).prompt
    assert generic in {f"Rotate the tiger {n} 150 degrees." for n in ("object", "item", "thing")}


def test_textual_novel_noun_bindings_with_swapped_definitions() -> None:
    instruction = Instruction(
        task="novel_noun",
        episode="novel_noun/1",
        prompt="This is a wug {base_obj}. This is a blicket {dragged_obj_1}. Put a blicket "
        "into a wug.",
        assets={
            "base_obj": AssetInfo("object", (("pan", "gray"),)),
            "dragged_obj_1": AssetInfo("object", (("heart", "gray"),)),
        },
        scene=(("pan", "tiles"), ("heart", "red swirl"), ("block", "red")),
    )
    assert PERTURBATIONS["textual"](instruction).prompt == (
        "A wug is a gray pan. A blicket is a gray heart. Put a blicket into a wug."
    )


@pytest.mark.parametrize("name", ["textual_gobbledygook_word", "textual_gobbledygook_tokens"])
def test_textual_gobbledygook_applies_to_every_task(
    name: str, instructions: list[Instruction], tokenizer: Tokenizer
) -> None:
    # defect: the eight non-textual tasks kept their prompt; CoGeLoT chains the transforms, so
    # they get gobbledygook of their original prompt
    perturbation = PERTURBATIONS[name]
    plain = PERTURBATIONS[name.removeprefix("textual_")]
    assert perturbation.tasks == set(TASK_NAMES)
    others = [i for i in instructions if i.task not in TEXTUAL_TASKS]
    assert {i.task for i in others} >= {"rearrange", "twist", "follow_order"}
    for instruction in others:
        out = perturbation(instruction, 0, tokenizer)
        assert out.prompt != instruction.prompt
        assert placeholders(out.prompt) == placeholders(instruction.prompt)
        assert len(out.prompt.split(" ")) == len(instruction.prompt.split(" "))
        assert perturbation.changed(instruction, out)
        assert not plain.changed(instruction, instruction)


def test_different_instruction_only_where_defined(instructions: list[Instruction]) -> None:
    assert {
        "visual_manipulation", "sweep_without_exceeding", "sweep_without_touching",
        "same_texture", "same_shape",
    } == DIFFERENT_INSTRUCTION_TASKS  # fmt: skip
    seen = set()
    for instruction in instructions:
        out = PERTURBATIONS["different_instruction"](instruction, 0)
        if instruction.task not in DIFFERENT_INSTRUCTION_TASKS:
            assert out is instruction
            continue
        seen.add(instruction.task)
        assert out.prompt != instruction.prompt
        assert set(out.assets) == set(placeholders(out.prompt))
        assert set(placeholders(out.prompt)) <= set(placeholders(instruction.prompt))
        if instruction.task == "visual_manipulation":
            assert out.prompt.startswith("Rotate the {dragged_obj_1} ")
            assert "base_obj" not in out.assets
        if instruction.task == "sweep_without_exceeding":
            assert (
                out.prompt == "Sweep one {swept_obj} into {bounds} without touching {constraint}."
            )
        if instruction.task == "same_shape":
            assert out.prompt == "Put all objects with the same texture as {base_obj} into it."
    assert seen == {"visual_manipulation", "sweep_without_exceeding", "same_shape"}


@pytest.mark.parametrize(
    ("name", "mask"),
    [
        ("mask_text", PromptMask.text),
        ("mask_visual", PromptMask.visual),
        ("mask_both", PromptMask.both),
    ],
)
def test_masks_are_model_input_switches(
    name: str, mask: PromptMask, instructions: list[Instruction]
) -> None:
    for instruction in instructions:
        out = PERTURBATIONS[name](instruction, 0)
        assert out.prompt == instruction.prompt and out.assets == instruction.assets
        assert out.prompt_mask is mask and not out.shuffle_objects


def test_shuffle_objects_orders(instructions: list[Instruction]) -> None:
    out = PERTURBATIONS["shuffle_objects"](instructions[0], 0)
    assert out.shuffle_objects and out.prompt == instructions[0].prompt
    orders = object_orders(5, "rotate/3", observations=4, objects=6)
    assert orders == object_orders(5, "rotate/3", observations=4, objects=6)
    assert all(sorted(order) == list(range(6)) for order in orders)
    assert len({tuple(o) for o in orders}) > 1
    assert orders != object_orders(6, "rotate/3", observations=4, objects=6)


def test_every_task_name_is_known_to_the_registry() -> None:
    for perturbation in PERTURBATIONS.values():
        assert perturbation.tasks <= set(TASK_NAMES)


def test_perturbations_doc_is_generated_and_current() -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts" / "perturbation_examples.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _objects(**shown: tuple[str, str]) -> dict[str, AssetInfo]:
    return {name: AssetInfo("object", (value,)) for name, value in shown.items()}


@pytest.mark.parametrize(
    ("task", "prompt", "assets", "expected"),
    [
        (
            "manipulate_old_neighbor",
            "First put {dragged_obj} into {base_obj} then put the object that was previously at "
            "its west into the same {base_obj}.",
            _objects(dragged_obj=("letter E", "yellow paisley"), base_obj=("frame", "tiles")),
            "First put the yellow paisley letter E into the tiles frame and then put the object "
            "that was previously at its west into the same tiles frame.",
        ),
        (
            "pick_in_order_then_restore",
            "Put {dragged_obj} into {base_obj_1} then {base_obj_2} then {base_obj_3}. Finally "
            "restore it into its original container.",
            _objects(dragged_obj=("heart", "red"), base_obj_1=("pan", "blue"),
                     base_obj_2=("bowl", "wooden"), base_obj_3=("square", "magma")),
            "Put the red heart into the blue pan and then the wooden bowl and then the magma "
            "square. Finally restore it into its original container.",
        ),
        (
            "same_texture",
            "Put all objects with the same texture as {base_obj} into it.",
            _objects(base_obj=("pan", "pink")),
            "Put all objects with the same texture as the pink pan into it.",
        ),
        (
            "sweep_without_touching",
            "Sweep any {swept_obj} into {bounds} without touching {constraint}.",
            _objects(swept_obj=("small block", "green paisley"),
                     bounds=("three-sided rectangle", "checkerboard"),
                     constraint=("line", "olive")),
            "Sweep any green paisley small block into the checkerboard three-sided rectangle "
            "without touching the olive line.",
        ),
    ],
)  # fmt: skip
def test_textual_on_tasks_without_sample_episodes(
    task: str, prompt: str, assets: dict[str, AssetInfo], expected: str
) -> None:
    scene = tuple(info.objects[0] for info in assets.values())
    instruction = Instruction(task, f"{task}/0", prompt, assets, scene)
    assert PERTURBATIONS["textual"](instruction).prompt == expected
