"""`vima-eval perturb`: a perturbed variant of a dataset, parsed and tokenized."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from vima_schema.perturbations import Kind, Vocabulary, get_perturbation, parsed_batch_transform
from vima_schema.variant_rewrite import rewrite_parsed_variant
from vima_tokenize.pipeline import TokenizeSummary, tokenize_dataset
from vima_tokenize.text import load_tokenizer

#: Version of the perturbed output; part of each shard's fingerprint (2: CoGeLoT's semantics of
#: issue 16: textual colours as the prompt image shows them, textual_gobbledygook_* on every
#: task, gobbledygook_tokens from a vocabulary without VIMA words).
PERTURB_VERSION = 2


@dataclass
class PerturbSummary:
    """What a perturb run wrote."""

    variant: str
    parsed_shards_written: int
    parsed_shards_skipped: int
    tokenized: TokenizeSummary


def perturb_dataset(
    dataset: Path,
    name: str,
    *,
    seed: int = 0,
    source: str = "original",
    target: str | None = None,
    tokenizer: str | None = None,
    workers: int = 1,
    vocabulary: Vocabulary = Vocabulary.english,
) -> PerturbSummary:
    """Write `<target>--parsed--<task>` (prompts perturbed by `name` with `seed`) and its
    tokenized `<target>--preprocessed--<task>` configs; `target` defaults to `name`.

    `tokenizer` (as for vima-tokenize) both tokenizes the variant and drives
    `gobbledygook_tokens`, which draws from `vocabulary`. Raises `ValueError` before writing
    anything for an unknown or model-input perturbation, a missing source variant or an
    unloadable tokenizer.
    """
    perturbation = get_perturbation(name)
    if perturbation.kind is not Kind.prompt:
        raise ValueError(
            f"perturbation {name!r} acts at model input (a switch of vima-eval offline and "
            "vima-train), so it has no dataset variant"
        )
    target = target or name
    loaded = load_tokenizer(tokenizer)
    settings: dict[str, object] = {"perturbation": name, "seed": seed, "version": PERTURB_VERSION}
    if perturbation.needs_tokenizer:
        settings["tokenizer_sha256"] = hashlib.sha256(loaded.to_str().encode()).hexdigest()
        settings["vocabulary"] = vocabulary.value
    rewritten = rewrite_parsed_variant(
        dataset,
        source=source,
        target=target,
        transform=parsed_batch_transform(perturbation, seed, loaded, vocabulary),
        settings=settings,
    )
    tokenized = tokenize_dataset(
        dataset,
        variant=target,
        tokenizer=tokenizer,
        workers=workers,
        overwrite=rewritten.shards_written > 0,
    )
    return PerturbSummary(target, rewritten.shards_written, rewritten.shards_skipped, tokenized)
