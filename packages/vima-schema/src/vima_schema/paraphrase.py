"""Paraphrase ("reworded") engine for VIMA prompts.

A prompt is parsed against the *source patterns* of its task (regular expressions with named
groups for the slots: placeholders, angles, novel words, textures, directions, ...). The
extracted slot values are then written into a randomly chosen *target template* of the same task
whose vocabulary slots (verbs, prepositions, nouns, adverbs, ...) are drawn from ``rng``.

Template mini-language (all templates are plain strings):

* ``<name>`` inserts the value ``name`` extracted from the prompt, verbatim.
* ``[name]`` inserts a random entry of the word list ``name`` (``PARAPHRASE_SLOTS`` and the
  task's ``TASK_PARAPHRASE_SLOTS`` of :mod:`vima_schema.vocabulary`; entries may contain further
  ``[...]`` slots and are expanded recursively); ``[^name]`` also upper-cases its first letter.

Novel words (novel_noun, novel_adj_and_noun) are bound to their placeholders *by name* from the
definitions, so the bindings survive whatever the order of the definitions is. Capitalisation
only touches the first character of a sentence (never ``str.capitalize``), so placeholders and
texture names are kept exactly as they were.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vima_schema import paraphrase_templates as tpl
from vima_schema.layout import PLACEHOLDER_REGEX
from vima_schema.vocabulary import (
    DIRECTIONS,
    PARAPHRASE_SLOTS,
    TASK_PARAPHRASE_SLOTS,
)

__all__ = ["PARAPHRASE_VOCABULARY", "SUPPORTED_TASKS", "RewordError", "reword_prompt"]


class RewordError(ValueError):
    """Raised when a prompt matches no source pattern of its task."""


# --------------------------------------------------------------------------------------------
# Vocabulary slots (word lists: vima_schema.vocabulary)
# --------------------------------------------------------------------------------------------

Vocab = Mapping[str, tuple[str, ...]]

# Words emitted by code rather than by templates (articles, list joiners, pronouns, adverb).
_CODE_WORDS: tuple[str, ...] = ("a", "an", "and", "it", "them", "less", "the")

# --------------------------------------------------------------------------------------------
# Source patterns (target templates: vima_schema.paraphrase_templates)
# --------------------------------------------------------------------------------------------

_PH = PLACEHOLDER_REGEX
_W = r"[A-Za-z]+"
_TEX = r"[A-Za-z][A-Za-z ]*?"
_END = r"\s*\.?"
_DIRECTION = "|".join(DIRECTIONS)


def _pattern(body: str) -> re.Pattern[str]:
    """Compile an anchored, case-insensitive source pattern."""
    return re.compile(rf"^{body}{_END}$", re.IGNORECASE)


_PH_RE = re.compile(_PH)
_SLOT_RE = re.compile(r"\[(\^?)([a-z_]+)\]|<([a-z_0-9]+)>")
_NOVEL_DEF_RE = re.compile(rf"This is an? ({_W}) ({_PH})\.", re.IGNORECASE)
_NOVEL_ADJ_DEMO_RE = re.compile(rf"({_PH}) is ({_W}) than ({_PH})\.", re.IGNORECASE)
_TWIST_DEMO_RE = re.compile(rf"From ({_PH}) to ({_PH})\.", re.IGNORECASE)
_NOVEL_DEFS = rf"(?P<defs>(?:This is an? {_W} {_PH}\. )+)"
_ADJ_DEMOS = rf"(?P<demos>(?:{_PH} is {_W} than {_PH}\. )+)"


# --------------------------------------------------------------------------------------------
# Filling machinery
# --------------------------------------------------------------------------------------------


def _upper_first(text: str) -> str:
    """Upper-case the first character only (unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:]


class _Filler:
    """Expands templates with a given ``random.Random`` and vocabulary."""

    def __init__(self, rng: random.Random, vocab: Vocab) -> None:
        self.rng = rng
        self.vocab = vocab

    def pick(self, options: Sequence[str]) -> str:
        """Choose one option."""
        return self.rng.choice(options)

    def fill(self, template: str, values: Mapping[str, str]) -> str:
        """Expand ``[vocab]`` slots (recursively) and ``<value>`` slots of ``template``."""

        def replace(match: re.Match[str]) -> str:
            if match.group(2) is not None:
                text = self.fill(self.rng.choice(self.vocab[match.group(2)]), values)
                return _upper_first(text) if match.group(1) else text
            return values[match.group(3)]

        return _SLOT_RE.sub(replace, template)

    def sentence(self, templates: Sequence[str], values: Mapping[str, str]) -> str:
        """Fill a randomly chosen template and capitalise its first character."""
        return _upper_first(self.fill(self.pick(templates), values).strip())


def _join_and(items: Sequence[str]) -> str:
    """Join as "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _article(word: str) -> str:
    """Indefinite article for ``word``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _placeholders(match: re.Match[str], group: str) -> list[str]:
    """All placeholders inside a named group."""
    return _PH_RE.findall(match.group(group))


# --------------------------------------------------------------------------------------------
# Per-task parsing and rendering
# --------------------------------------------------------------------------------------------

Slots = dict[str, Any]


def _parse_plain(match: re.Match[str]) -> Slots:
    """Slots are the named groups, verbatim."""
    return {k: v for k, v in match.groupdict().items() if v is not None}


def _render_plain(templates: Sequence[str]) -> Callable[[Slots, _Filler], str]:
    """Renderer for single-sentence tasks whose slots are plain strings."""

    def render(slots: Slots, filler: _Filler) -> str:
        return filler.sentence(templates, slots)

    return render


def _parse_visual_manipulation(match: re.Match[str]) -> Slots:
    dragged = _placeholders(match, "dragged")
    return {"d": _join_and(dragged), "b": match["b"], "it": "them" if len(dragged) > 1 else "it"}


def _render_frames(templates: Sequence[str]) -> Callable[[Slots, _Filler], str]:
    """Renderer for tasks with a sequence of frame placeholders."""

    def render(slots: Slots, filler: _Filler) -> str:
        sep = filler.pick(PARAPHRASE_SLOTS["frame_sep"])
        values = {k: v for k, v in slots.items() if k != "frames"}
        values["frames"] = sep.join(slots["frames"])
        return filler.sentence(templates, values)

    return render


def _parse_frames(match: re.Match[str]) -> Slots:
    slots: Slots = {"frames": _placeholders(match, "frames")}
    if match.groupdict().get("d"):
        slots["d"] = match["d"]
    return slots


def _parse_pick_in_order(match: re.Match[str]) -> Slots:
    return {"d": match["d"], "bases": _placeholders(match, "bases")}


def _render_pick_in_order(slots: Slots, filler: _Filler) -> str:
    bases: list[str] = slots["bases"]
    chain = bases[0] + "".join(
        filler.fill(filler.pick(tpl.PICK_CHAIN), {"b": b}) for b in bases[1:]
    )
    template = filler.pick(tpl.PICK_IN_ORDER_THEN_RESTORE)
    sentences = filler.fill(template, {"d": slots["d"], "chain": chain}).split(". ")
    return ". ".join(_upper_first(s) for s in sentences)


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


def _render_definitions(pairs: Sequence[tuple[str, str]], filler: _Filler) -> list[str]:
    """One sentence per (novel word, placeholder) pair; a template is chosen per prompt."""
    template = filler.pick(tpl.NOVEL_NOUN_DEFINITION)
    return [
        _upper_first(filler.fill(template, {"w": w, "ph": ph, "art": _article(w)}))
        for w, ph in pairs
    ]


def _render_adj_demos(demos: Sequence[tuple[str, str]], adj: str, filler: _Filler) -> list[str]:
    """One sentence per adjective demo; a template is chosen per prompt."""
    template = filler.pick(tpl.NOVEL_ADJ_DEMO)
    return [_upper_first(filler.fill(template, {"a": a, "b": b, "adj": adj})) for a, b in demos]


def _render_novel_adj(slots: Slots, filler: _Filler) -> str:
    sentences = _render_definitions(slots.get("defs", ()), filler)
    sentences += _render_adj_demos(slots["demos"], slots["adj"], filler)
    values = {"adv": slots["adv"], "adj": slots["adj"], "d": slots["d"], "b": slots["b"]}
    sentences.append(filler.sentence(tpl.NOVEL_ADJ_INSTRUCTION, values))
    return " ".join(sentences)


def _noun_phrase(words: Sequence[str], determiner: str | None) -> str:
    """ "the dax and the wug" / "a dax and a wug"."""
    return _join_and([f"{determiner or _article(w)} {w}" for w in words])


def _render_novel_noun(slots: Slots, filler: _Filler) -> str:
    sentences = _render_definitions(slots["defs"], filler)
    dragged: list[str] = slots["dragged"]
    values = {
        "d_the": _noun_phrase(dragged, "the"),
        "d_a": _noun_phrase(dragged, None),
        "b_the": _noun_phrase([slots["base"]], "the"),
        "b_a": _noun_phrase([slots["base"]], None),
        "it": "them" if len(dragged) > 1 else "it",
    }
    sentences.append(filler.sentence(tpl.NOVEL_NOUN_INSTRUCTION, values))
    return " ".join(sentences)


def _render_twist(slots: Slots, filler: _Filler) -> str:
    sentences = [_upper_first(filler.fill(filler.pick(tpl.TWIST_INTRO), {}))]
    template = filler.pick(tpl.TWIST_DEMO)
    sentences += [_upper_first(filler.fill(template, {"b": b, "a": a})) for b, a in slots["demos"]]
    sentences.append(filler.sentence(tpl.TWIST_INSTRUCTION, {"tex": slots["tex"]}))
    return " ".join(sentences)


def _render_sentences(templates: Sequence[str]) -> Callable[[Slots, _Filler], str]:
    """Renderer for multi-sentence templates: every sentence start is capitalised."""

    def render(slots: Slots, filler: _Filler) -> str:
        text = filler.fill(filler.pick(templates), slots)
        return ". ".join(_upper_first(s) for s in text.split(". "))

    return render


@dataclass(frozen=True)
class _TaskSpec:
    """Source patterns, slot extraction and rendering of one task."""

    patterns: tuple[re.Pattern[str], ...]
    parse: Callable[[re.Match[str], str, str], Slots]
    render: Callable[[Slots, _Filler], str]
    templates: tuple[tuple[str, ...], ...]
    vocab: Vocab = field(default_factory=dict)


def _simple(parse: Callable[[re.Match[str]], Slots]) -> Callable[[re.Match[str], str, str], Slots]:
    """Adapt a parser that does not need the prompt or the task name."""
    return lambda match, _prompt, _task: parse(match)


def _parse_novel_noun(match: re.Match[str], prompt: str, task: str) -> Slots:
    pairs = _novel_definitions(match, prompt, task)
    dragged = [_bound(w, pairs, prompt, task) for w in re.findall(rf"an? ({_W})", match["drag"])]
    base = _bound(match["base"], pairs, prompt, task)
    if base.lower() in {w.lower() for w in dragged}:
        raise RewordError(f"{task}: the base and a dragged noun coincide in prompt {prompt!r}")
    return {"defs": pairs, "dragged": dragged, "base": base}


def _parse_novel_adj(match: re.Match[str], prompt: str, task: str) -> Slots:
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


def _parse_twist(match: re.Match[str], prompt: str, task: str) -> Slots:
    demos = [(m.group(1), m.group(2)) for m in _TWIST_DEMO_RE.finditer(match["demos"])]
    return {"demos": demos, "tex": match["tex"]}


_SWEEP_BODY = (
    rf"Sweep (?P<det>{_W}) (?P<swept>{_PH}) into (?P<bounds>{_PH}) without VERB "
    rf"(?P<constraint>{_PH})"
)
_SAME_BODY = rf"Put all (?:of the )?objects with the same ATTR as (?P<b>{_PH}) into it"

_TASKS: dict[str, _TaskSpec] = {
    "visual_manipulation": _TaskSpec(
        patterns=(
            _pattern(
                rf"Put (?:the )?(?P<dragged>{_PH}(?:(?:,| and|, and) (?:the )?{_PH})*) "
                rf"into (?:the )?(?P<b>{_PH})"
            ),
        ),
        parse=_simple(_parse_visual_manipulation),
        render=_render_plain(tpl.VISUAL_MANIPULATION),
        templates=(tpl.VISUAL_MANIPULATION,),
    ),
    "scene_understanding": _TaskSpec(
        patterns=(
            _pattern(
                rf"Put the (?P<t1>{_TEX}) object in (?P<scene>{_PH}) into the (?P<t2>{_TEX}) object"
            ),
        ),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.SCENE_UNDERSTANDING),
        templates=(tpl.SCENE_UNDERSTANDING,),
    ),
    "rotate": _TaskSpec(
        patterns=(
            _pattern(rf"Rotate (?:the )?(?P<d>{_PH}) (?:by )?(?P<angle>\d+(?:\.\d+)?) degrees?"),
        ),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.ROTATE),
        templates=(tpl.ROTATE,),
    ),
    "rearrange": _TaskSpec(
        patterns=(_pattern(rf"Rearrange (?:objects )?to this (?:setup )?(?P<scene>{_PH})"),),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.REARRANGE),
        templates=(tpl.REARRANGE,),
    ),
    "rearrange_then_restore": _TaskSpec(
        patterns=(
            _pattern(
                rf"Rearrange (?:objects )?to this (?:setup )?(?P<scene>{_PH}),? and then restore"
            ),
        ),
        parse=_simple(_parse_plain),
        render=_render_sentences(tpl.REARRANGE_THEN_RESTORE),
        templates=(tpl.REARRANGE_THEN_RESTORE,),
    ),
    "novel_adj": _TaskSpec(
        patterns=(
            _pattern(
                rf"{_ADJ_DEMOS}Put the (?P<adv>less )?(?P<adj>{_W}) (?P<d>{_PH}) "
                rf"into the (?P<b>{_PH})"
            ),
        ),
        parse=_parse_novel_adj,
        render=_render_novel_adj,
        templates=(tpl.NOVEL_ADJ_DEMO, tpl.NOVEL_ADJ_INSTRUCTION),
    ),
    "novel_noun": _TaskSpec(
        patterns=(
            _pattern(
                rf"{_NOVEL_DEFS}Put (?P<drag>an? {_W}(?:(?:,| and|, and) an? {_W})*) "
                rf"into an? (?P<base>{_W})"
            ),
        ),
        parse=_parse_novel_noun,
        render=_render_novel_noun,
        templates=(tpl.NOVEL_NOUN_DEFINITION, tpl.NOVEL_NOUN_INSTRUCTION),
    ),
    "novel_adj_and_noun": _TaskSpec(
        patterns=(
            _pattern(
                rf"{_NOVEL_DEFS}{_ADJ_DEMOS}Put the (?P<adv>less )?(?P<adj>{_W}) (?P<d>{_W}) "
                rf"into the (?P<b>{_W})"
            ),
        ),
        parse=_parse_novel_adj,
        render=_render_novel_adj,
        templates=(tpl.NOVEL_NOUN_DEFINITION, tpl.NOVEL_ADJ_DEMO, tpl.NOVEL_ADJ_INSTRUCTION),
    ),
    "twist": _TaskSpec(
        patterns=(
            _pattern(
                rf'"Twist" is defined as rotating objects? an? specific angle\. For examples?:'
                rf"(?P<demos>(?: From {_PH} to {_PH}\.)+) Now twist all (?P<tex>{_TEX}) objects"
            ),
        ),
        parse=_parse_twist,
        render=_render_twist,
        templates=(tpl.TWIST_INTRO, tpl.TWIST_DEMO, tpl.TWIST_INSTRUCTION),
    ),
    "follow_motion": _TaskSpec(
        patterns=(
            _pattern(rf"Follow this motion for (?P<d>{_PH}):? (?P<frames>{_PH}(?: {_PH})*)"),
        ),
        parse=_simple(_parse_frames),
        render=_render_frames(tpl.FOLLOW_MOTION),
        templates=(tpl.FOLLOW_MOTION,),
    ),
    "follow_order": _TaskSpec(
        patterns=(_pattern(rf"Stack objects in this order:? (?P<frames>{_PH}(?: {_PH})*)"),),
        parse=_simple(_parse_frames),
        render=_render_frames(tpl.FOLLOW_ORDER),
        templates=(tpl.FOLLOW_ORDER,),
    ),
    "sweep_without_exceeding": _TaskSpec(
        patterns=(_pattern(_SWEEP_BODY.replace("VERB", "exceeding")),),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.SWEEP),
        templates=(tpl.SWEEP,),
        vocab=TASK_PARAPHRASE_SLOTS["sweep_without_exceeding"],
    ),
    "sweep_without_touching": _TaskSpec(
        patterns=(_pattern(_SWEEP_BODY.replace("VERB", "touching")),),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.SWEEP),
        templates=(tpl.SWEEP,),
        vocab=TASK_PARAPHRASE_SLOTS["sweep_without_touching"],
    ),
    "same_texture": _TaskSpec(
        patterns=(_pattern(_SAME_BODY.replace("ATTR", "(?:texture|color)")),),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.SAME_ATTRIBUTE),
        templates=(tpl.SAME_ATTRIBUTE,),
        vocab=TASK_PARAPHRASE_SLOTS["same_texture"],
    ),
    "same_shape": _TaskSpec(
        patterns=(_pattern(_SAME_BODY.replace("ATTR", "(?:profile|shape)")),),
        parse=_simple(_parse_plain),
        render=_render_plain(tpl.SAME_ATTRIBUTE),
        templates=(tpl.SAME_ATTRIBUTE,),
        vocab=TASK_PARAPHRASE_SLOTS["same_shape"],
    ),
    "manipulate_old_neighbor": _TaskSpec(
        patterns=(
            _pattern(
                rf"First put (?P<d>{_PH}) into (?P<b>{_PH}),? (?:and )?then put the object that "
                rf"was previously at its (?P<dir>{_DIRECTION}) into the same (?P=b)"
            ),
        ),
        parse=_simple(_parse_plain),
        render=_render_sentences(tpl.MANIPULATE_OLD_NEIGHBOR),
        templates=(tpl.MANIPULATE_OLD_NEIGHBOR,),
    ),
    "pick_in_order_then_restore": _TaskSpec(
        patterns=(
            _pattern(
                rf"Put (?P<d>{_PH}) into (?P<bases>{_PH}(?:,? then {_PH})*)\. "
                r"Finally restore it into its original container"
            ),
        ),
        parse=_simple(_parse_pick_in_order),
        render=_render_pick_in_order,
        templates=(tpl.PICK_CHAIN, tpl.PICK_IN_ORDER_THEN_RESTORE),
    ),
}

# Aliases used by VIMA-Bench / CoGeLoT for two of the tasks.
_TASKS["same_color"] = _TASKS["same_texture"]
_TASKS["same_profile"] = _TASKS["same_shape"]

SUPPORTED_TASKS: frozenset[str] = frozenset(_TASKS)
"""Task names accepted by :func:`reword_prompt` (the 17 VIMA tasks plus two aliases)."""


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------

_MAX_ATTEMPTS = 20


def _finish(text: str) -> str:
    """Collapse spaces, fix spacing before punctuation, end with "." and capitalise."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r" ([.,;:])", r"\1", text)
    text = re.sub(r"\.{2,}", ".", text)
    if not text.endswith("."):
        text = text.rstrip(",;:") + "."
    return _upper_first(text)


def _texture_count(text: str, texture: str) -> int:
    """Occurrences of ``texture`` as whole words in ``text``."""
    return len(re.findall(rf"(?<![A-Za-z]){re.escape(texture)}(?![A-Za-z])", text))


def _parse(prompt: str, task: str) -> tuple[_TaskSpec, Slots]:
    """Match ``prompt`` against the source patterns of ``task``."""
    spec = _TASKS.get(task)
    if spec is None:
        raise RewordError(f"unknown task {task!r} for prompt {prompt!r}")
    normalised = " ".join(prompt.split())
    for pattern in spec.patterns:
        match = pattern.match(normalised)
        if match is not None:
            return spec, spec.parse(match, prompt, task)
    raise RewordError(f"{task}: prompt matches no source pattern: {prompt!r}")


def reword_prompt(prompt: str, task: str, rng: random.Random, textures: Sequence[str] = ()) -> str:
    """Return a paraphrase of the VIMA ``prompt`` of task ``task``.

    Every ``{placeholder}`` keeps its multiplicity and every name of ``textures`` that occurs in
    the prompt survives unchanged. Only ``rng`` is used for random choices.

    Raises:
        RewordError: the prompt matches no source pattern of the task (or the task is unknown).
        ValueError: no template could keep every placeholder / texture (should not happen).
    """
    spec, slots = _parse(prompt, task)
    filler = _Filler(rng, {**PARAPHRASE_SLOTS, **spec.vocab})
    wanted = Counter(_PH_RE.findall(prompt))
    protected = {t: _texture_count(prompt, t) for t in textures if t}
    protected = {t: n for t, n in protected.items() if n}
    original = _finish(prompt)
    fallback: str | None = None
    for _ in range(_MAX_ATTEMPTS):
        text = _finish(spec.render(slots, filler))
        if Counter(_PH_RE.findall(text)) != wanted:
            continue
        if any(_texture_count(text, t) < n for t, n in protected.items()):
            continue
        if text != original:
            return text
        fallback = fallback or text
    if fallback is not None:
        return fallback
    raise ValueError(f"{task}: cannot paraphrase while keeping placeholders/textures: {prompt!r}")


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


def _collect_vocabulary() -> frozenset[str]:
    """Every word the templates and vocabulary slots can emit (lower-case and capitalised)."""
    texts: list[str] = list(_CODE_WORDS)
    for vocab in (PARAPHRASE_SLOTS, *TASK_PARAPHRASE_SLOTS.values()):
        for entries in vocab.values():
            texts.extend(entries)
    for spec in _TASKS.values():
        for group in spec.templates:
            texts.extend(group)
    words: set[str] = set()
    for text in texts:
        stripped = _SLOT_RE.sub(" ", text)
        for word in re.findall(r"[A-Za-z]+", stripped):
            words.update({word.lower(), _upper_first(word.lower())})
    return frozenset(words)


PARAPHRASE_VOCABULARY: frozenset[str] = _collect_vocabulary()
"""Words (letters only; each in lower-case and with an upper-case first letter) that the
templates and vocabulary slots can emit. Slot values copied from the prompt (placeholders,
numbers, textures, novel words, directions, determiners) are not included."""
