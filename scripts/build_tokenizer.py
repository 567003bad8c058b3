"""Build the default VIMA prompt tokenizer shipped in vima-tokenize.

Byte-level BPE (GPT-2 style ByteLevel pre-tokenizer and decoder, no normalizer, case kept)
trained on `vima_tokenize.corpus.corpus_sentences()`; specials `<pad>` = 0, `</s>` = 1,
`<unk>` = 2 (never produced: the 256-byte alphabet covers any input); `</s>` appended by a
TemplateProcessing post-processor; the 114 placeholders appended as added tokens after the
model vocabulary. The file is written atomically.

Usage: uv run --all-packages python scripts/build_tokenizer.py [--vocab-size N] [--output PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from vima_schema.vocabulary import PLACEHOLDER_TOKENS
from vima_tokenize.corpus import corpus_sentences

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "packages/vima-tokenize/src/vima_tokenize/data/tokenizer.json"
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "</s>", "<unk>")
DEFAULT_VOCAB_SIZE = 2048


def build_tokenizer(vocab_size: int = DEFAULT_VOCAB_SIZE) -> Tokenizer:
    """Train the byte-level BPE tokenizer on the VIMA corpus and add the placeholder tokens."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_sentences(split_placeholders=True), trainer=trainer)
    for index, token in enumerate(SPECIAL_TOKENS):
        if tokenizer.token_to_id(token) != index:
            raise RuntimeError(f"special token {token!r} did not get id {index}")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>",
        pair="$A </s> $B </s>",
        special_tokens=[("</s>", 1)],
    )
    tokenizer.add_tokens(
        [
            AddedToken(token, single_word=False, lstrip=False, rstrip=False, normalized=False)
            for token in PLACEHOLDER_TOKENS
        ]
    )
    return tokenizer


def write_atomic(tokenizer: Tokenizer, output: Path) -> None:
    """Write `tokenizer` as JSON to `output` through a temporary file and `os.replace`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    text = tokenizer.to_str(pretty=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Build and write the default tokenizer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    tokenizer = build_tokenizer(args.vocab_size)
    write_atomic(tokenizer, args.output)
    print(
        f"wrote {args.output}: model vocab {tokenizer.get_vocab_size(with_added_tokens=False)}, "
        f"total {tokenizer.get_vocab_size(with_added_tokens=True)} "
        f"({len(PLACEHOLDER_TOKENS)} placeholders)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
