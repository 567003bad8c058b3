"""Training end to end on the tokenized sample episodes: the CLI, W&B offline files,
checkpoints that reload to the same outputs, exact resume, overfitting, bad input."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from vima_train.checkpoint import CheckpointError, load_policy, read_meta
from vima_train.config import load_preset
from vima_train.data import Batch, collate, row_arrays
from vima_train.metrics import action_metrics, smoothed_loss_of
from vima_train.model import Policy
from vima_train.model.actions import axis_names
from vima_train.module import PolicyModule
from vima_train.schedule import lr_multiplier
from vima_train.train import prepare

from .conftest import RunCli
from .recomputed_metrics import assert_validation_recomputed


def train_losses(run: Path) -> dict[int, float]:
    """step -> train/loss of every CSV log of a run folder (later versions override)."""
    losses: dict[int, float] = {}
    for path in sorted((run / "logs").glob("version_*/metrics.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if row.get("train/loss"):
                    losses[int(row["step"])] = float(row["train/loss"])
    return losses


def test_fit_tiny_writes_checkpoints_and_wandb_offline(
    run_cli: RunCli, train_dataset: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = run_cli("fit", train_dataset, "--preset", "tiny", "--out", run, "--max-steps", "4")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [result.last_line]  # progress and logs go to stderr
    last = Path(result.last_line)
    assert last == run / "checkpoints" / "last.ckpt" and last.is_file()
    assert (run / "config.yaml").is_file()
    assert list(run.glob("checkpoints/epoch00-step*.ckpt"))  # every epoch besides last
    offline = list(run.glob("wandb/offline-run-*/run-*.wandb"))
    assert offline and offline[0].stat().st_size > 0
    # validation predictions drawn on the top view (vima_train.validation_images)
    assert list(run.glob("wandb/offline-run-*/files/media/images/val/predictions*.png"))
    losses = train_losses(run)
    assert sorted(losses) == [0, 1, 2, 3] and all(v == v for v in losses.values())
    meta = read_meta(last)
    assert meta["global_step"] == 4 and meta["action_axes"] == 14
    assert meta["axis_bins"] == [50, 100, 50, 50, 50, 50, 50, 50, 100, 50, 50, 50, 50, 50]
    assert meta["tokenize_settings"]["keep_final_observation"] is False
    assert meta["tokenizer_sha256"] == meta["tokenize_settings"]["tokenizer_sha256"]
    assert "val/loss" in meta["metrics"] and "val/twist/acc" not in meta["metrics"]
    # 7 train episodes in batches of 2: validation ran once, at the end of epoch 0 (step 3)
    validated = run / "checkpoints" / "epoch00-step0000003.ckpt"
    assert_validation_recomputed(validated, train_dataset)
    inspected = run_cli("inspect", last)
    assert inspected.code == 0 and "global_step: 4" in inspected.out
    assert inspected.last_line == str(last)
    listed = run_cli("presets")
    assert listed.code == 0 and "tiny" in listed.out


def test_checkpoint_reloads_to_the_same_outputs(
    train_dataset: Path, tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIMA_TRAIN_CACHE", str(tmp_path / "cache"))
    config = load_preset("tiny", ["model.action_axes=12", "model.dropout=0.1"])
    prepared = prepare(train_dataset, config, tmp_path / "run", None)
    module = PolicyModule(config, prepared.vocab_size, 10, prepared.meta)
    trainer = L.Trainer(
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        use_distributed_sampler=False,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=prepared.datamodule)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = load_policy(path)
    assert not loaded.training and loaded.config == config.model
    expected = module.policy.eval()(batch)
    assert torch.equal(loaded(batch), expected)
    assert loaded.checkpoint_meta is not None and loaded.checkpoint_meta["action_axes"] == 12
    loaded.prompt_mask = "text"  # switchable on the loaded weights
    assert not torch.equal(loaded(batch), expected)


def test_resume_replays_the_uninterrupted_run(
    run_cli: RunCli, train_dataset: Path, tmp_path: Path
) -> None:
    """Six steps straight vs resumes from the step-4 checkpoint (in the middle of epoch 1) and
    from the end-of-epoch checkpoint of step 3 (what last.ckpt names, and so what a resubmitted
    job resumes from): the same episodes in the same order, the same losses, the same
    weights."""
    common = [
        "--preset",
        "tiny",
        "--max-steps",
        "6",
        "--wandb",
        "disabled",
        "--set",
        "train.record_episodes=true",
        "--set",
        "model.dropout=0.1",
        "--set",
        "model.shuffle_objects=true",
        "--set",
        "train.checkpoint_every_n_steps=2",
    ]
    straight = tmp_path / "straight"
    assert run_cli("fit", train_dataset, "--out", straight, *common).code == 0
    step4 = straight / "checkpoints" / "step0000004.ckpt"
    assert read_meta(step4)["batches_this_epoch"] == 1  # 3 batches per epoch: mid-epoch
    full = train_losses(straight)
    episodes = (straight / "episodes" / "rank0.txt").read_text().splitlines()
    a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    epoch_end = straight / "checkpoints" / "epoch00-step0000003.ckpt"
    for checkpoint, step in ((step4, 4), (epoch_end, 3)):
        resumed = tmp_path / f"resumed-{step}"
        result = run_cli("fit", train_dataset, "--out", resumed, "--resume", checkpoint, *common)
        assert result.code == 0, result.err
        tail = train_losses(resumed)  # logged steps: + 1 from an end-of-epoch checkpoint
        assert [tail[s] for s in sorted(tail)] == [full[s] for s in range(step, 6)], checkpoint
        recorded = (resumed / "episodes" / "rank0.txt").read_text().splitlines()
        assert recorded == episodes[2 * step :], checkpoint
        b = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        assert all(torch.equal(a[k], b[k]) for k in a), checkpoint
        assert read_meta(resumed / "checkpoints" / "last.ckpt")["examples_seen"] == 12


@pytest.mark.slow
def test_tiny_memorises_the_nine_sample_episodes(
    train_rows: list[dict[str, Any]], train_dataset: Path
) -> None:
    """Issue 17's "memorise" target: the `tiny` preset (its model, learning rate, warm-up and
    loss) reaches >= 0.95 pooled accuracy and >= 0.9 on every position axis on all nine sample
    episodes (nine tasks, up to 8 objects and 3 steps) within 300 optimiser steps."""
    from .conftest import read_rows

    rows = train_rows + [row_arrays(r) for r in read_rows(train_dataset, split="valid")]
    assert len(rows) == 9
    batch = collate(rows)
    config = load_preset("tiny")
    torch.manual_seed(0)
    policy = Policy(config.model, 1512).train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.train.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, config.train, 300)
    )
    targets = policy.targets(batch)
    names = axis_names(14)
    positions = [n for n in names if "position" in n and not n.endswith("_z")]
    metrics: dict[str, float] = {}
    for step in range(300):
        loss = smoothed_loss_of(policy(batch), targets, config.train.label_sigma)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), config.train.gradient_clip)
        optimizer.step()
        schedule.step()
        if step % 25 == 24:
            with torch.no_grad():
                metrics = action_metrics(policy.eval()(batch), targets, names)
            policy.train()
            if metrics["acc"] >= 0.95 and all(metrics[f"{n}/acc"] >= 0.9 for n in positions):
                break
    assert metrics["acc"] >= 0.95, metrics
    assert all(metrics[f"{n}/acc"] >= 0.9 for n in positions), metrics


def _nothing_written(run: Path) -> bool:
    return not run.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "no_such_preset"], "unknown preset 'no_such_preset'"),
        (["--preset", "tiny", "--set", "model.nope=1"], "unknown key 'model.nope'"),
        (["--preset", "tiny", "--set", "model.decoder.kind=lstm"], "model.decoder.kind"),
        (["--preset", "tiny", "--set", "model.embed_dim"], "not KEY=VALUE"),
        (["--preset", "tiny", "--set", "data.variants=[paraphrased]"], "paraphrased--preprocessed"),
        (["--preset", "tiny", "--batch-size", "50"], "fewer than one batch"),
        (
            [
                "--preset",
                "cogelot-xattn-obj-original",
                "--set",
                "model.prompt_encoder.t5_path=/no/such/t5-base",
            ],
            "hf download /no/such/t5-base",
        ),
        (
            [
                "--preset",
                "tiny",
                "--set",
                "model.shuffle_objects=true",
                "--set",
                "model.visual.kind=patches",
            ],
            "shuffle_objects needs",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    run_cli: RunCli, train_dataset: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    run = tmp_path / "run"
    result = run_cli("fit", train_dataset, "--out", run, *args)
    assert result.code == 2
    error_lines = [line for line in result.err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and message in error_lines[0], result.err
    assert _nothing_written(run) and result.out == ""


def test_bad_dataset_and_checkpoints_exit_2(
    run_cli: RunCli, train_dataset: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("fit", empty, "--preset", "tiny", "--out", tmp_path / "a")
    assert result.code == 2 and "no preprocessed configs" in result.err
    assert _nothing_written(tmp_path / "a")
    first = tmp_path / "first"
    assert (
        run_cli(
            "fit",
            train_dataset,
            "--preset",
            "tiny",
            "--out",
            first,
            "--max-steps",
            "1",
            "--wandb",
            "disabled",
        ).code
        == 0
    )
    last = first / "checkpoints" / "last.ckpt"
    other = run_cli(
        "fit",
        train_dataset,
        "--preset",
        "tiny",
        "--out",
        tmp_path / "b",
        "--resume",
        last,
        "--set",
        "model.embed_dim=48",
    )
    assert other.code == 2 and "model.embed_dim: 32 -> 48" in other.err
    assert _nothing_written(tmp_path / "b")
    # what is learned must not change on resume (here the crop augmentation); how long and
    # where it runs may
    augmented = run_cli(
        "fit", train_dataset, "--preset", "tiny", "--out", tmp_path / "c", "--resume", last,
        "--set", "train.augment_crops=dihedral",
    )  # fmt: skip
    assert augmented.code == 2 and "train.augment_crops: 'none' -> 'dihedral'" in augmented.err
    assert _nothing_written(tmp_path / "c")
    again = run_cli("fit", train_dataset, "--preset", "tiny", "--out", first)
    assert again.code == 2 and "already holds checkpoints" in again.err
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    assert run_cli("inspect", garbage).code == 2
    with pytest.raises(CheckpointError, match=r"garbage\.ckpt"):
        load_policy(garbage)
    checkpoint: dict[str, Any] = torch.load(last, weights_only=True)
    checkpoint["vima_train"]["config"]["model"]["decoder"]["layers"] = 3
    tampered = tmp_path / "tampered.ckpt"
    torch.save(checkpoint, tampered)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_policy(tampered)


def test_last_checkpoint_is_a_relative_link_that_resume_inspect_and_loading_follow(
    run_cli: RunCli, train_dataset: Path, tmp_path: Path
) -> None:
    """`last.ckpt` links to the newest epoch checkpoint (no second copy, issue 30 item 2); a
    resume from it in the same run folder moves the link on, and the link survives moving the
    run folder (it is relative)."""
    run = tmp_path / "run"
    common = ["--preset", "tiny", "--out", run, "--wandb", "disabled"]
    assert run_cli("fit", train_dataset, *common, "--max-steps", "2").code == 0
    last = run / "checkpoints" / "last.ckpt"
    assert last.is_symlink() and os.readlink(last) == "epoch00-step0000002.ckpt"
    assert read_meta(last)["global_step"] == 2
    inspected = run_cli("inspect", last)
    assert inspected.code == 0 and "step" in inspected.out
    resumed = run_cli("fit", train_dataset, *common, "--max-steps", "4", "--resume", last)
    assert resumed.code == 0, resumed.err
    assert Path(resumed.last_line) == last and last.is_symlink()
    target = os.readlink(last)
    assert "/" not in target and target.endswith("-step0000004.ckpt")
    assert (run / "checkpoints" / "epoch00-step0000002.ckpt").is_file()
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith("last-")]
    moved = run.rename(tmp_path / "moved")
    assert read_meta(moved / "checkpoints" / "last.ckpt")["global_step"] == 4
    load_policy(moved / "checkpoints" / "last.ckpt")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/self/maps")
def test_load_policy_maps_the_weights_and_needs_no_optimiser_state(
    run_cli: RunCli, train_dataset: Path, tmp_path: Path
) -> None:
    """`load_policy` reads weights and metadata only (issue 30 item 2b): its parameters are the
    checkpoint's memory-mapped pages (shared by every process that loads the file), equal to
    the stored tensors; a checkpoint without optimiser state loads the same, and a tensor stored
    in another dtype is converted to the network's."""
    run = tmp_path / "run"
    fit = run_cli("fit", train_dataset, "--preset", "tiny", "--out", run, "--max-steps", "1")
    assert fit.code == 0, fit.err
    last = run / "checkpoints" / "last.ckpt"
    policy = load_policy(last)
    stored = torch.load(last, weights_only=True)
    weights = {k.removeprefix("policy."): v for k, v in stored["state_dict"].items()}
    assert policy.state_dict().keys() == weights.keys()
    assert all(torch.equal(v, weights[k]) for k, v in policy.state_dict().items())
    target = str(last.resolve())
    spans = [tuple(int(x, 16) for x in line.split()[0].split("-"))
             for line in Path("/proc/self/maps").read_text().splitlines()
             if line.endswith(target)]  # fmt: skip
    assert spans and all(any(lo <= p.data_ptr() < hi for lo, hi in spans)
                         for p in policy.parameters())  # fmt: skip
    assert stored.pop("optimizer_states")
    key = "policy.obs_fusion.weight"
    stored["state_dict"][key] = stored["state_dict"][key].to(torch.bfloat16)
    torch.save(stored, tmp_path / "weights-only.ckpt")
    again = load_policy(tmp_path / "weights-only.ckpt")
    assert again.obs_fusion.weight.dtype == torch.float32
    assert torch.equal(again.obs_fusion.weight, stored["state_dict"][key].float())
    assert torch.equal(again.norm.weight, policy.norm.weight)
