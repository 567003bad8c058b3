"""Gobbledygook prompts: every word that is not a placeholder becomes random text.

`gobbledygook_words` keeps the number of words and the punctuation around them (the reference
dropped punctuation attached to words). `gobbledygook_tokens` draws its random words from a
`Vocabulary` that holds none of VIMA-Bench's words: the ordinary tokens of the tokenizer in use
(a T5 checkpoint's: t5-base's 32k, as the reference) less the VIMA words, concatenated until a
word re-tokenizes to as many tokens as the one it replaces; or the English word list shipped
here (`english_words.txt`), a word of the same token count where the list has one, else of the
nearest count. Both then permute the random words among the non-placeholder positions, as the
reference does.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Protocol

from vima_schema import paraphrase_templates, vocabulary
from vima_schema.layout import PLACEHOLDER_PATTERN

_WORD_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
#: The words of VIMA-Bench's own task templates (the paraphrases add theirs from their data).
VIMA_BENCH_TEMPLATE_WORDS = frozenset(
    re.findall(
        r"\w+",
        "a all and angle as at container defined degrees examples exceeding finally first follow "
        "for from in into is it its motion now object objects order original previously profile "
        "put rearrange restore rotate rotating same setup specific stack sweep texture than that "
        "the then this to touching twist was with without",
    )
)
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


class Vocabulary(StrEnum):
    """Where `gobbledygook_tokens` draws its random words from (recorded in results)."""

    english = "english-words"  # the shipped English word list
    tokenizer = "tokenizer-tokens"  # the ordinary tokens of the tokenizer in use


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []


@cache
def vima_words() -> frozenset[str]:
    """Every word (lower case) of VIMA-Bench's prompts and of the paraphrase engine's data."""
    found = set(VIMA_BENCH_TEMPLATE_WORDS)
    for module in (vocabulary, paraphrase_templates):
        for name in dir(module):
            if name.isupper():
                for text in _strings(getattr(module, name)):
                    found.update(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return frozenset(found)


@cache
def english_words() -> tuple[str, ...]:
    """The shipped English word list, less any VIMA-Bench word."""
    text = resources.files(__package__).joinpath("english_words.txt").read_text()
    excluded = vima_words()
    return tuple(w for w in text.split() if w.lower() not in excluded)


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
    """Ordinary token ids whose text is printable, holds no space, brace or broken byte and is
    no VIMA-Bench word."""
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    cached = _POOLS.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer and cached[1] == size:
        return cached[2]
    added = set(tokenizer.get_added_tokens_decoder())
    excluded = vima_words()
    pool = []
    for token_id in range(tokenizer.get_vocab_size(with_added_tokens=False)):
        if token_id in added:
            continue
        text = tokenizer.decode([token_id], skip_special_tokens=True)
        if _usable(text) and text.strip("\u2581").lower() not in excluded:
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


_BUCKETS: dict[int, tuple[TextTokenizer, int, dict[tuple[int, bool], list[str]]]] = {}


def _word_buckets(tokenizer: TextTokenizer) -> dict[tuple[int, bool], list[str]]:
    """The English words by (token count in place, first word of the prompt)."""
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    cached = _BUCKETS.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer and cached[1] == size:
        return cached[2]
    buckets: dict[tuple[int, bool], list[str]] = {}
    for word in english_words():
        for first in (True, False):
            buckets.setdefault((_token_count(tokenizer, word, first), first), []).append(word)
    _BUCKETS[id(tokenizer)] = (tokenizer, size, buckets)
    return buckets


def _english_word(
    buckets: dict[tuple[int, bool], list[str]], count: int, first: bool, rng: random.Random
) -> str:
    """A random English word of `count` tokens in its place, else of the nearest count."""
    counts = sorted((c for c, f in buckets if f is first), key=lambda c: (abs(c - count), -c))
    return rng.choice(buckets[counts[0], first])


def gobbledygook_tokens(
    prompt: str,
    tokenizer: TextTokenizer,
    rng: random.Random,
    vocabulary: Vocabulary = Vocabulary.english,
) -> str:
    """Replace every non-placeholder word by a random word of `vocabulary` of as many tokens.

    The words' token counts are permuted among their positions (the reference permutes the
    random words). With `Vocabulary.tokenizer` the prompt keeps its number of tokens; with the
    English list it does where the list has words of every count needed.
    """
    words = prompt.split(" ")
    positions = [i for i, word in enumerate(words) if not _is_kept(word)]
    counts = [_token_count(tokenizer, words[i], i == 0) for i in positions]
    rng.shuffle(counts)
    if vocabulary is Vocabulary.english:
        buckets = _word_buckets(tokenizer)
        for i, count in zip(positions, counts, strict=True):
            words[i] = _english_word(buckets, count, i == 0, rng)
        return " ".join(words)
    pool = _id_pool(tokenizer)
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
