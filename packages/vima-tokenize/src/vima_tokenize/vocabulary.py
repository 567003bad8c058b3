"""The VIMA prompt vocabulary as data: placeholder tokens and the tokenizer training corpus.

Sources: VIMA-Bench task templates (17 tasks), the object and texture encyclopedia, the novel
words of the concept-grounding tasks, the paraphrase ("reworded") vocabulary of CoGeLoT and the
"textual" descriptions. `corpus_sentences()` turns these into the sentences the default
tokenizer is trained on (see `scripts/build_tokenizer.py`).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator

# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------

INDEXED_PLACEHOLDER_NAMES: tuple[str, ...] = (
    "base_obj",
    "dragged_obj",
    "demo_blicker_obj",
    "demo_less_blicker_obj",
    "start_scene",
    "end_scene",
    "before_twist",
    "after_twist",
    "frame",
)
"""Names that occur plain and with a suffix `_0` ... `_10`."""

MAX_PLACEHOLDER_INDEX = 10

SINGLE_PLACEHOLDER_NAMES: tuple[str, ...] = (
    "swept_obj",
    "bounds",
    "constraint",
    "scene",
    "ring",
    "hanoi_stand",
)
"""Names that only occur without a suffix."""

PLACEHOLDER_NAMES: tuple[str, ...] = (
    *(
        name if index is None else f"{name}_{index}"
        for name in INDEXED_PLACEHOLDER_NAMES
        for index in (None, *range(MAX_PLACEHOLDER_INDEX + 1))
    ),
    *SINGLE_PLACEHOLDER_NAMES,
)
"""The 114 placeholder names (without braces), in CoGeLoT's order."""

PLACEHOLDER_TOKENS: tuple[str, ...] = tuple(f"{{{name}}}" for name in PLACEHOLDER_NAMES)
"""The 114 placeholder tokens as written in prompts, e.g. `"{base_obj}"`."""

PLACEHOLDER_PATTERN = re.compile(r"\{[A-Za-z0-9_]+\}")
"""Matches any `{name}`; only names in `PLACEHOLDER_NAMES` are placeholders."""

# --------------------------------------------------------------------------------------------
# Encyclopedia
# --------------------------------------------------------------------------------------------

LETTERS: tuple[str, ...] = ("A", "E", "G", "M", "R", "T", "V")

BASE_OBJECTS: tuple[str, ...] = ("bowl", "pan", "pallet", "frame", "container", "square")
DRAGGED_OBJECTS: tuple[str, ...] = (
    *(f"letter {letter}" for letter in LETTERS),
    "cross",
    "diamond",
    "triangle",
    "flower",
    "heart",
    "hexagon",
    "pentagon",
    "L-shaped block",
    "ring",
    "round",
    "star",
    "block",
    "shorter block",
)
SWEEP_OBJECTS: tuple[str, ...] = ("small block", "three-sided rectangle", "line")
OTHER_OBJECTS: tuple[str, ...] = ("stand", "disk", "hanoi stand", "hanoi disk")
OBJECT_ALIASES: tuple[str, ...] = ("cube", "L-shape", "zone", "frypan", "gray", "grey")
OBJECT_NAMES: tuple[str, ...] = (
    *BASE_OBJECTS,
    *DRAGGED_OBJECTS,
    *SWEEP_OBJECTS,
    *OTHER_OBJECTS,
)

COLORS: tuple[str, ...] = (
    "blue",
    "red",
    "green",
    "orange",
    "yellow",
    "purple",
    "pink",
    "cyan",
    "olive",
)
DARKENED_COLORS: tuple[str, ...] = COLORS[:-1]
"""Colours with a "dark" variant (all but olive)."""
IMAGE_TEXTURES: tuple[str, ...] = (
    "brick",
    "tiles",
    "wooden",
    "granite",
    "plastic",
    "polka dot",
    "checkerboard",
    "tiger",
    "magma",
    "rainbow",
)
PATTERN_COLORS: tuple[str, ...] = ("red", "yellow", "green", "blue", "purple")
COLOR_PAIRS: tuple[tuple[str, str], ...] = tuple(itertools.combinations(PATTERN_COLORS, 2))


def _texture_names() -> tuple[str, ...]:
    names: list[str] = list(IMAGE_TEXTURES)
    for pattern in ("stripe", "polka dot"):
        for first, second in COLOR_PAIRS:
            names += [f"{first} and {second} {pattern}", f"dark {first} and {second} {pattern}"]
    for color in PATTERN_COLORS:
        names += [f"{color} swirl", f"dark {color} swirl"]
    names += [f"{color} paisley" for color in PATTERN_COLORS]
    names += list(COLORS)
    names += [f"dark {color}" for color in DARKENED_COLORS]
    return tuple(names)


TEXTURE_NAMES: tuple[str, ...] = _texture_names()
"""The 82 texture names of the encyclopedia (49 non-dark)."""

NOVEL_NOUNS: tuple[str, ...] = ("dax", "blicket", "wug", "zup")
NOVEL_NOUNS_EXTREME: tuple[str, ...] = ("xachup", "feplicat", "gazip", "duchat")
NOVEL_ADJECTIVES: tuple[str, ...] = ("daxer", "blicker", "modier", "kobar")
NOVEL_ADJECTIVES_EXTREME: tuple[str, ...] = ("xachupiar", "feplicatarie", "gazipierdo", "duchatler")
NOVEL_WORDS: tuple[str, ...] = (
    *NOVEL_NOUNS,
    *NOVEL_NOUNS_EXTREME,
    *NOVEL_ADJECTIVES,
    *NOVEL_ADJECTIVES_EXTREME,
)

DIRECTIONS: tuple[str, ...] = ("north", "south", "west", "east")
ROTATE_ANGLES: tuple[int, ...] = (20, 30, 40, 60, 80, 90, 100, 120, 140, 150, 160)
TWIST_ANGLES: tuple[int, ...] = tuple(range(30, 360, 30))
NUMBER_WORDS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)
SWEEP_DETERMINERS: tuple[str, ...] = ("any", "one", "two", "three", "four", "five", "all")
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

# --------------------------------------------------------------------------------------------
# Paraphrase ("reworded") vocabulary
# --------------------------------------------------------------------------------------------

PARAPHRASE_VOCABULARY: dict[str, tuple[str, ...]] = {
    "place": ("put", "place", "move", "position", "drop", "store", "stick", "set"),
    "lift": ("pick up", "take", "lift", "grab"),
    "move": ("move", "relocate", "shift", "place"),
    "sweep": (
        "put",
        "place",
        "position",
        "sweep",
        "push",
        "shove",
        "move",
        "relocate",
        "shift",
    ),
    "rotate": ("rotate", "turn", "spin", "pivot", "swivel"),
    "rearrange": ("rearrange", "reposition", "reorder", "reorganize"),
    "stack": ("stack", "place", "put", "rearrange", "organize"),
    "article": ("the", "one"),
    "onto": ("onto", "into", "on top of", "within the confines of", "on"),
    "inside": ("in", "inside", "within", "inside of", "into"),
    "noun": ("object", "item", "thing"),
    "nouns": ("objects", "items", "things"),
    "precisely": ("exactly", "precisely", "about", "around", "approximately", "roughly"),
    "scene": ("scene", "arrangement", "configuration", "layout", "setup", "composition"),
    "restore": ("restore", "put it back", "undo", "reverse", "revert back"),
    "exceeding": (
        "exceeding",
        "going over",
        "surpassing",
        "overstepping",
        "going beyond",
        "fully crossing",
    ),
    "touching": ("touching", "reaching"),
    "same": ("same", "identical", "matching", "similar"),
    "texture": ("texture", "pattern", "look", "style"),
    "profile": ("profile", "shape", "form", "structure"),
    "original": ("starting", "original", "initial"),
    "finally": ("finally", "last", "then"),
    "motion": ("motion", "movement", "maneuver"),
    "build": ("build", "create", "construct", "form", "make"),
    "order": ("order", "way", "manner", "sequence"),
    "container": (
        "container",
        "object",
        "item",
        "thing",
        "place",
        "location",
        "spot",
        "position",
        "area",
        "zone",
    ),
}

# Paraphrase frames; `<slot>` draws from PARAPHRASE_VOCABULARY or the task slots below.
PARAPHRASE_TEMPLATES: tuple[str, ...] = (
    "<place> <article> {dragged_obj_1} <onto> the {base_obj}.",
    "<place> {dragged_obj_1} <onto> the {base_obj}.",
    "<lift> the {dragged_obj_1} and <place> it <onto> the {base_obj}.",
    "<move> <nouns> in the {scene} so that <article> <dragged_texture> <noun> are <onto> the "
    "<base_texture> <noun>.",
    "<lift> the <dragged_texture> <noun> in {scene} and <place> it <onto> the <base_texture> "
    "<noun>.",
    "<rotate> the {dragged_obj} <precisely> <angle> degrees.",
    "<lift> the {dragged_obj} and <rotate> <angle> degrees.",
    "<rotate> the {dragged_obj} by <angle> degrees.",
    "<rearrange> <nouns> to this {scene}.",
    "<rearrange> the <nouns> to match this <scene> {scene}.",
    "<rearrange> <nouns> to this <scene> {scene} and then <restore>.",
    "<rearrange> the <nouns> to this {scene}, then <restore> to the <original> <scene>.",
    "{demo_blicker_obj_1} is <adj> than {demo_less_blicker_obj_1}. <place> the <adv><adj> "
    "{dragged_obj} <onto> the {base_obj}.",
    "this is a <noun1> {dragged_obj_1}. this is a <noun2> {base_obj}. <place> the <noun1> "
    "<onto> the <noun2>.",
    "<lift> the <noun1> and <place> it <onto> the <noun2>.",
    '"twist" is defined as rotating <nouns> a specific amount. for examples: from '
    "{before_twist_1} to {after_twist_1}. now twist all <texture> <nouns>.",
    "<rotate> all <texture> <nouns> like in the examples: from {before_twist_1} to "
    "{after_twist_1}.",
    "follow this <motion> for {dragged_obj}: {frame_0} {frame_1} {frame_2}.",
    "<move> the {dragged_obj} following this <motion>: {frame_0} {frame_1} {frame_2}.",
    "<stack> <nouns> in this <order> {frame_0} {frame_1} {frame_2}.",
    "<build> a tower of <nouns> in this <order>: {frame_0} {frame_1} {frame_2}.",
    "<build> a stack of <nouns> in this <order> {frame_0} {frame_1} {frame_2}.",
    "<sweep> <det> {swept_obj} <inside> the {bounds} without <exceeding> the {constraint}.",
    "<sweep> <det> {swept_obj} <inside> {bounds} without <touching> {constraint}.",
    "<place> all <nouns> with the <same> <texture> as {base_obj} <inside> it.",
    "<place> all <nouns> with the <same> <profile> as {base_obj} <inside> it.",
    "first <place> {dragged_obj} <onto> {base_obj} then <place> the <noun> that was previously "
    "at its <direction> <onto> the same {base_obj}.",
    "<place> {dragged_obj} <onto> {base_obj_1} then {base_obj_2}. <finally> <restore> it "
    "<onto> its <original> <container>.",
    "<place> {dragged_obj} <inside> {base_obj_1} and then {base_obj_2}, <finally> <restore> "
    "it to its <original> <container>.",
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
    return [
        _SLOT_PATTERN.sub(lambda m, i=i: columns[m.group(1)][i], template) for i in range(count)
    ]


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
        if match.group(0)[1:-1] in _PLACEHOLDER_NAME_SET:
            pieces.append(text[start : match.start()])
            start = match.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


_PLACEHOLDER_NAME_SET = frozenset(PLACEHOLDER_NAMES)


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
    para_slots = {**task_slots, **PARAPHRASE_VOCABULARY}
    for template in PARAPHRASE_TEMPLATES:
        for sentence in _expand(template, para_slots, rng, 60):
            sentence = sentence[0].upper() + sentence[1:]
            yield from _case_variants(sentence)
    words: list[str] = [
        *OBJECT_NAMES,
        *OBJECT_ALIASES,
        *TEXTURE_NAMES,
        *NOVEL_WORDS,
        *DIRECTIONS,
        *NUMBER_WORDS,
        *EXTRA_WORDS,
        *itertools.chain.from_iterable(PARAPHRASE_VOCABULARY.values()),
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
