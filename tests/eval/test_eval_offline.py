"""`vima-eval offline`: teacher-forced metrics of a tiny trained checkpoint."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from vima_eval.model_input import perturbed_arrays
from vima_eval.offline import iter_episodes
from vima_eval.results import read_results
from vima_schema.enums import TASK_NAMES
from vima_schema.layout import placeholders
from vima_schema.perturbations import PERTURBATIONS, TEXTUAL_TASKS, object_orders
from vima_tokenize.pipeline import tokenize_dataset
from vima_train.checkpoint import load_policy, tokenizer_of
from vima_train.data.batch import collate
from vima_train.data.store import find_shards
from vima_train.model.actions import axis_indices

from .conftest import EVAL_VALID, RunEval, train_tiny


def test_offline_metrics_equal_a_hand_computation(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path, eval_dataset: Path
) -> None:
    out = tmp_path / "offline"
    run = run_eval(
        "offline", tiny_checkpoint, eval_dataset, "--batch-size", "4", "--out", out,
        "--resamples", "50",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.last_line == str(out)
    assert {p.name for p in out.iterdir()} == {
        "metrics.json", "metrics.md", "offline.png", "episodes.parquet",
    }  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    noop = metrics["perturbations"]["noop"]["overall"]
    assert noop["episodes"] == EVAL_VALID
    # by hand: the same episodes, batched with padding; count only real steps
    policy = load_policy(tiny_checkpoint)
    axes = axis_indices(int(policy.checkpoint_meta["action_axes"]))
    names = metrics["axis_names"]
    episodes = list(
        iter_episodes(
            eval_dataset, "original", find_shards(eval_dataset, ["original"], "valid"), None
        )
    )
    steps = [int(e.arrays["steps"]) for e in episodes]
    assert len(set(steps)) > 1  # padding is exercised
    right = [0] * len(axes)
    losses = [0.0] * len(axes)
    all_right = counted = 0
    for start in range(0, len(episodes), 4):
        chunk = episodes[start : start + 4]
        with torch.inference_mode():
            logits = policy(collate([e.arrays for e in chunk]))
        for b, episode in enumerate(chunk):
            for t in range(int(episode.arrays["steps"])):
                every = True
                for a, axis in enumerate(axes):
                    target = int(episode.arrays["action_bins"][t, axis])
                    row = logits[b, t, a]
                    hit = int(row.argmax()) == target
                    right[a] += hit
                    every &= hit
                    losses[a] += float(torch.logsumexp(row, 0) - row[target])
                all_right += every
                counted += 1
    assert counted == sum(steps) < logits.shape[1] * len(episodes)
    # ratios of counts exactly, mean cross-entropies to 1e-6
    assert noop["acc"]["value"] == sum(right) / (counted * len(axes))
    assert noop["all_axes_acc"]["value"] == all_right / counted
    assert noop["loss"]["value"] == pytest.approx(sum(losses) / (counted * len(axes)), rel=1e-6)
    for a, name in enumerate(names):
        assert noop[f"{name}/acc"]["value"] == right[a] / counted
        assert noop[f"{name}/loss"]["value"] == pytest.approx(losses[a] / counted, rel=1e-6)
    assert noop["acc"]["low"] <= noop["acc"]["value"] <= noop["acc"]["high"]
    # the per-episode result table adds up to the same numbers
    table = read_results(out / "episodes.parquet").to_pylist()
    assert len(table) == EVAL_VALID and {r["mode"] for r in table} == {"offline"}
    assert sum(r["axes_correct"] for r in table) == sum(right)
    assert sum(r["axes_total"] for r in table) == counted * len(axes)
    assert sum(r["steps_all_correct"] for r in table) == all_right


def test_offline_perturbations_side_by_side_and_report(
    tmp_path: Path,
    run_eval: RunEval,
    tiny_checkpoint: Path,
    eval_dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("vima_eval.offline.CHUNK_EPISODES", 4)  # several chunks of episodes
    out = tmp_path / "offline"
    names = [
        "noop",
        "textual",
        "gobbledygook_tokens",
        "different_instruction",
        "mask_text",
        "shuffle_objects",
    ]
    args = [a for n in names for a in ("--perturb", n)]
    run = run_eval("offline", tiny_checkpoint, eval_dataset, *args, "--out", out,
                   "--resamples", "20", "--seed", "5")  # fmt: skip
    assert run.code == 0, run.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["perturbations"]) == names
    rows = pq.read_table(out / "episodes.parquet").to_pylist()
    assert len(rows) == EVAL_VALID * len(names)
    for name in names:  # every episode once per perturbation
        assert len({r["episode"] for r in rows if r["perturbation"] == name}) == EVAL_VALID
    original = {r["episode"]: r["prompt"] for r in rows if r["perturbation"] == "noop"}
    for row in rows:
        perturbation = PERTURBATIONS[row["perturbation"]]
        changed = row["prompt"] != original[row["episode"]]
        if perturbation.kind.value == "prompt" and row["perturbation"] != "noop":
            # a prompt perturbation applies exactly where it changed the prompt
            assert row["applies"] == changed == perturbation.applies_to(row["task"]), row
        else:
            assert row["applies"] and not changed
        if row["perturbation"] == "textual" and row["task"] in TEXTUAL_TASKS:
            assert "{" not in row["prompt"]
        if row["perturbation"] == "noop":
            assert row["seed"] == 5
        vocabulary = "english-words" if row["perturbation"] == "gobbledygook_tokens" else None
        assert row["vocabulary"] == vocabulary
    assert {r["task"] for r in rows if r["perturbation"] == "textual" and not r["applies"]}
    assert metrics["patch_image_mask"] == "mask"
    assert metrics["gobbledygook_vocabulary"] == "english-words"
    text = (out / "metrics.md").read_text()
    assert all(f"| {name} |" in text for name in names)
    table = [line for line in text.splitlines() if line.startswith("| last.ckpt@")]
    assert len(table) >= 2 * len(names)  # per task and "all", for every perturbation
    report = tmp_path / "report"
    run = run_eval("report", out, "--out", report, "--resamples", "20")
    assert run.code == 0, run.err
    assert "Offline (teacher-forced) metrics" in (report / "report.md").read_text()
    # one renderer, one bootstrap: metrics.md and report.md print the same lines
    reported = set((report / "report.md").read_text().splitlines())
    assert table and set(table) <= reported
    assert (report / "offline.png").is_file()
    run = run_eval("report", out, "--baseline", out, "--baseline-perturbation", "noop",
                   "--out", report, "--resamples", "20")  # fmt: skip
    assert run.code == 0, run.err
    text = (report / "report.md").read_text()
    for name in names[1:]:
        assert re.search(rf"\| \S+ / {name} \| [+-]\d+\.\d \| \[.*\] paired \|", text), text
    run = run_eval("report", out, "--baseline", out, "--out", tmp_path / "r2")
    assert run.code == 2 and "choose with --baseline-perturbation" in run.err


def test_offline_bad_input(
    tmp_path: Path, run_eval: RunEval, tiny_checkpoint: Path, eval_dataset: Path
) -> None:
    other = Path(shutil.copytree(eval_dataset, tmp_path / "other"))
    tokenize_dataset(other, keep_final_observation=True, overwrite=True)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    cases = [
        ((tiny_checkpoint, eval_dataset, "--perturb", "paraphrase"), "unknown perturbation"),
        ((foreign, eval_dataset), "not a vima-train checkpoint"),
        ((text, eval_dataset), "not a checkpoint torch can read safely"),
        ((tiny_checkpoint, other), "keep_final_observation=True"),
        ((tiny_checkpoint, eval_dataset, "--config", "reworded"), "no preprocessed configs"),
        ((tiny_checkpoint, tmp_path / "missing"), "not a folder"),
        ((tiny_checkpoint, eval_dataset, "--task", "juggling"), "unknown task(s) ['juggling']"),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        run = run_eval("offline", *args, "--out", out)
        assert run.code == 2, (args, run.err)
        lines = [line for line in run.err.strip().splitlines() if "error" in line]
        assert len(lines) == 1 and message in lines[0], run.err
        assert not out.exists()


def test_offline_result_rows_name_their_tasks(
    tmp_path: Path, tiny_checkpoint: Path, eval_dataset: Path, run_eval: RunEval
) -> None:
    out = tmp_path / "o"
    assert run_eval("offline", tiny_checkpoint, eval_dataset, "--limit", "1", "--out", out,
                    "--resamples", "0").code == 0  # fmt: skip
    rows = read_results(out / "episodes.parquet").to_pylist()
    tasks = [row["task"] for row in rows]
    assert len(tasks) == len(set(tasks)) and set(tasks) <= set(TASK_NAMES)
    chosen = tmp_path / "chosen"
    assert run_eval("offline", tiny_checkpoint, eval_dataset, "--task", "rotate", "--task",
                    "twist", "--out", chosen, "--resamples", "0").code == 0  # fmt: skip
    picked = {r["task"] for r in read_results(chosen / "episodes.parquet").to_pylist()}
    assert picked == {"rotate", "twist"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert math.isnan(metrics["perturbations"]["noop"]["overall"]["acc"]["low"])


def test_perturbed_arrays_select_prompt_images(tiny_checkpoint: Path, eval_dataset: Path) -> None:
    tokenizer = tokenizer_of(load_policy(tiny_checkpoint).checkpoint_meta or {})
    shards = find_shards(eval_dataset, ["original"], "valid")
    episode = next(
        e for e in iter_episodes(eval_dataset, "original", shards, None)
        if e.instruction.task == "visual_manipulation"
    )  # fmt: skip
    before = placeholders(episode.instruction.prompt)
    assert sorted(before) == ["base_obj", "dragged_obj_1"]
    arrays, after = perturbed_arrays(episode, PERTURBATIONS["different_instruction"], 0, tokenizer)
    # "Rotate the {dragged_obj_1} N degrees.": only the dragged object's image is left
    assert after.prompt.startswith("Rotate the {dragged_obj_1} ")
    source = before.index("dragged_obj_1")
    for name in ("prompt_crops_front", "prompt_bbox_top", "prompt_mask_front"):
        assert arrays[name].shape[0] == 1
        assert (arrays[name][0] == episode.arrays[name][source]).all()
    assert int((arrays["token_types"] == 1).sum()) == 1
    assert episode.arrays["prompt_crops_front"].shape[0] == 2  # the input is left alone
    # shuffle_objects: every observation's objects permuted alike in both views
    shuffled, _ = perturbed_arrays(episode, PERTURBATIONS["shuffle_objects"], 3, tokenizer)
    objects = episode.arrays["obs_bbox_top"].shape[1]
    for step in range(episode.arrays["obs_bbox_top"].shape[0]):
        order = object_orders(3, episode.instruction.episode, len(shuffled["obs_bbox_top"]),
                              objects)[step]  # fmt: skip
        for name in ("obs_bbox_top", "obs_bbox_front", "obs_mask_front", "obs_crops_top"):
            assert (shuffled[name][step] == episode.arrays[name][step][order]).all()


def test_patch_image_mask_is_an_explicit_option() -> None:
    from vima_eval.model_input import PatchImageMask, masked_prompt
    from vima_schema.perturbations import PromptMask

    # object models: every mask as the perturbation asks
    for mask in PromptMask:
        for how in PatchImageMask:
            assert masked_prompt(mask, "objects", how) == mask.value
    # patch models: masked by default; CoGeLoT's behaviour (its image mask never reaches
    # patch frames) with `ignore`
    assert masked_prompt(PromptMask.visual, "patches", PatchImageMask.mask) == "visual"
    assert masked_prompt(PromptMask.both, "patches", PatchImageMask.mask) == "both"
    assert masked_prompt(PromptMask.visual, "patches", PatchImageMask.ignore) == "none"
    assert masked_prompt(PromptMask.both, "patches", PatchImageMask.ignore) == "text"
    assert masked_prompt(PromptMask.text, "patches", PatchImageMask.ignore) == "text"


def test_patch_image_mask_on_a_patch_model(
    tmp_path_factory: pytest.TempPathFactory, eval_dataset: Path, run_eval: RunEval
) -> None:
    # a patch model under mask_visual: images masked by default; CoGeLoT's behaviour (its
    # mask never reaches patch frames) with `ignore`, which scores exactly as noop
    root = tmp_path_factory.mktemp("tiny-patches")
    checkpoint = train_tiny(root, eval_dataset, 1, "model.visual.kind=patches")
    losses = {}
    for how in ("mask", "ignore"):
        out = root / how
        run = run_eval("offline", checkpoint, eval_dataset, "--perturb", "noop", "--perturb",
                       "mask_visual", "--limit", "1", "--resamples", "0",
                       "--patch-image-mask", how, "--out", out)  # fmt: skip
        assert run.code == 0, run.err
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["patch_image_mask"] == how
        losses[how] = {
            name: entry["overall"]["loss"]["value"]
            for name, entry in metrics["perturbations"].items()
        }
    assert losses["ignore"]["mask_visual"] == losses["ignore"]["noop"]
    assert losses["mask"]["mask_visual"] != losses["mask"]["noop"]
    assert losses["mask"]["noop"] == losses["ignore"]["noop"]
