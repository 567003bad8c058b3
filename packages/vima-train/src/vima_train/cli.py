"""`vima-train`: fit a policy on tokenized configs, list presets, inspect checkpoints."""

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from vima_schema.command import Result, Tool, completer
from vima_schema.runner import EXIT_OK, InputError, mark_work_started

#: `--max-epochs` when only `--max-steps` is given: the steps end training.
UNLIMITED_EPOCHS = 1_000_000

tool = Tool("vima-train", "Train VIMA-style policies with Lightning, logged to W&B.")
main = tool.main


def _preset_names() -> list[str]:
    from vima_train.config import preset_names

    return preset_names()


def _shortcut(key: str, help: str, flag: str | None = None) -> typer.models.OptionInfo:
    """An option of `fit` that is a shortcut for `--set KEY=VALUE` (its flag: the key's field)."""
    flag = flag or "--" + key.split(".")[1].replace("_", "-")
    return typer.Option(flag, help=f"{help} Same as --set {key}=VALUE. [default: the preset's]")


# The arguments and options of `fit`; most are shortcuts for `--set KEY=VALUE`.
_Dataset = Annotated[
    Path, typer.Argument(metavar="DATASET", help="Dataset folder with preprocessed configs.")
]
_Preset = Annotated[
    str,
    typer.Option(
        "--preset",
        metavar="NAME",
        help="Model and training preset (see `vima-train presets`).",
        autocompletion=completer(_preset_names),
    ),
]
_Out = Annotated[
    Path, typer.Option("--out", metavar="RUN", help="Run folder (config, checkpoints, logs).")
]
_MaxSteps = Annotated[
    int | None, _shortcut("train.max_steps", "Stop after this many optimizer steps.")
]
_MaxEpochs = Annotated[int | None, _shortcut("train.max_epochs", "Stop after this many epochs.")]
_BatchSize = Annotated[int | None, _shortcut("data.batch_size", "Episodes per batch and device.")]
_Accumulate = Annotated[int | None, _shortcut("train.accumulate", "Batches per optimizer step.")]
_Lr = Annotated[float | None, _shortcut("train.lr", "Peak learning rate.")]
_Accelerator = Annotated[
    str | None, _shortcut("train.accelerator", "Lightning accelerator: cpu, gpu, auto.")
]
_Devices = Annotated[
    str | None, _shortcut("train.devices", "Devices per node: a count, a list, or auto.")
]
_Strategy = Annotated[str | None, _shortcut("train.strategy", "Lightning strategy, e.g. ddp.")]
_NumNodes = Annotated[int | None, _shortcut("train.num_nodes", "Nodes (SLURM).")]
_Precision = Annotated[
    str | None, _shortcut("train.precision", "Lightning precision, e.g. bf16-mixed.")
]
_Wandb = Annotated[
    Literal["offline", "online", "disabled"] | None,
    _shortcut("train.wandb", "Weights & Biases mode."),
]
_LoaderWorkers = Annotated[
    int | None, _shortcut("data.num_workers", "Data-loader worker processes.", "--workers")
]
_Resume = Annotated[
    Path | None,
    typer.Option("--resume", metavar="CKPT", help="Continue from this checkpoint. [default: none]"),
]
_Settings = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override any config field (repeatable). [default: none]",
    ),
]


@tool.command()
def fit(
    dataset: _Dataset,
    preset: _Preset,
    out: _Out,
    max_steps: _MaxSteps = None,
    max_epochs: _MaxEpochs = None,
    batch_size: _BatchSize = None,
    accumulate: _Accumulate = None,
    lr: _Lr = None,
    accelerator: _Accelerator = None,
    devices: _Devices = None,
    strategy: _Strategy = None,
    num_nodes: _NumNodes = None,
    precision: _Precision = None,
    wandb: _Wandb = None,
    loader_workers: _LoaderWorkers = None,
    resume: _Resume = None,
    settings: _Settings = None,
) -> Result:
    """Train on the tokenized configs of DATASET; the final checkpoint is the product."""
    from vima_train.config import load_preset
    from vima_train.data.store import DataError
    from vima_train.train import fit as fit_policy
    from vima_train.train import prepare

    shortcuts = {
        "train.max_steps": max_steps,
        "train.max_epochs": max_epochs,
        "data.batch_size": batch_size,
        "train.accumulate": accumulate,
        "train.lr": lr,
        "train.accelerator": accelerator,
        "train.devices": devices,
        "train.strategy": strategy,
        "train.num_nodes": num_nodes,
        "train.precision": precision,
        "train.wandb": wandb,
        "data.num_workers": loader_workers,
    }
    if max_steps is not None and max_epochs is None:
        # the limit the user gave is the one that ends training, not the preset's epochs
        shortcuts["train.max_epochs"] = UNLIMITED_EPOCHS
    overrides = [f"{key}={value}" for key, value in shortcuts.items() if value is not None]
    config = load_preset(preset, [*overrides, *(settings or [])])
    prepared = prepare(dataset, config, out, resume)
    mark_work_started()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Lightning's progress bars and messages
            last = fit_policy(prepared, out)
    except DataError as error:  # batch vs. data, checked once the trainer knows its ranks
        raise InputError(str(error)) from error
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return EXIT_OK, (last if getattr(rank_zero_only, "rank", 0) == 0 else None)


@tool.command()
def presets() -> int:
    """List the presets with their parameter counts, prompt encoder and descriptions."""
    from vima_tokenize.text import load_tokenizer

    from vima_train.config import ConfigError, load_preset, preset_names
    from vima_train.policies import parameter_count

    vocab = load_tokenizer(None).get_vocab_size()
    names = preset_names()
    mark_work_started()
    for name in names:
        config = load_preset(name)
        try:
            count = f"{parameter_count(config.model, vocab) / 1e6:8.2f}M"
        except ConfigError:  # T5 presets need transformers (the t5 extra) to be counted
            count = "  t5 extra"
        prompt = config.model.prompt_encoder
        source = f"pretrained {prompt.t5_path}" if prompt.kind == "t5" else "from scratch"
        print(f"{name:44s} {count}  prompt: {source:20s} {config.description}")
    return EXIT_OK


@tool.command("import")
def import_checkpoint(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A released checkpoint: VIMA's 2M...200M.ckpt or a CoGeLoT Lightning checkpoint.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="CKPT", help="vima-train checkpoint to write.")
    ],
    family: Annotated[
        Literal["vima", "cogelot"] | None,
        typer.Option(
            "--family",
            help="Whose checkpoint FILE must be. [default: whichever its layout is]",
        ),
    ] = None,
    tokenizer: Annotated[
        str,
        typer.Option(
            "--tokenizer",
            metavar="NAME|PATH",
            help="Tokenizer the policy reads prompts with: t5-base (VIMA's; hub or local cache) "
            "or a tokenizer.json / folder.",
        ),
    ] = "t5-base",
) -> Result:
    """Import a published checkpoint: every key checked against the reference network (exit 2
    listing unexpected, missing or misshapen keys), written as a vima-train checkpoint."""
    import torch
    from vima_schema.atomic import atomic_output
    from vima_tokenize.text import load_tokenizer

    from vima_train.importing import ImportFailure, import_reference, load_torch_file

    try:
        words = load_tokenizer(tokenizer)
        checkpoint = import_reference(
            source, load_torch_file(source), words.to_str(), words.get_vocab_size(), family
        )
    except (ImportFailure, ValueError) as error:
        raise InputError(str(error)) from error
    mark_work_started()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as partial:
        torch.save(checkpoint, partial)
    config = checkpoint["vima_train"]["config"]
    found = checkpoint["vima_train"]["imported"]["family"]
    print(f"imported {found} {source} as preset {config['preset']!r}", file=sys.stderr)
    return EXIT_OK, out


@tool.command()
def export(
    checkpoint: Annotated[
        Path, typer.Argument(metavar="CKPT", help="A vima-train checkpoint (or a VIMA file).")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Policy folder to write.")],
) -> Result:
    """Write a policy folder for sharing: config.json, model.safetensors (weights only),
    tokenizer.json and a model card; every command that takes a checkpoint takes it."""
    from vima_train.checkpoint import CheckpointError, read_checkpoint
    from vima_train.checkpoint_format import META_KEY
    from vima_train.policy_folder import export_folder

    try:
        loaded = read_checkpoint(checkpoint)
    except CheckpointError as error:
        raise InputError(str(error)) from error
    mark_work_started()
    return EXIT_OK, export_folder(loaded, META_KEY, out)


@tool.command()
def inspect(
    checkpoint: Annotated[Path, typer.Argument(metavar="CKPT", help="A vima-train checkpoint.")],
) -> Result:
    """Print a checkpoint's config, step, epoch, tokenizer and metrics."""
    from vima_train.checkpoint import read_meta
    from vima_train.config import RunConfig, to_yaml

    meta = read_meta(checkpoint)
    mark_work_started()
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
    return EXIT_OK, checkpoint
