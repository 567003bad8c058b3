"""The VIMA prompt vocabulary as plain data, shared by the tokenizer and the paraphraser.

* Prompt placeholders: the `{name}` slots of VIMA-Bench prompts (CoGeLoT's list and order).
* The object and texture encyclopedia, novel words of the concept-grounding tasks, directions,
  angles, number words and sweep determiners (VIMA-Bench task generators).
* The paraphrase slots: word lists the "reworded" engine (`vima_schema.paraphrase`) draws its
  verbs, prepositions, nouns, adverbs, ... from; its templates stay with the engine.

Only data lives here (no tokenizer, no template logic); the order of every tuple is part of the
data: the paraphraser draws from these lists with a seeded `random.Random`, so reordering or
editing an entry changes its output for a given seed.
"""

from __future__ import annotations

import itertools

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

# --------------------------------------------------------------------------------------------
# Encyclopedia: objects and textures
# --------------------------------------------------------------------------------------------

LETTERS: tuple[str, ...] = ("A", "E", "G", "M", "R", "T", "V")
"""Letters of the `letter X` objects."""

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
OBJECT_NAMES: tuple[str, ...] = (
    *BASE_OBJECTS,
    *DRAGGED_OBJECTS,
    *SWEEP_OBJECTS,
    *OTHER_OBJECTS,
)
"""Object names as they appear in `obj_name` and in textual prompts."""

OBJECT_ALIASES: tuple[str, ...] = ("cube", "L-shape", "zone", "frypan", "gray", "grey")
"""Other words used for objects (and their colour) in descriptions."""

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
"""Colours of the two-colour stripe / polka-dot, swirl and paisley textures."""
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
"""The 82 texture names of the encyclopedia (49 non-dark), as in `texture_name`."""

# --------------------------------------------------------------------------------------------
# Novel words, directions, angles, numbers
# --------------------------------------------------------------------------------------------

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
"""Made-up words of novel_noun / novel_adj / novel_adj_and_noun (normal and extreme)."""

DIRECTIONS: tuple[str, ...] = ("north", "south", "west", "east")
"""Neighbour directions of manipulate_old_neighbor."""
ROTATE_ANGLES: tuple[int, ...] = (20, 30, 40, 60, 80, 90, 100, 120, 140, 150, 160)
"""Angles (degrees) of the rotate task."""
TWIST_ANGLES: tuple[int, ...] = tuple(range(30, 360, 30))
"""Angles (degrees) of the twist task."""
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
"""Quantifiers of `Sweep <det> {swept_obj} ...`."""

# --------------------------------------------------------------------------------------------
# Paraphrase slots
# --------------------------------------------------------------------------------------------
# Word lists the paraphrase engine fills its `[slot]` markers from. An entry may itself
# reference another slot as `[name]` (expanded recursively); "" means "leave the word out".

PARAPHRASE_SLOTS: dict[str, tuple[str, ...]] = {
    # placing
    "put": ("put", "place", "move", "set", "position", "drop"),
    "placed": ("placed", "put", "moved", "set", "dropped"),
    "putting": ("putting", "placing", "moving", "dropping"),
    "pick": ("pick up", "take", "grab", "lift"),
    "into": ("into", "onto", "inside", "in", "on top of", "within"),
    "the": ("the", ""),
    # generic nouns
    "object": ("object", "item", "thing"),
    "objects": ("objects", "items", "things"),
    "an_object": ("an object", "an item", "a thing"),
    # rotation
    "rotate": ("rotate", "turn", "spin", "swivel", "pivot"),
    "rotated": ("rotated", "turned", "spun"),
    "rotating": ("rotating", "turning", "spinning"),
    "rotation": ("rotation", "turn", "spin"),
    "by": ("by", "through"),
    "exactly": ("exactly", "precisely", ""),
    # scenes and rearrangement
    "from": ("in", "from", "shown in", "seen in"),
    "rearrange": ("rearrange", "reorganize", "reposition", "arrange"),
    "setup": ("scene", "arrangement", "configuration", "layout", "setup"),
    "match": ("match", "look like", "resemble"),
    "matches": ("matches", "looks like", "resembles"),
    "restore": (
        "restore them",
        "restore the [original] [setup]",
        "put them back where they were",
        "move them back to their [original] positions",
        "return everything to how it was",
        "undo the rearrangement",
    ),
    "then": ("then", "after that", "next", "afterwards"),
    "original": ("original", "initial", "starting", "first"),
    # memory tasks
    "previously": ("previously", "originally", "initially", "formerly", "earlier"),
    "finally": ("finally", "lastly", "at the end", "in the end", "eventually"),
    "restore_it": ("restore it", "return it", "bring it back", "put it back", "move it back"),
    "back_into": ("into", "to"),
    # imitation
    "follow": ("follow", "copy", "imitate", "reproduce", "mimic"),
    "motion": ("motion", "movement", "trajectory", "path"),
    "stack": ("stack", "pile", "pile up"),
    "tower": ("tower", "stack", "pile"),
    "order": ("order", "sequence"),
    "frame_sep": (" ", ", ", " then "),
    # sweeping
    "sweep": ("sweep", "push", "shove", "slide", "move"),
    "into_zone": ("into", "inside", "within"),
    # novel concepts
    "specific": ("specific", "particular", "certain", "fixed"),
    "for_example": (
        "for example",
        "for instance",
        "here are some examples",
        "see these examples",
        "examples",
    ),
}
"""Slots shared by every task."""

EXCEEDING_SLOTS: dict[str, tuple[str, ...]] = {
    "limit_ing": (
        "exceeding",
        "going beyond",
        "going past",
        "going over",
        "crossing",
        "overstepping",
    ),
    "limit": ("exceed", "go beyond", "go past", "go over", "cross", "overstep"),
}
"""The constraint verb of sweep_without_exceeding."""

TOUCHING_SLOTS: dict[str, tuple[str, ...]] = {
    "limit_ing": ("touching", "contacting", "hitting", "bumping into"),
    "limit": ("touch", "contact", "hit", "bump into"),
}
"""The constraint verb of sweep_without_touching."""

TEXTURE_SLOTS: dict[str, tuple[str, ...]] = {
    "attr": ("texture", "pattern", "look", "appearance", "surface pattern"),
}
"""The shared attribute of same_texture."""

PROFILE_SLOTS: dict[str, tuple[str, ...]] = {
    "attr": ("profile", "shape", "outline", "silhouette", "form"),
}
"""The shared attribute of same_shape."""

TASK_PARAPHRASE_SLOTS: dict[str, dict[str, tuple[str, ...]]] = {
    "sweep_without_exceeding": EXCEEDING_SLOTS,
    "sweep_without_touching": TOUCHING_SLOTS,
    "same_texture": TEXTURE_SLOTS,
    "same_shape": PROFILE_SLOTS,
}
"""Task-specific slots, added to (and overriding) `PARAPHRASE_SLOTS` for their task."""
