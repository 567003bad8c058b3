"""`vima-eval perturbations` and `vima-eval perturb`: perturbed dataset variants."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from vima_schema.dataset_layout import list_shards
from vima_schema.enums import TASK_NAMES
from vima_schema.layout import placeholders
from vima_schema.perturbations import PERTURBATIONS, TEXTUAL_TASKS

from .conftest import EVAL_EPISODES, RunEval


def prompts(dataset: Path, variant: str, stage: str) -> dict[tuple[str, int], str]:
    found = {}
    for shard in list_shards(dataset, variant, stage):
        for row in pq.read_table(shard.path, columns=["task", "index", "prompt"]).to_pylist():
            found[TASK_NAMES[row["task"]], row["index"]] = row["prompt"]
    return found


def shard_bytes(dataset: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(dataset)): p.read_bytes() for p in sorted(dataset.glob("*/*/*/*.parquet"))
    }


def test_perturbations_lists_fifteen(run_eval: RunEval) -> None:
    run = run_eval("perturbations")
    assert run.code == 0
    lines = run.out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(PERTURBATIONS)


def test_perturb_writes_parsed_and_tokenized_variant(
    run_eval: RunEval, eval_dataset_copy: Path
) -> None:
    dataset = eval_dataset_copy
    run = run_eval("perturb", dataset, "--perturb", "textual", "--seed", "3")
    assert run.code == 0, run.err
    assert run.last_line == str(dataset)
    before = prompts(dataset, "original", "parsed")
    parsed = prompts(dataset, "textual", "parsed")
    tokenized = prompts(dataset, "textual", "preprocessed")
    assert parsed == tokenized and len(parsed) == EVAL_EPISODES
    for key, prompt in parsed.items():
        if key[0] in TEXTUAL_TASKS:
            assert "{" not in prompt, prompt
        else:
            assert prompt == before[key]
    # prompt assets follow the prompt, and the tokenized record has no prompt image left
    for shard in list_shards(dataset, "textual", "parsed"):
        for row in pq.read_table(shard.path, columns=["prompt", "prompt_assets"]).to_pylist():
            assert {a["name"] for a in row["prompt_assets"]} == set(placeholders(row["prompt"]))
    for shard in list_shards(dataset, "textual", "preprocessed"):
        for row in pq.read_table(shard.path, columns=["prompt", "num_images"]).to_pylist():
            assert row["num_images"] == len(placeholders(row["prompt"]))
    card = (dataset / "README.md").read_text()
    assert "config_name: textual--preprocessed--rotate" in card
    # a rerun is a no-op; another seed of a random perturbation changes the prompts
    files = shard_bytes(dataset)
    run = run_eval("perturb", dataset, "--perturb", "textual", "--seed", "3")
    assert run.code == 0 and shard_bytes(dataset) == files
    assert "0 parsed shards written" in run.err


def test_perturb_seeded_and_reproducible(run_eval: RunEval, eval_dataset_copy: Path) -> None:
    dataset = eval_dataset_copy
    for seed, target in (("1", "gdg1"), ("1", "gdg1b"), ("2", "gdg2")):
        args = ("--perturb", "gobbledygook_word", "--seed", seed, "--to", target)
        assert run_eval("perturb", dataset, *args).code == 0
    one, again, two = (prompts(dataset, v, "parsed") for v in ("gdg1", "gdg1b", "gdg2"))
    assert one == again and one != two
    original = prompts(dataset, "original", "parsed")
    for key, prompt in one.items():
        assert len(prompt.split(" ")) == len(original[key].split(" "))
        assert Counter(placeholders(prompt)) == Counter(placeholders(original[key]))


def test_perturb_bad_input_writes_nothing(run_eval: RunEval, eval_dataset_copy: Path) -> None:
    dataset = eval_dataset_copy
    files = shard_bytes(dataset)
    for args, message in (
        (("--perturb", "nonsense"), "unknown perturbation 'nonsense'"),
        (("--perturb", "mask_both"), "acts at model input"),
        (("--perturb", "textual", "--from", "missing"), "variant 'missing' has no parsed"),
        (("--perturb", "textual", "--tokenizer", "/no/such/tokenizer.json"), "does not exist"),
    ):
        run = run_eval("perturb", dataset, *args)
        assert run.code == 2, run.err
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], run.err
        assert shard_bytes(dataset) == files


def test_reworded_variant_equals_vima_convert_reword(
    run_eval: RunEval, eval_dataset_copy: Path
) -> None:
    # one paraphrase implementation and one random stream: the same prompts either way
    from vima_convert.cli import main as convert

    dataset = eval_dataset_copy
    assert convert(["reword", str(dataset), "--seed", "4", "--to", "reword_convert"]) == 0
    run = run_eval("perturb", dataset, "--perturb", "reworded", "--seed", "4")
    assert run.code == 0, run.err
    converted = prompts(dataset, "reword_convert", "parsed")
    assert converted == prompts(dataset, "reworded", "parsed")
    assert converted != prompts(dataset, "original", "parsed")


def test_perturb_vocabulary_option(run_eval: RunEval, eval_dataset_copy: Path) -> None:
    """--vocabulary picks where gobbledygook_tokens draws its words; the two differ, and a
    bad name is a usage error that writes nothing."""
    dataset = eval_dataset_copy
    for vocabulary, target in (("english-words", "gte"), ("tokenizer-tokens", "gtt")):
        args = ("--perturb", "gobbledygook_tokens", "--to", target, "--vocabulary", vocabulary)
        run = run_eval("perturb", dataset, *args)
        assert run.code == 0, run.err
    english, own = (prompts(dataset, v, "parsed") for v in ("gte", "gtt"))
    assert english.keys() == own.keys() and english != own
    bad = run_eval("perturb", dataset, "--perturb", "gobbledygook_tokens", "--vocabulary", "x")
    assert bad.code == 2 and "--vocabulary" in bad.err
    assert not list_shards(dataset, "gobbledygook_tokens", "parsed")
