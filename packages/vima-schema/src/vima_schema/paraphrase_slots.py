"""Reading a prompt's slot values for the paraphrase engine (`vima_schema.paraphrase`): the
pieces of the source patterns and the per-task parsers of their matches."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from vima_schema.layout import PLACEHOLDER_REGEX
from vima_schema.paraphrase_filling import join_and
from vima_schema.vocabulary import DIRECTIONS

Slots = dict[str, Any]

PH = PLACEHOLDER_REGEX
WORD = r"[A-Za-z]+"
TEXTURE = r"[A-Za-z][A-Za-z ]*?"
_END = r"\s*\.?"
DIRECTION = "|".join(DIRECTIONS)

PH_RE = re.compile(PH)
_NOVEL_DEF_RE = re.compile(rf"This is an? ({WORD}) ({PH})\.", re.IGNORECASE)
_NOVEL_ADJ_DEMO_RE = re.compile(rf"({PH}) is ({WORD}) than ({PH})\.", re.IGNORECASE)
_TWIST_DEMO_RE = re.compile(rf"From ({PH}) to ({PH})\.", re.IGNORECASE)
NOVEL_DEFS = rf"(?P<defs>(?:This is an? {WORD} {PH}\. )+)"
ADJ_DEMOS = rf"(?P<demos>(?:{PH} is {WORD} than {PH}\. )+)"


class RewordError(ValueError):
    """Raised when a prompt matches no source pattern of its task."""


def pattern(body: str) -> re.Pattern[str]:
    """Compile an anchored, case-insensitive source pattern."""
    return re.compile(rf"^{body}{_END}$", re.IGNORECASE)


def simple(parse: Callable[[re.Match[str]], Slots]) -> Callable[[re.Match[str], str, str], Slots]:
    """Adapt a parser that does not need the prompt or the task name."""
    return lambda match, _prompt, _task: parse(match)


def _placeholders(match: re.Match[str], group: str) -> list[str]:
    """All placeholders inside a named group."""
    return PH_RE.findall(match.group(group))


def parse_plain(match: re.Match[str]) -> Slots:
    """Slots are the named groups, verbatim."""
    return {k: v for k, v in match.groupdict().items() if v is not None}


def parse_visual_manipulation(match: re.Match[str]) -> Slots:
    dragged = _placeholders(match, "dragged")
    return {"d": join_and(dragged), "b": match["b"], "it": "them" if len(dragged) > 1 else "it"}


def parse_frames(match: re.Match[str]) -> Slots:
    slots: Slots = {"frames": _placeholders(match, "frames")}
    if match.groupdict().get("d"):
        slots["d"] = match["d"]
    return slots


def parse_pick_in_order(match: re.Match[str]) -> Slots:
    return {"d": match["d"], "bases": _placeholders(match, "bases")}


def _novel_definitions(match: re.Match[str], prompt: str, task: str) -> list[tuple[str, str]]:
    """(novel word, placeholder) pairs of the definitions, checked for unique words."""
    pairs = [(m.group(1), m.group(2)) for m in _NOVEL_DEF_RE.finditer(match["defs"])]
    words = [w.lower() for w, _ in pairs]
    if len(set(words)) != len(words):
        raise RewordError(f"{task}: a novel word is defined twice in prompt {prompt!r}")
    return pairs


def _bound(word: str, pairs: Sequence[tuple[str, str]], prompt: str, task: str) -> str:
    """The defined spelling of ``word``; raises if the word has no definition."""
    for defined, _ in pairs:
        if defined.lower() == word.lower():
            return defined
    raise RewordError(f"{task}: novel word {word!r} is not defined in prompt {prompt!r}")


def _adj_demos(match: re.Match[str], prompt: str, task: str) -> list[tuple[str, str]]:
    """(more, less) placeholder pairs of the adjective demos; the adjective must be shared."""
    demos = list(_NOVEL_ADJ_DEMO_RE.finditer(match["demos"]))
    adjectives = {m.group(2).lower() for m in demos} | {match["adj"].lower()}
    if len(adjectives) != 1:
        raise RewordError(f"{task}: inconsistent novel adjectives in prompt {prompt!r}")
    return [(m.group(1), m.group(3)) for m in demos]


def parse_novel_noun(match: re.Match[str], prompt: str, task: str) -> Slots:
    pairs = _novel_definitions(match, prompt, task)
    dragged = [_bound(w, pairs, prompt, task) for w in re.findall(rf"an? ({WORD})", match["drag"])]
    base = _bound(match["base"], pairs, prompt, task)
    if base.lower() in {w.lower() for w in dragged}:
        raise RewordError(f"{task}: the base and a dragged noun coincide in prompt {prompt!r}")
    return {"defs": pairs, "dragged": dragged, "base": base}


def parse_novel_adj(match: re.Match[str], prompt: str, task: str) -> Slots:
    adv = "less " if match["adv"] else ""
    slots: Slots = {"demos": _adj_demos(match, prompt, task), "adj": match["adj"], "adv": adv}
    if match.groupdict().get("defs"):
        pairs = _novel_definitions(match, prompt, task)
        slots["defs"] = pairs
        slots["d"] = _bound(match["d"], pairs, prompt, task)
        slots["b"] = _bound(match["b"], pairs, prompt, task)
        if slots["d"].lower() == slots["b"].lower():
            raise RewordError(f"{task}: the two nouns coincide in prompt {prompt!r}")
    else:
        slots["d"], slots["b"] = match["d"], match["b"]
    return slots


def parse_twist(match: re.Match[str], prompt: str, task: str) -> Slots:
    demos = [(m.group(1), m.group(2)) for m in _TWIST_DEMO_RE.finditer(match["demos"])]
    return {"demos": demos, "tex": match["tex"]}
