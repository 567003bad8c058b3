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

Modules: `paraphrase_slots` reads the slot values off a prompt, `paraphrase_filling` expands
templates, `paraphrase_rendering` writes slots into the templates of `paraphrase_templates`, and
`paraphrase_tasks` says which of them each task uses.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence

from vima_schema.paraphrase_filling import SLOT_RE, Filler, upper_first
from vima_schema.paraphrase_slots import PH_RE, RewordError, Slots
from vima_schema.paraphrase_tasks import SUPPORTED_TASKS, TASKS, TaskSpec
from vima_schema.vocabulary import PARAPHRASE_SLOTS, TASK_PARAPHRASE_SLOTS

__all__ = ["PARAPHRASE_VOCABULARY", "SUPPORTED_TASKS", "RewordError", "reword_prompt"]

# Words emitted by code rather than by templates (articles, list joiners, pronouns, adverb).
_CODE_WORDS: tuple[str, ...] = ("a", "an", "and", "it", "them", "less", "the")

_MAX_ATTEMPTS = 20


def _finish(text: str) -> str:
    """Collapse spaces, fix spacing before punctuation, end with "." and capitalise."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r" ([.,;:])", r"\1", text)
    text = re.sub(r"\.{2,}", ".", text)
    if not text.endswith("."):
        text = text.rstrip(",;:") + "."
    return upper_first(text)


def _texture_count(text: str, texture: str) -> int:
    """Occurrences of ``texture`` as whole words in ``text``."""
    return len(re.findall(rf"(?<![A-Za-z]){re.escape(texture)}(?![A-Za-z])", text))


def _parse(prompt: str, task: str) -> tuple[TaskSpec, Slots]:
    """Match ``prompt`` against the source patterns of ``task``."""
    spec = TASKS.get(task)
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
    filler = Filler(rng, {**PARAPHRASE_SLOTS, **spec.vocab})
    wanted = Counter(PH_RE.findall(prompt))
    protected = {t: _texture_count(prompt, t) for t in textures if t}
    protected = {t: n for t, n in protected.items() if n}
    original = _finish(prompt)
    fallback: str | None = None
    for _ in range(_MAX_ATTEMPTS):
        text = _finish(spec.render(slots, filler))
        if Counter(PH_RE.findall(text)) != wanted:
            continue
        if any(_texture_count(text, t) < n for t, n in protected.items()):
            continue
        if text != original:
            return text
        fallback = fallback or text
    if fallback is not None:
        return fallback
    raise ValueError(f"{task}: cannot paraphrase while keeping placeholders/textures: {prompt!r}")


def _collect_vocabulary() -> frozenset[str]:
    """Every word the templates and vocabulary slots can emit (lower-case and capitalised)."""
    texts: list[str] = list(_CODE_WORDS)
    for vocab in (PARAPHRASE_SLOTS, *TASK_PARAPHRASE_SLOTS.values()):
        for entries in vocab.values():
            texts.extend(entries)
    for spec in TASKS.values():
        for group in spec.templates:
            texts.extend(group)
    words: set[str] = set()
    for text in texts:
        stripped = SLOT_RE.sub(" ", text)
        for word in re.findall(r"[A-Za-z]+", stripped):
            words.update({word.lower(), upper_first(word.lower())})
    return frozenset(words)


PARAPHRASE_VOCABULARY: frozenset[str] = _collect_vocabulary()
"""Words (letters only; each in lower-case and with an upper-case first letter) that the
templates and vocabulary slots can emit. Slot values copied from the prompt (placeholders,
numbers, textures, novel words, directions, determiners) are not included."""
