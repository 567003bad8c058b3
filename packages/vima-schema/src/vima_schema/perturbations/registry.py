"""The fifteen perturbations by their command-line names (those of the reference)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from vima_schema.enums import TASK_NAMES
from vima_schema.paraphrase import RewordError, reword_prompt
from vima_schema.perturbations.different import DIFFERENT_INSTRUCTION_TASKS, different_prompt
from vima_schema.perturbations.gobbledygook import (
    TextTokenizer,
    Vocabulary,
    gobbledygook_tokens,
    gobbledygook_words,
)
from vima_schema.perturbations.instruction import Instruction, PromptMask, perturbation_rng
from vima_schema.perturbations.textual import TEXTUAL_TASKS, Description, textual_prompt

ALL_TASKS: frozenset[str] = frozenset(TASK_NAMES)


class Kind(StrEnum):
    """Where a perturbation acts."""

    prompt = "prompt"  # rewrites the prompt (and drops assets it no longer uses)
    model_input = "model_input"  # a switch applied when the episode is fed to the model


@dataclass(frozen=True)
class Draw:
    """What a perturbation step may draw on: the seed, the tokenizer in use and the
    vocabulary of `gobbledygook_tokens`."""

    seed: int
    tokenizer: TextTokenizer | None = None
    vocabulary: Vocabulary = Vocabulary.english


Step = Callable[[Instruction, Draw], Instruction]


@dataclass(frozen=True)
class Perturbation:
    """A named, seeded, pure function on an episode's `Instruction`."""

    name: str
    summary: str
    kind: Kind
    tasks: frozenset[str]
    steps: tuple[Step, ...]
    needs_tokenizer: bool = False

    def applies_to(self, task: str) -> bool:
        """Whether this perturbation changes episodes of `task`."""
        return task in self.tasks

    def __call__(
        self,
        instruction: Instruction,
        seed: int = 0,
        tokenizer: TextTokenizer | None = None,
        vocabulary: Vocabulary = Vocabulary.english,
    ) -> Instruction:
        """The perturbed instruction (the same object where the perturbation does not apply).

        Every random choice comes from the perturbation name, `seed` and `instruction.episode`;
        `vocabulary` is where `gobbledygook_tokens` draws its words from.
        """
        if self.needs_tokenizer and tokenizer is None:
            raise ValueError(f"perturbation {self.name!r} needs the tokenizer in use")
        if not self.applies_to(instruction.task):
            return instruction
        draw = Draw(seed, tokenizer, vocabulary)
        for step in self.steps:
            instruction = step(instruction, draw)
        return instruction

    def changed(self, before: Instruction, after: Instruction) -> bool:
        """Whether `after` differs from `before` in what the model is given (`noop`: always
        True, it is the reference condition every episode is scored under)."""
        if self.name == "noop":
            return True
        return (after.prompt, after.prompt_mask, after.shuffle_objects) != (
            before.prompt,
            before.prompt_mask,
            before.shuffle_objects,
        )


def _noop(instruction: Instruction, draw: Draw) -> Instruction:
    return instruction


def _reworded(instruction: Instruction, draw: Draw) -> Instruction:
    rng = perturbation_rng("reworded", draw.seed, instruction.episode)
    try:
        prompt = reword_prompt(instruction.prompt, instruction.task, rng, instruction.textures)
    except RewordError:
        return instruction
    return instruction.with_prompt(prompt)


def _gdg_words(instruction: Instruction, draw: Draw) -> Instruction:
    rng = perturbation_rng("gobbledygook_word", draw.seed, instruction.episode)
    return instruction.with_prompt(gobbledygook_words(instruction.prompt, rng))


def _gdg_tokens(instruction: Instruction, draw: Draw) -> Instruction:
    assert draw.tokenizer is not None  # checked by Perturbation.__call__
    rng = perturbation_rng("gobbledygook_tokens", draw.seed, instruction.episode)
    prompt = gobbledygook_tokens(instruction.prompt, draw.tokenizer, rng, draw.vocabulary)
    return instruction.with_prompt(prompt)


def _textual(how: Description) -> Step:
    def step(instruction: Instruction, draw: Draw) -> Instruction:
        rng = perturbation_rng(f"textual_{how.value}", draw.seed, instruction.episode)
        return instruction.with_prompt(textual_prompt(instruction, how, rng))

    return step


def _different(instruction: Instruction, draw: Draw) -> Instruction:
    rng = perturbation_rng("different_instruction", draw.seed, instruction.episode)
    return instruction.with_prompt(different_prompt(instruction.task, instruction.prompt, rng))


def _mask(mask: PromptMask) -> Step:
    def step(instruction: Instruction, draw: Draw) -> Instruction:
        return replace(instruction, prompt_mask=mask)

    return step


def _shuffle(instruction: Instruction, draw: Draw) -> Instruction:
    return replace(instruction, shuffle_objects=True)


def _registry() -> dict[str, Perturbation]:
    textual = _textual(Description.full)
    items = [
        Perturbation("noop", "the original prompt (interleaved text and images)", Kind.prompt,
                     ALL_TASKS, (_noop,)),
        Perturbation("reworded", "a paraphrase of the prompt (the engine of vima-convert "
                     "reword)", Kind.prompt, ALL_TASKS, (_reworded,)),
        Perturbation("gobbledygook_word", "every non-placeholder word replaced by random letters "
                     "of its length, words permuted", Kind.prompt, ALL_TASKS, (_gdg_words,)),
        Perturbation("gobbledygook_tokens", "every non-placeholder word replaced by a random "
                     "word of as many tokens (tokenizer in use) from a vocabulary without VIMA "
                     "words, words permuted", Kind.prompt,
                     ALL_TASKS, (_gdg_tokens,), needs_tokenizer=True),
        Perturbation("textual", "object placeholders described as '<texture> <shape>'",
                     Kind.prompt, TEXTUAL_TASKS, (textual,)),
        Perturbation("textual_no_noun", "object placeholders described by texture only",
                     Kind.prompt, TEXTUAL_TASKS, (_textual(Description.no_noun),)),
        Perturbation("textual_no_texture", "object placeholders described by shape only",
                     Kind.prompt, TEXTUAL_TASKS, (_textual(Description.no_texture),)),
        Perturbation("textual_generic_noun", "object placeholders described as '<texture> "
                     "object|item|thing'", Kind.prompt, TEXTUAL_TASKS,
                     (_textual(Description.generic_noun),)),
        Perturbation("textual_gobbledygook_word", "textual (where it applies), then "
                     "gobbledygook_word", Kind.prompt, ALL_TASKS, (textual, _gdg_words)),
        Perturbation("textual_gobbledygook_tokens", "textual (where it applies), then "
                     "gobbledygook_tokens", Kind.prompt, ALL_TASKS, (textual, _gdg_tokens),
                     needs_tokenizer=True),
        Perturbation("different_instruction", "the instruction of a related task (visual_"
                     "manipulation, the two sweeps, same_texture, same_shape only)", Kind.prompt,
                     DIFFERENT_INSTRUCTION_TASKS, (_different,)),
        Perturbation("mask_text", "the prompt's word tokens masked at model input",
                     Kind.model_input, ALL_TASKS, (_mask(PromptMask.text),)),
        Perturbation("mask_visual", "the prompt's image tokens masked at model input",
                     Kind.model_input, ALL_TASKS, (_mask(PromptMask.visual),)),
        Perturbation("mask_both", "the whole prompt masked at model input", Kind.model_input,
                     ALL_TASKS, (_mask(PromptMask.both),)),
        Perturbation("shuffle_objects", "the object tokens of every observation in a random "
                     "order at model input", Kind.model_input, ALL_TASKS, (_shuffle,)),
    ]  # fmt: skip
    return {item.name: item for item in items}


PERTURBATIONS: dict[str, Perturbation] = _registry()
"""Every perturbation by its command-line name, in the order they are listed."""


def get_perturbation(name: str) -> Perturbation:
    """The perturbation called `name`; `ValueError` naming the valid choices otherwise."""
    try:
        return PERTURBATIONS[name]
    except KeyError:
        valid = ", ".join(PERTURBATIONS)
        raise ValueError(f"unknown perturbation {name!r} (valid: {valid})") from None


def object_orders(seed: int, episode: str, observations: int, objects: int) -> list[list[int]]:
    """The `shuffle_objects` order of the object slots of each observation of an episode."""
    rng = perturbation_rng("shuffle_objects", seed, episode)
    orders = []
    for _ in range(observations):
        order = list(range(objects))
        rng.shuffle(order)
        orders.append(order)
    return orders
