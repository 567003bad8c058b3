"""Short learning curves of one policy config: validation position losses and errors in cm every
few optimiser steps (the diagnosis of the plateau, docs/TRAINING.md).

A plain loop over vima-train's own data module, policy, loss and schedule (no Lightning, so a
validation every 25 steps stays cheap). One CSV row per evaluation; `--plot` draws several CSVs.

    uv run --all-packages python scripts/experiments/plateau_curves.py DATASET --preset tiny \\
        --set model.visual.token_norm=true --steps 300 --eval-every 25 --out curves/x.csv
    uv run --all-packages python scripts/experiments/plateau_curves.py --plot A.csv B.csv \\
        RUN/logs/version_0/metrics.csv --out curves.png   # also a vima-train run's CSV log
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch
from vima_schema.atomic import atomic_write_text
from vima_tokenize.text import load_tokenizer
from vima_train.config import load_preset
from vima_train.data.datamodule import VimaDataModule
from vima_train.metrics import (
    position_totals,
    smoothed_loss_of,
    step_totals,
    summarize,
    summarize_positions,
)
from vima_train.model import Policy
from vima_train.model.actions import axis_names
from vima_train.schedule import lr_multiplier

POSITION_AXES = ("pose0_position_x", "pose0_position_y", "pose1_position_x", "pose1_position_y")


@torch.no_grad()
def evaluate(policy: Policy, loader: torch.utils.data.DataLoader) -> dict[str, float]:
    """Validation loss, position-axis losses and accuracies, and errors in cm."""
    policy.eval()
    totals, positions = [], []
    for batch in loader:
        logits = policy(batch)
        targets = policy.targets(batch)
        totals.append(step_totals(logits, targets))
        objects = batch.observations.top_view(targets.shape[1])
        positions.append(position_totals(logits, targets, policy.config.action_axes, objects))
    policy.train()
    names = axis_names(policy.config.action_axes)
    joined = type(totals[0])(*(torch.cat([getattr(t, f) for t in totals]) for f in _FIELDS))
    metrics = summarize(joined, names)
    out = {"val_loss": metrics["loss"], "val_acc": metrics["acc"]}
    for axis in POSITION_AXES:
        out[f"{axis}_loss"] = metrics[f"{axis}/loss"]
        out[f"{axis}_acc"] = metrics[f"{axis}/acc"]
    joined_positions = type(positions[0])(
        *(torch.cat([getattr(p, f.name) for p in positions]) for f in fields(positions[0]))
    )
    out |= {k.replace("/", "_"): v for k, v in summarize_positions(joined_positions).items()}
    return out


_FIELDS = ("loss", "correct", "counted", "steps", "all_correct")


def train_curve(args: argparse.Namespace) -> Path:
    """Train for `args.steps` steps, evaluating every `args.eval_every`; write the CSV."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = load_preset(args.preset, args.set)
    data = VimaDataModule(
        Path(args.dataset),
        config.data.model_copy(update={"batch_size": args.batch_size, "num_workers": 0}),
        seed=config.train.seed,
        crops=config.model.visual.kind == "objects",
        frames=config.model.visual.kind == "patches",
    )
    data.setup()
    vocab = load_tokenizer(config.data.tokenizer).get_vocab_size()
    policy = Policy(config.model, vocab).train()
    optimizer = torch.optim.AdamW(
        [p for p in policy.parameters() if p.requires_grad],
        lr=config.train.lr,
        weight_decay=config.train.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, config.train, args.steps)
    )
    rows: list[dict[str, float]] = []
    step, started = 0, time.perf_counter()
    valid = data.val_dataloader()
    while step < args.steps:
        for batch in data.train_dataloader():
            if step % args.eval_every == 0:
                rows.append({"step": step, "seconds": time.perf_counter() - started})
                rows[-1] |= evaluate(policy, valid)
                print(_line(rows[-1]), file=sys.stderr, flush=True)
            logits = policy(batch)
            loss = smoothed_loss_of(logits, policy.targets(batch), config.train.label_sigma)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), config.train.gradient_clip)
            optimizer.step()
            schedule.step()
            step += 1
            if step >= args.steps:
                break
    rows.append({"step": step, "seconds": time.perf_counter() - started})
    rows[-1] |= evaluate(policy, valid)
    print(_line(rows[-1]), file=sys.stderr, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(rows[0])] + [",".join(f"{v:.6g}" for v in r.values()) for r in rows]
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


def _line(row: dict[str, float]) -> str:
    keys = ("step", "val_loss", "pose0_position_x_loss", "pose0_position_y_loss")
    keys += ("pick_error_cm", "place_error_cm", "pick_within_2cm", "place_within_2cm")
    return " ".join(f"{k}={row[k]:.3g}" for k in keys)


#: Column of each panel in the metrics.csv that vima-train writes.
_LIGHTNING_NAMES = {
    "pose0_position_x_loss": "val/pose0_position_x/loss",
    "pose0_position_y_loss": "val/pose0_position_y/loss",
    "pick_error_cm": "val/pick/error_cm",
    "place_error_cm": "val/place/error_cm",
}
PANELS = (
    ("pose0_position_x_loss", "pick x loss (chance 3.9)"),
    ("pose0_position_y_loss", "pick y loss (chance 4.6)"),
    ("pick_error_cm", "pick error (cm)"),
    ("place_error_cm", "place error (cm)"),
)


def plot(paths: list[str], out: Path) -> Path:
    """One panel per position metric, one line per CSV (labelled by its file name)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    for path in paths:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        lightning = "val/pick/error_cm" in rows[0]  # a vima-train run's logs/*/metrics.csv
        if lightning:
            rows = [r for r in rows if r["val/pick/error_cm"]]
        label = Path(path).parents[2].name if lightning else Path(path).stem
        steps = [float(r["step"]) for r in rows]
        for axis, (key, title) in zip(axes, PANELS, strict=True):
            column = _LIGHTNING_NAMES[key] if lightning else key
            axis.plot(steps, [float(r[column]) for r in rows], label=label)
            axis.set_title(title)
            axis.set_xlabel("optimiser step")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    return out


def main() -> int:
    """Command line: a curve (DATASET ...) or a plot (--plot CSV...)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?")
    parser.add_argument("--plot", nargs="+", metavar="CSV")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.plot:
        print(plot(args.plot, Path(args.out)))
    elif args.dataset:
        print(train_curve(args))
    else:
        parser.error("give DATASET or --plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
