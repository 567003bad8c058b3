"""Text tokenisation of VIMA prompts.

The default tokenizer (`data/tokenizer.json`, built by `scripts/build_tokenizer.py`) is a
byte-level BPE trained on the VIMA prompt vocabulary: case is kept, there is no normalizer and
every input (unseen words, random letters, any unicode) tokenizes without `<unk>` and decodes
back exactly. Special ids: `<pad>` = 0, `</s>` = 1 (appended to every encoding, like T5),
`<unk>` = 2 (never produced). The 114 placeholders (`vima_schema.vocabulary.PLACEHOLDER_TOKENS`)
are added tokens placed after the model vocabulary, so each `{name}` is exactly one token
wherever it stands (`"{dragged_obj}."`, `"({scene})"`, `"a{base_obj}"`).

`encode_prompt` splits a prompt into word tokens (type 0, embedded by the text model) and image
placeholders (type 1). Only the 114 known names are placeholders: any other `{x}` in a prompt
is ordinary text and is tokenized as words (no error is raised).
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from huggingface_hub import constants, try_to_load_from_cache
from tokenizers import AddedToken, Tokenizer
from vima_schema.vocabulary import PLACEHOLDER_TOKENS

TOKENIZER_FILENAME = "tokenizer.json"
PAD_ID = 0
EOS_ID = 1
WORD_TOKEN = 0
IMAGE_TOKEN = 1
HUB_PROBE_TIMEOUT_S = 3.0
"""Seconds allowed to reach the Hub endpoint before a hub name is reported unreachable."""

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True, eq=False)
class EncodedPrompt:
    """A tokenized prompt.

    `token_types[i]` is 0 (word) or 1 (image placeholder) for every token, the final `</s>`
    included; `word_ids` are the ids of the type-0 tokens in order (ending with `</s>` for the
    default tokenizer); `placeholders` are the names (no braces) of the type-1 tokens in order,
    duplicates kept.
    """

    token_types: np.ndarray
    word_ids: np.ndarray
    placeholders: list[str]

    @property
    def n_tokens(self) -> int:
        """Number of tokens (words and placeholders)."""
        return int(self.token_types.shape[0])


def load_tokenizer(name_or_path: str | os.PathLike[str] | None = None) -> Tokenizer:
    """Load a tokenizer and make sure every VIMA placeholder is a single added token.

    `None` loads the default shipped with the package; a path to a `tokenizer.json` file or to
    a folder holding one loads that file; anything else is treated as a Hugging Face Hub name
    (`Tokenizer.from_pretrained`), read from the local Hub cache when `HF_HUB_OFFLINE` is set or
    the Hub does not answer within `HUB_PROBE_TIMEOUT_S`. Raises `ValueError` (naming the
    argument) when nothing can be loaded, e.g. an unknown name with the Hub unreachable.
    """
    if name_or_path is None:
        source = resources.files("vima_tokenize") / "data" / TOKENIZER_FILENAME
        tokenizer = Tokenizer.from_str(source.read_text(encoding="utf-8"))
    else:
        tokenizer = _load_named(os.fspath(name_or_path))
    add_placeholder_tokens(tokenizer)
    return tokenizer


def add_placeholder_tokens(tokenizer: Tokenizer) -> int:
    """Add the placeholders missing from `tokenizer`'s added tokens; return how many were added."""
    present = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
    missing = [token for token in PLACEHOLDER_TOKENS if token not in present]
    if not missing:
        return 0
    return tokenizer.add_tokens(
        [
            AddedToken(token, single_word=False, lstrip=False, rstrip=False, normalized=False)
            for token in missing
        ]
    )


def placeholder_ids(tokenizer: Tokenizer) -> dict[int, str]:
    """Map token id -> placeholder name without braces (e.g. `"dragged_obj"`)."""
    ids: dict[int, str] = {}
    for token in PLACEHOLDER_TOKENS:
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            ids[token_id] = token[1:-1]
    return ids


def encode_prompt(tokenizer: Tokenizer, prompt: str) -> EncodedPrompt:
    """Tokenize `prompt` into word tokens and image placeholders (see `EncodedPrompt`).

    The tokenizer's special tokens (`</s>` for the default) are added and count as words.
    `tokenizer` should come from `load_tokenizer` (or have had `add_placeholder_tokens`).
    """
    ids = tokenizer.encode(prompt, add_special_tokens=True).ids
    return _split(ids, _placeholder_lookup(tokenizer))


def encode_prompts(tokenizer: Tokenizer, prompts: list[str]) -> list[EncodedPrompt]:
    """Batch version of `encode_prompt` (tokenizes in parallel with `encode_batch`)."""
    lookup = _placeholder_lookup(tokenizer)
    encodings = tokenizer.encode_batch(list(prompts), add_special_tokens=True)
    return [_split(encoding.ids, lookup) for encoding in encodings]


def decode_prompt(tokenizer: Tokenizer, encoded: EncodedPrompt) -> str:
    """Rebuild the prompt text from an `EncodedPrompt` (placeholders re-inserted).

    With the default tokenizer this reproduces the encoded prompt exactly.
    """
    words = iter(encoded.word_ids.tolist())
    names = iter(encoded.placeholders)
    ids: list[int] = []
    for token_type in encoded.token_types.tolist():
        if token_type == IMAGE_TOKEN:
            name = next(names)
            token_id = tokenizer.token_to_id(f"{{{name}}}")
            if token_id is None:
                raise ValueError(f"placeholder {{{name}}} is not a token of this tokenizer")
            ids.append(token_id)
        else:
            ids.append(next(words))
    return tokenizer.decode(ids, skip_special_tokens=True)


# --------------------------------------------------------------------------------------------
# internals
# --------------------------------------------------------------------------------------------

# id(tokenizer) -> (tokenizer, total vocab size when computed, id -> name); the strong reference
# keeps id() unique, the vocab size invalidates the entry when tokens are added later.
_LOOKUP_CACHE: dict[int, tuple[Tokenizer, int, dict[int, str]]] = {}
_LOOKUP_CACHE_SIZE = 16


def _split(ids: list[int], lookup: dict[int, str]) -> EncodedPrompt:
    types: list[int] = []
    words: list[int] = []
    names: list[str] = []
    for token_id in ids:
        name = lookup.get(token_id)
        if name is None:
            types.append(WORD_TOKEN)
            words.append(token_id)
        else:
            types.append(IMAGE_TOKEN)
            names.append(name)
    return EncodedPrompt(
        token_types=np.array(types, dtype=np.int8),
        word_ids=np.array(words, dtype=np.int64),
        placeholders=names,
    )


def _placeholder_lookup(tokenizer: Tokenizer) -> dict[int, str]:
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    cached = _LOOKUP_CACHE.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer and cached[1] == size:
        return cached[2]
    lookup = placeholder_ids(tokenizer)
    if len(_LOOKUP_CACHE) >= _LOOKUP_CACHE_SIZE:
        _LOOKUP_CACHE.pop(next(iter(_LOOKUP_CACHE)))
    _LOOKUP_CACHE[id(tokenizer)] = (tokenizer, size, lookup)
    return lookup


def _load_named(name: str) -> Tokenizer:
    path = Path(name).expanduser()
    if path.is_dir():
        file = path / TOKENIZER_FILENAME
        if not file.is_file():
            raise ValueError(f"tokenizer folder {name!r} has no {TOKENIZER_FILENAME}")
        return _from_file(file)
    if path.is_file():
        return _from_file(path)
    if name.endswith(".json") or name.startswith((".", "/", "~")):
        raise ValueError(f"tokenizer file or folder {name!r} does not exist")
    return _from_hub(name)


def _from_file(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:
        raise ValueError(f"cannot read tokenizer file {str(path)!r}: {error}") from error


def _from_hub(name: str) -> Tokenizer:
    """Load a hub name: the local Hub cache when offline or unreachable, else the Hub."""
    found = try_to_load_from_cache(name, TOKENIZER_FILENAME)
    cached = Path(found) if isinstance(found, str) else None
    if constants.is_offline_mode():
        if cached is None:
            raise ValueError(
                f"cannot load tokenizer {name!r}: not a local file or folder and not in the "
                f"local Hub cache ({constants.HF_HUB_CACHE}); HF_HUB_OFFLINE is set"
            )
        return _from_file(cached)
    endpoint = constants.ENDPOINT
    if not _reachable(endpoint, HUB_PROBE_TIMEOUT_S):
        if cached is not None:
            return _from_file(cached)
        raise ValueError(
            f"cannot load tokenizer {name!r}: it is not a local file or folder, not in the local "
            f"Hub cache, and the Hugging Face Hub ({endpoint}) is unreachable; pass a path to a "
            f"{TOKENIZER_FILENAME} or to a folder holding one"
        )
    try:
        return Tokenizer.from_pretrained(name)
    except Exception as error:
        raise ValueError(
            f"cannot load tokenizer {name!r}: not a local file or folder and not found on the "
            f"Hub ({type(error).__name__}: {error})"
        ) from error


def _reachable(endpoint: str, timeout: float) -> bool:
    """Whether a TCP connection to the endpoint (or the configured proxy) opens in `timeout`."""
    proxy = next((os.environ[v] for v in _PROXY_VARIABLES if os.environ.get(v)), None)
    url = urlsplit(proxy if proxy and "://" in proxy else endpoint)
    host = url.hostname
    if host is None:
        return False
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    # a thread bounds the whole probe, DNS resolution included (getaddrinfo has no timeout)
    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)
