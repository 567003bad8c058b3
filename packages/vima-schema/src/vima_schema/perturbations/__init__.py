"""Instruction perturbations of the VIMA paper as pure, seeded functions.

Each perturbation maps an episode's `Instruction` (prompt, prompt-asset summary, scene objects)
to a perturbed one; every random choice derives from the perturbation's name, the seed and the
episode's identity, never from global state or batch position. Prompt perturbations rewrite
the prompt; model-input ones (prompt masks, object shuffling) set a switch the evaluator
applies. Tokenizers are passed in as objects (`TextTokenizer`); vima-schema imports none.
"""

from vima_schema.perturbations.different import DIFFERENT_INSTRUCTION_TASKS, different_prompt
from vima_schema.perturbations.gobbledygook import (
    TextTokenizer,
    Vocabulary,
    english_words,
    gobbledygook_tokens,
    gobbledygook_words,
    vima_words,
)
from vima_schema.perturbations.instruction import (
    AssetInfo,
    Instruction,
    PromptMask,
    episode_key,
    instruction_from_episode,
    instruction_from_row,
    instruction_of,
    perturbation_rng,
)
from vima_schema.perturbations.registry import (
    PERTURBATIONS,
    Draw,
    Kind,
    Perturbation,
    get_perturbation,
    object_orders,
)
from vima_schema.perturbations.rows import ROW_COLUMNS, parsed_batch_transform, perturb_row
from vima_schema.perturbations.textual import TEXTUAL_TASKS, Description, textual_prompt

__all__ = [
    "DIFFERENT_INSTRUCTION_TASKS",
    "PERTURBATIONS",
    "ROW_COLUMNS",
    "TEXTUAL_TASKS",
    "AssetInfo",
    "Description",
    "Draw",
    "Instruction",
    "Kind",
    "Perturbation",
    "PromptMask",
    "TextTokenizer",
    "Vocabulary",
    "different_prompt",
    "english_words",
    "episode_key",
    "get_perturbation",
    "gobbledygook_tokens",
    "gobbledygook_words",
    "instruction_from_episode",
    "instruction_from_row",
    "instruction_of",
    "object_orders",
    "parsed_batch_transform",
    "perturb_row",
    "perturbation_rng",
    "textual_prompt",
    "vima_words",
]
