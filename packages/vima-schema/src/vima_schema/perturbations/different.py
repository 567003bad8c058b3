"""Different instruction: the prompt of a related task, with the scene and assets unchanged.

Defined, as in the reference, for five tasks only; the others keep their prompt. The
environment's success criterion stays the original task's, so a policy that follows the words
should fail. Values (determiner, placeholders) are carried over; assets the new prompt does not
mention are dropped.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from vima_schema.layout import PLACEHOLDER_REGEX

DIFFERENT_INSTRUCTION_ANGLES: tuple[int, ...] = (30, 60, 90, 120, 150)

_PH = rf"({PLACEHOLDER_REGEX})"
_Maker = Callable[[str, random.Random], str | None]
_DRAGGED = re.compile(r"\{dragged_obj(?:_\d+)?\}")
_SWEEP = re.compile(
    rf"^Sweep ([A-Za-z]+) {_PH} into {_PH} without (?:exceeding|touching) {_PH}\.?$"
)
_SAME = re.compile(rf"^Put all (?:of the )?objects with the same (?:texture|profile) as {_PH}")


def _visual_manipulation(prompt: str, rng: random.Random) -> str | None:
    dragged = _DRAGGED.search(prompt)
    if dragged is None:
        return None
    return f"Rotate the {dragged.group(0)} {rng.choice(DIFFERENT_INSTRUCTION_ANGLES)} degrees."


def _sweep(verb: str) -> _Maker:
    def make(prompt: str, rng: random.Random) -> str | None:
        match = _SWEEP.match(prompt)
        if match is None:
            return None
        det, swept, bounds, constraint = match.groups()
        return f"Sweep {det} {swept} into {bounds} without {verb} {constraint}."

    return make


def _same(attribute: str) -> _Maker:
    def make(prompt: str, rng: random.Random) -> str | None:
        match = _SAME.match(prompt)
        if match is None:
            return None
        return f"Put all objects with the same {attribute} as {match.group(1)} into it."

    return make


_MAKERS: dict[str, _Maker] = {
    "visual_manipulation": _visual_manipulation,  # -> rotate
    "sweep_without_exceeding": _sweep("touching"),  # -> sweep_without_touching
    "sweep_without_touching": _sweep("exceeding"),  # -> sweep_without_exceeding
    "same_texture": _same("profile"),  # -> same_shape
    "same_shape": _same("texture"),  # -> same_texture
}
DIFFERENT_INSTRUCTION_TASKS: frozenset[str] = frozenset(_MAKERS)
"""The five tasks for which a different instruction is defined."""


def different_prompt(task: str, prompt: str, rng: random.Random) -> str:
    """The other task's prompt for `task`, or `prompt` unchanged where none is defined."""
    maker = _MAKERS.get(task)
    if maker is None:
        return prompt
    made = maker(" ".join(prompt.split()), rng)
    return prompt if made is None else made
