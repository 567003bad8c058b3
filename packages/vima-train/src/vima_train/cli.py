"""`vima-train`: fit a policy on tokenized configs, list presets, inspect checkpoints."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from vima_schema.command import report_unexpected
from vima_schema.runner import EXIT_OK, EXIT_USAGE

from vima_train import __version__

#: Flags of `fit` that are shortcuts for `--set KEY=VALUE`.
SHORTCUTS = {
    "max_steps": "train.max_steps",
    "max_epochs": "train.max_epochs",
    "batch_size": "data.batch_size",
    "accumulate": "train.accumulate",
    "lr": "train.lr",
    "accelerator": "train.accelerator",
    "devices": "train.devices",
    "strategy": "train.strategy",
    "num_nodes": "train.num_nodes",
    "precision": "train.precision",
    "wandb": "train.wandb",
    "workers": "data.num_workers",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vima-train", description="Train VIMA-style policies with Lightning, logged to W&B."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="train on the tokenized configs of DATASET")
    fit.add_argument("dataset", type=Path, metavar="DATASET")
    fit.add_argument("--preset", required=True, metavar="NAME")
    fit.add_argument("--out", required=True, type=Path, metavar="RUN")
    for flag, kind in (
        ("max-steps", int),
        ("max-epochs", int),
        ("batch-size", int),
        ("accumulate", int),
        ("lr", float),
        ("accelerator", str),
        ("devices", str),
        ("strategy", str),
        ("num-nodes", int),
        ("precision", str),
        ("workers", int),
    ):
        fit.add_argument(f"--{flag}", type=kind)
    fit.add_argument("--wandb", choices=("offline", "online", "disabled"))
    fit.add_argument("--resume", type=Path, metavar="CKPT")
    fit.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override any field"
    )
    commands.add_parser("presets", help="list presets with their parameter counts")
    inspect = commands.add_parser("inspect", help="print a checkpoint's config, step, metrics")
    inspect.add_argument("checkpoint", type=Path, metavar="CKPT")
    return parser


def _error(message: str) -> int:
    print(f"vima-train: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 done, 2 usage or configuration error (nothing written)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else EXIT_OK
    from vima_train.checkpoint import CheckpointError
    from vima_train.config import ConfigError
    from vima_train.data.store import DataError

    try:
        if args.command == "presets":
            return _presets()
        if args.command == "inspect":
            return _inspect(args.checkpoint)
        return _fit(args)
    except (ConfigError, DataError, CheckpointError) as error:
        return _error(str(error))
    except Exception as error:
        return report_unexpected("vima-train", error)


def _fit(args: argparse.Namespace) -> int:
    from vima_train.config import load_preset
    from vima_train.train import fit, prepare

    overrides = [
        f"{key}={getattr(args, name)}"
        for name, key in SHORTCUTS.items()
        if getattr(args, name) is not None
    ]
    config = load_preset(args.preset, [*overrides, *args.set])
    prepared = prepare(args.dataset, config, args.out, args.resume)
    with contextlib.redirect_stdout(sys.stderr):  # Lightning's progress bars and messages
        last = fit(prepared, args.out)
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:
        print(last)
    return EXIT_OK


def _presets() -> int:
    import torch
    from vima_tokenize.text import load_tokenizer

    from vima_train.config import load_preset, preset_names
    from vima_train.model.policy import Policy

    vocab = load_tokenizer(None).get_vocab_size()
    for name in preset_names():
        config = load_preset(name)
        with torch.device("meta"):
            policy = Policy(config.model, vocab)
        count = sum(p.numel() for p in policy.parameters())
        print(f"{name:34s} {count / 1e6:8.2f}M  {config.description}")
    return EXIT_OK


def _inspect(path: Path) -> int:
    from vima_train.checkpoint import read_meta
    from vima_train.config import RunConfig, to_yaml

    meta = read_meta(path)
    print(to_yaml(RunConfig.model_validate(meta["config"])).rstrip())
    print(f"global_step: {meta['global_step']}")
    print(f"epoch: {meta['epoch']}")
    print(f"examples_seen: {meta['examples_seen']}")
    print(f"action_axes: {meta['action_axes']}  bins: {meta['axis_bins']}")
    print(f"tokenizer_sha256: {meta['tokenizer_sha256']}")
    print(f"tokenize_settings: {json.dumps(meta['tokenize_settings'])}")
    print("metrics:")
    for key, value in sorted(meta["metrics"].items()):
        print(f"  {key}: {value:.6g}")
    print(path)
    return EXIT_OK
