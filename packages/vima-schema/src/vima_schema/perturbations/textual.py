"""Textual prompts: object placeholders described in words ("<texture> <shape>").

Applies to the nine tasks whose object placeholders can be named (the reference's list); the
other eight keep their prompt. The sentence is first re-templated where a description reads
badly in place of an image (an article before each description, "and then" between steps,
novel-noun definitions as "A dax is a red letter A."), then every object placeholder is replaced.

The colour is the one the prompt image shows (`obj_color`), as in the reference: novel_noun's
prompt images are rendered in neutral grey, so its objects are "gray" (naming the scene texture
would give the words information the image and the paper's condition do not have). Fixed
reference defects: novel-noun bindings are read by name from each definition, so they hold
whatever the order of the definitions; only the first letter of a sentence is upper-cased (no
`str.capitalize`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from enum import StrEnum

from vima_schema.layout import PLACEHOLDER_PATTERN, PLACEHOLDER_REGEX
from vima_schema.perturbations.instruction import AssetInfo, Instruction
from vima_schema.vocabulary import PARAPHRASE_SLOTS

TEXTUAL_TASKS: frozenset[str] = frozenset(
    {
        "visual_manipulation",
        "rotate",
        "novel_noun",
        "sweep_without_exceeding",
        "sweep_without_touching",
        "same_texture",
        "same_shape",
        "manipulate_old_neighbor",
        "pick_in_order_then_restore",
    }
)
"""Tasks whose object placeholders the textual perturbations describe in words."""

_DETERMINERS = frozenset(
    [
        "the",
        "a",
        "an",
        "any",
        "all",
        "one",
        "two",
        "three",
        "four",
        "five",
        "same",
        "its",
        "every",
        "each",
        "this",
        "that",
    ]
)
_NOVEL_DEFINITION = re.compile(rf"This is (an?) ([A-Za-z]+) ({PLACEHOLDER_REGEX})\.")
_THEN = re.compile(rf"({PLACEHOLDER_REGEX}),? then ")


class Description(StrEnum):
    """How an object placeholder is described."""

    full = "full"  # "green paisley letter V"
    no_noun = "no_noun"  # "green paisley"
    no_texture = "no_texture"  # "letter V"
    generic_noun = "generic_noun"  # "green paisley item"


def _describe(asset: AssetInfo, how: Description, rng: random.Random) -> str | None:
    """The words for the object an asset's image shows, in the colour the image shows."""
    if not asset.objects:
        return None
    shape, texture = asset.objects[0]
    if how is Description.no_noun:
        return texture
    if how is Description.no_texture:
        return shape
    if how is Description.generic_noun:
        return f"{texture} {rng.choice(PARAPHRASE_SLOTS['object'])}"
    return f"{texture} {shape}"


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def _upper_sentences(text: str) -> str:
    """Upper-case the first letter of every sentence, nothing else."""
    return re.sub(r"(^|[.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def textual_prompt(instruction: Instruction, how: Description, rng: random.Random) -> str:
    """The prompt with its object placeholders described in words (unchanged for other tasks)."""
    if instruction.task not in TEXTUAL_TASKS:
        return instruction.prompt
    described: dict[str, str] = {}
    for name, asset in instruction.assets.items():
        if asset.placeholder_type == "object":
            text = _describe(asset, how, rng)
            if text is not None:
                described[name] = text

    def phrase(name: str, article: Callable[[str], str] | None = None) -> str:
        text = described.get(name)
        if text is None:
            return "{" + name + "}"
        return f"{article(text)} {text}" if article else text

    prompt = " ".join(instruction.prompt.split())
    if instruction.task == "novel_noun":
        prompt = _NOVEL_DEFINITION.sub(
            lambda m: (
                f"{m.group(1).capitalize()} {m.group(2)} is {phrase(m.group(3)[1:-1], _article)}."
            ),
            prompt,
        )
    prompt = _THEN.sub(r"\1 and then ", prompt)
    words = prompt.split(" ")
    out: list[str] = []
    for word in words:
        match = PLACEHOLDER_PATTERN.search(word)
        if match is not None and match.group(1) in described:
            previous = out[-1].lower() if out else ""
            if previous not in _DETERMINERS:
                out.append("the")
            word = PLACEHOLDER_PATTERN.sub(lambda m: phrase(m.group(1)), word)
        out.append(word)
    return _upper_sentences(" ".join(out))
