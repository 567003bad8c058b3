"""The tokenizer training corpus of the VIMA prompt vocabulary.

The domain vocabulary (placeholders, objects, textures, novel words, directions, angles, number
words, the paraphrase slot word lists) lives in `vima_schema.vocabulary`. This module adds what
only the tokenizer needs: the VIMA-Bench task templates, the "textual" re-templated sentences,
extra words and punctuation, and `corpus_sentences()`, the sentences the default tokenizer is
trained on (see `scripts/build_tokenizer.py`).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator

from vima_schema.layout import PLACEHOLDER_PATTERN
from vima_schema.vocabulary import (
    DIRECTIONS,
    NOVEL_ADJECTIVES,
    NOVEL_ADJECTIVES_EXTREME,
    NOVEL_NOUNS,
    NOVEL_NOUNS_EXTREME,
    NOVEL_WORDS,
    NUMBER_WORDS,
    OBJECT_ALIASES,
    OBJECT_NAMES,
    PARAPHRASE_SLOTS,
    PLACEHOLDER_NAMES,
    ROTATE_ANGLES,
    SWEEP_DETERMINERS,
    TASK_PARAPHRASE_SLOTS,
    TEXTURE_NAMES,
    TWIST_ANGLES,
)

PUNCTUATION: tuple[str, ...] = tuple(".,:;!?\"'()[]-_/&+*=<>")

# --------------------------------------------------------------------------------------------
# Task templates (VIMA-Bench, easy and harder variants); slots in angle brackets
# --------------------------------------------------------------------------------------------

TASK_TEMPLATES: dict[str, tuple[str, ...]] = {
    "visual_manipulation": ("Put the {dragged_obj_1} into the {base_obj}.",),
    "scene_understanding": (
        "Put the <dragged_texture> object in {scene} into the <base_texture> object.",
    ),
    "rotate": ("Rotate the {dragged_obj} <angle> degrees.",),
    "rearrange": ("Rearrange to this {scene}.",),
    "rearrange_then_restore": ("Rearrange objects to this setup {scene} and then restore.",),
    "novel_adj": (
        "{demo_blicker_obj_1} is <adj> than {demo_less_blicker_obj_1}. "
        "{demo_blicker_obj_2} is <adj> than {demo_less_blicker_obj_2}. "
        "{demo_blicker_obj_3} is <adj> than {demo_less_blicker_obj_3}. "
        "Put the <adv><adj> {dragged_obj} into the {base_obj}.",
    ),
    "novel_noun": (
        "This is a <noun1> {dragged_obj_1}. This is a <noun2> {base_obj}. "
        "Put a <noun1> into a <noun2>.",
        "This is a <noun2> {base_obj}. This is a <noun1> {dragged_obj_1}. "
        "Put a <noun1> into a <noun2>.",
    ),
    "novel_adj_and_noun": (
        "This is a <noun1> {dragged_obj}. This is a <noun2> {base_obj}. "
        "{demo_blicker_obj_1} is <adj> than {demo_less_blicker_obj_1}. "
        "{demo_blicker_obj_2} is <adj> than {demo_less_blicker_obj_2}. "
        "{demo_blicker_obj_3} is <adj> than {demo_less_blicker_obj_3}. "
        "Put the <adv><adj> <noun1> into the <noun2>.",
    ),
    "twist": (
        '"Twist" is defined as rotating object a specific angle. For examples: '
        "From {before_twist_1} to {after_twist_1}. From {before_twist_2} to {after_twist_2}. "
        "From {before_twist_3} to {after_twist_3}. Now twist all <texture> objects.",
    ),
    "follow_motion": ("Follow this motion for {dragged_obj}: {frame_0} {frame_1} {frame_2}.",),
    "follow_order": ("Stack objects in this order {frame_0} {frame_1} {frame_2}.",),
    "sweep_without_exceeding": (
        "Sweep <det> {swept_obj} into {bounds} without exceeding {constraint}.",
    ),
    "sweep_without_touching": (
        "Sweep <det> {swept_obj} into {bounds} without touching {constraint}.",
    ),
    "same_texture": ("Put all objects with the same texture as {base_obj} into it.",),
    "same_shape": ("Put all objects with the same profile as {base_obj} into it.",),
    "manipulate_old_neighbor": (
        "First put {dragged_obj} into {base_obj} then put the object that was previously at "
        "its <direction> into the same {base_obj}.",
    ),
    "pick_in_order_then_restore": (
        "Put {dragged_obj} into {base_obj_1} then {base_obj_2}. "
        "Finally restore it into its original container.",
    ),
}

# Re-templated sentences of the "textual" transform (same words, extra "the" / "and then").
TEXTUAL_TEMPLATES: tuple[str, ...] = (
    "This is a <noun1> <object>. This is a <noun2> <object>. Put a <noun1> into a <noun2>.",
    "A <noun1> is a <object>. A <noun2> is a <object>. Put a <noun1> into a <noun2>.",
    "Sweep <det> <object> into the <object> without exceeding the <object>.",
    "Sweep <det> <object> into the <object> without touching the <object>.",
    "Put all of the objects with the same texture as <object> into it.",
    "Put all of the objects with the same profile as <object> into it.",
    "First put the <object> into the <object> and then put the object that was previously at "
    "its <direction> into the same <object>.",
    "Put the <object> into the <object> and then the <object>. "
    "Finally restore it into its original container.",
    "Put the <object> into the <object>.",
    "Rotate the <object> <angle> degrees.",
)

# Extra words likely in hand-written or paraphrased instructions.
EXTRA_WORDS: tuple[str, ...] = (
    "a",
    "an",
    "and",
    "as",
    "at",
    "back",
    "by",
    "clockwise",
    "counterclockwise",
    "degree",
    "degrees",
    "each",
    "every",
    "example",
    "examples",
    "first",
    "for",
    "from",
    "here",
    "image",
    "in",
    "is",
    "it",
    "its",
    "left",
    "less",
    "more",
    "next",
    "not",
    "now",
    "of",
    "only",
    "other",
    "please",
    "right",
    "second",
    "that",
    "the",
    "then",
    "third",
    "this",
    "to",
    "top",
    "bottom",
    "was",
    "what",
    "where",
    "which",
    "with",
    "without",
    "you",
    "shorter",
    "taller",
    "lighter",
    "darker",
    "smaller",
    "larger",
    "bigger",
    "same",
    "different",
    "textured",
    "colored",
    "coloured",
    "shaped",
    "color",
    "colour",
    "shape",
    "instruction",
    "robot",
    "table",
)

# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------

_SLOT_PATTERN = re.compile(r"<([a-z_0-9]+)>")


def _task_slot_values() -> dict[str, tuple[str, ...]]:
    textured = tuple(t for t in TEXTURE_NAMES if not t.startswith("dark "))
    return {
        "dragged_texture": textured,
        "base_texture": textured,
        "texture": TEXTURE_NAMES,
        "angle": tuple(str(a) for a in (*ROTATE_ANGLES, *TWIST_ANGLES)),
        "adj": (*NOVEL_ADJECTIVES, *NOVEL_ADJECTIVES_EXTREME),
        "adv": ("", "less "),
        "noun1": (*NOVEL_NOUNS, *NOVEL_NOUNS_EXTREME),
        "noun2": (*NOVEL_NOUNS, *NOVEL_NOUNS_EXTREME),
        "det": SWEEP_DETERMINERS,
        "direction": DIRECTIONS,
        "object": tuple(f"{t} {o}" for t in textured for o in OBJECT_NAMES),
    }


def _expand(
    template: str, slots: dict[str, tuple[str, ...]], rng: random.Random, n: int
) -> list[str]:
    """Fill `template` at least `n` times; every value of every slot is used at least once."""
    names = sorted(set(_SLOT_PATTERN.findall(template)))
    if not names:
        return [template]
    count = max(n, *(len(slots[name]) for name in names))
    columns: dict[str, list[str]] = {}
    for name in names:
        values = list(slots[name])
        # every value once, then random values; shuffled so that slots pair up randomly
        column = values + [rng.choice(values) for _ in range(count - len(values))]
        rng.shuffle(column)
        columns[name] = column

    def filled(i: int) -> str:
        return _SLOT_PATTERN.sub(lambda match: columns[match.group(1)][i], template)

    return [filled(i) for i in range(count)]


def _case_variants(sentence: str) -> Iterator[str]:
    """The sentence as written, `str.capitalize()`d (paraphrase rule) and lower-cased."""
    yield sentence
    yield sentence.capitalize()
    yield sentence.lower()


def split_on_placeholders(text: str) -> list[str]:
    """Split `text` into the non-empty pieces between known placeholders (placeholders dropped).

    These pieces are exactly what the tokenizer model sees once placeholders are extracted as
    added tokens.
    """
    pieces: list[str] = []
    start = 0
    for match in PLACEHOLDER_PATTERN.finditer(text):
        if match.group(1) in _PLACEHOLDER_NAME_SET:
            pieces.append(text[start : match.start()])
            start = match.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


_PLACEHOLDER_NAME_SET = frozenset(PLACEHOLDER_NAMES)


_SLOT_REFERENCE = re.compile(r"\[\^?([a-z_]+)\]")


def _resolve_references(text: str, slots: dict[str, tuple[str, ...]]) -> str:
    """`text` with each nested `[slot]` reference replaced by that slot's first entry."""
    return _SLOT_REFERENCE.sub(lambda match: slots[match.group(1)][0], text)


def _paraphrase_phrases() -> list[tuple[str, ...]]:
    """The phrases of each paraphrase slot (`vima_schema.vocabulary`), one tuple per slot.

    Nested `[slot]` references are resolved; blank entries (" ", "") are dropped.
    """
    out: list[tuple[str, ...]] = []
    for task_slots in (PARAPHRASE_SLOTS, *TASK_PARAPHRASE_SLOTS.values()):
        slots = {**PARAPHRASE_SLOTS, **task_slots}
        for values in task_slots.values():
            phrases = (_resolve_references(value, slots).strip() for value in values)
            out.append(tuple(phrase for phrase in phrases if phrase))
    return [phrases for phrases in out if phrases]


def _raw_sentences() -> Iterator[str]:
    rng = random.Random(0)
    task_slots = _task_slot_values()
    for templates in TASK_TEMPLATES.values():
        for template in templates:
            for sentence in _expand(template, task_slots, rng, 40):
                yield from _case_variants(sentence)
                # original VIMA example style: "put the {dragged_obj} into the {base_obj} ."
                yield re.sub(r"([.,:])", r" \1", sentence.lower())
    for template in TEXTUAL_TEMPLATES:
        for sentence in _expand(template, task_slots, rng, 200):
            yield from _case_variants(sentence)
    paraphrase = _paraphrase_phrases()
    for phrases in paraphrase:
        # one word list per slot, so every phrase also occurs inside a sentence
        yield from _case_variants(", ".join(phrases))
    words: list[str] = [
        *OBJECT_NAMES,
        *OBJECT_ALIASES,
        *TEXTURE_NAMES,
        *NOVEL_WORDS,
        *DIRECTIONS,
        *NUMBER_WORDS,
        *EXTRA_WORDS,
        *itertools.chain.from_iterable(paraphrase),
    ]
    for word in words:
        yield from _case_variants(word)
        yield " " + word
    numbers = [str(i) for i in range(0, 361)]
    yield " ".join(numbers)
    yield ", ".join(numbers[:20])
    yield "".join(PUNCTUATION)
    yield " ".join(PUNCTUATION)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    yield " ".join(letters) + " " + " ".join(letters.lower())


def corpus_sentences(split_placeholders: bool = True) -> list[str]:
    """Return the deterministic training corpus of the default tokenizer.

    With `split_placeholders` (default) every sentence is cut at its placeholders, which are
    dropped: placeholders are added tokens and never reach the BPE model, so training on the
    pieces matches what the model sees when encoding. Otherwise whole sentences are returned.
    """
    out: list[str] = []
    for sentence in _raw_sentences():
        if split_placeholders:
            out.extend(split_on_placeholders(sentence))
        else:
            out.append(sentence)
    return out
