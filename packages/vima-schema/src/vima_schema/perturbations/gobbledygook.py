"""Gobbledygook prompts: every word that is not a placeholder becomes random text.

`gobbledygook_words` keeps the number of words and the punctuation around them (the reference
dropped punctuation attached to words); `gobbledygook_tokens` keeps, with the tokenizer in use,
the number of tokens of every word and so of the whole prompt. Both then permute the random
words among the non-placeholder positions, as the reference does.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from typing import Protocol

from vima_schema.layout import PLACEHOLDER_PATTERN

_WORD_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_MAX_RESTARTS = 200


class Encoding(Protocol):
    """The part of a `tokenizers.Encoding` used here."""

    @property
    def ids(self) -> list[int]: ...


class TextTokenizer(Protocol):
    """The part of a `tokenizers.Tokenizer` used here (vima-schema imports no tokenizer)."""

    def encode(self, sequence: str, add_special_tokens: bool = ...) -> Encoding: ...

    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...

    def get_vocab_size(self, with_added_tokens: bool = ...) -> int: ...

    def get_added_tokens_decoder(self) -> dict[int, object]: ...


def _is_kept(word: str) -> bool:
    """Words holding a placeholder (or nothing) stay as they are."""
    return not word or PLACEHOLDER_PATTERN.search(word) is not None


def gobbledygook_words(prompt: str, rng: random.Random) -> str:
    """Replace the letters of every non-placeholder word by random ASCII letters, then permute.

    Word count, placeholder positions and the punctuation before and after each word are kept.
    """
    words = prompt.split(" ")
    parts: list[tuple[str, str, str]] = []
    positions: list[int] = []
    for i, word in enumerate(words):
        match = _WORD_CORE.match(word)
        if _is_kept(word) or match is None or not match.group(2):
            parts.append((word, "", ""))
            continue
        prefix, core, suffix = match.groups()
        random_core = "".join(rng.choice(string.ascii_letters) for _ in core)
        parts.append((prefix, random_core, suffix))
        positions.append(i)
    cores = [parts[i][1] for i in positions]
    rng.shuffle(cores)
    for i, core in zip(positions, cores, strict=True):
        parts[i] = (parts[i][0], core, parts[i][2])
    return " ".join("".join(part) for part in parts)


def _token_count(tokenizer: TextTokenizer, word: str, first: bool) -> int:
    """Tokens of `word` as it stands in a prompt: at the start, or after a space."""
    text = word if first else " " + word
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


_POOLS: dict[int, tuple[TextTokenizer, int, list[int]]] = {}


def _id_pool(tokenizer: TextTokenizer) -> list[int]:
    """Ordinary token ids whose text is printable and holds no space, brace or broken byte."""
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    cached = _POOLS.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer and cached[1] == size:
        return cached[2]
    added = set(tokenizer.get_added_tokens_decoder())
    pool = []
    for token_id in range(tokenizer.get_vocab_size(with_added_tokens=False)):
        if token_id in added:
            continue
        text = tokenizer.decode([token_id], skip_special_tokens=True)
        if _usable(text):
            pool.append(token_id)
    if not pool:
        raise ValueError("the tokenizer has no ordinary tokens to draw gobbledygook from")
    _POOLS[id(tokenizer)] = (tokenizer, size, pool)
    return pool


def _usable(text: str) -> bool:
    printable = bool(text) and text.isprintable()
    return printable and not any(c.isspace() or c in "{}\ufffd" for c in text)


def _random_word(
    tokenizer: TextTokenizer, pool: Sequence[int], count: int, first: bool, rng: random.Random
) -> str | None:
    """Draw tokens one at a time until the decoded text re-tokenizes to exactly `count` tokens
    in its place; restart on overshoot; None after `_MAX_RESTARTS` restarts."""
    for _ in range(_MAX_RESTARTS):
        ids: list[int] = []
        while True:
            ids.append(rng.choice(pool))
            text = tokenizer.decode(ids, skip_special_tokens=True)
            got = _token_count(tokenizer, text, first) if _usable(text) else count + 1
            if got == count:
                return text
            if got > count or len(ids) > 4 * count:
                break
    return None


def gobbledygook_tokens(prompt: str, tokenizer: TextTokenizer, rng: random.Random) -> str:
    """Replace every non-placeholder word by random tokens re-tokenizing to as many tokens.

    The words' token counts are permuted among their positions (the reference permutes the
    random words), so the whole prompt keeps its number of tokens and words.
    """
    pool = _id_pool(tokenizer)
    words = prompt.split(" ")
    positions = [i for i, word in enumerate(words) if not _is_kept(word)]
    counts = [_token_count(tokenizer, words[i], i == 0) for i in positions]
    rng.shuffle(counts)
    made: dict[tuple[int, bool], list[str]] = {}
    for i, count in zip(positions, counts, strict=True):
        key = (count, i == 0)
        word = _random_word(tokenizer, pool, count, i == 0, rng)
        if word is None:  # reuse an earlier word of the same size, as the reference does
            if not made.get(key):
                raise ValueError(f"no random word of {count} token(s) found for {words[i]!r}")
            word = rng.choice(made[key])
        made.setdefault(key, []).append(word)
        words[i] = word
    return " ".join(words)
