"""Template expansion of the paraphrase engine (`vima_schema.paraphrase`): `<value>` slots
filled from the prompt, `[word list]` slots drawn with the engine's `random.Random`."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

Vocab = Mapping[str, tuple[str, ...]]

SLOT_RE = re.compile(r"\[(\^?)([a-z_]+)\]|<([a-z_0-9]+)>")


def upper_first(text: str) -> str:
    """Upper-case the first character only (unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:]


class Filler:
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
                return upper_first(text) if match.group(1) else text
            return values[match.group(3)]

        return SLOT_RE.sub(replace, template)

    def sentence(self, templates: Sequence[str], values: Mapping[str, str]) -> str:
        """Fill a randomly chosen template and capitalise its first character."""
        return upper_first(self.fill(self.pick(templates), values).strip())


def join_and(items: Sequence[str]) -> str:
    """Join as "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def article(word: str) -> str:
    """Indefinite article for ``word``."""
    return "an" if word[:1].lower() in "aeiou" else "a"
