"""One training run: checks, run folder, Lightning trainer, W&B, checkpoints."""

from __future__ import annotations

import hashlib
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from vima_schema.atomic import atomic_write_text
from vima_schema.dataset_layout import shard_rows
from vima_tokenize.text import load_tokenizer

from vima_train.checkpoint import CheckpointError, checkpoint_config, read_meta
from vima_train.config import ConfigError, RunConfig, learning_differences, to_yaml
from vima_train.data.datamodule import VimaDataModule
from vima_train.data.store import DataError
from vima_train.model.prompt import check_t5_source

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger

CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"


@dataclass
class Prepared:
    """Everything checked before the run folder is touched."""

    config: RunConfig
    datamodule: VimaDataModule
    meta: dict[str, Any]
    vocab_size: int
    total_steps: int | None  # None: computed once the world size is known
    resume: Path | None


def prepare(dataset: Path, config: RunConfig, run: Path, resume: Path | None) -> Prepared:
    """Validate dataset, tokenizer and resume checkpoint; raise Config/Data/CheckpointError."""
    check_t5_source(config.model.prompt_encoder)
    visual = config.model.visual.kind
    datamodule = VimaDataModule(
        dataset,
        config.data,
        seed=config.train.seed,
        crops=visual == "objects",
        frames=visual == "patches",
    )
    settings = datamodule.settings
    try:
        tokenizer = load_tokenizer(config.data.tokenizer)
    except ValueError as error:
        raise ConfigError(f"data.tokenizer: {error}") from None
    tokenizer_json = tokenizer.to_str()
    digest = hashlib.sha256(tokenizer_json.encode()).hexdigest()
    if digest != settings.tokenizer_sha256:
        which = config.data.tokenizer or "vima-tokenize's default tokenizer"
        raise DataError(
            f"{dataset}: tokenized with tokenizer sha256 {settings.tokenizer_sha256[:12]}, "
            f"not {which} ({digest[:12]}); set data.tokenizer to the tokenizer.json used"
        )
    meta = {
        "tokenizer_json": tokenizer_json,
        "tokenizer_sha256": digest,
        "tokenize_settings": {
            "keep_final_observation": settings.keep_final_observation,
            "tokenizer_sha256": settings.tokenizer_sha256,
            "crop_resampling": settings.crop_resampling,
        },
        "dataset": str(dataset),
    }
    total: int | None = None
    if resume is not None:
        stored = read_meta(resume)
        previous = checkpoint_config(stored, resume)
        differences = learning_differences(previous, config)
        if differences:
            raise CheckpointError(
                f"{resume}: checkpoint trained with other settings (preset {previous.preset!r}, "
                f"now {config.preset!r}): {'; '.join(differences)}. Resume with its settings "
                "or start a new run (another --out)"
            )
        if stored["tokenizer_sha256"] != digest:
            raise CheckpointError(f"{resume}: checkpoint trained with another tokenizer")
        total = int(stored["total_steps"])
    elif (run / CHECKPOINTS).is_dir() and any((run / CHECKPOINTS).iterdir()):
        raise ConfigError(f"{run}: already holds checkpoints; use --resume or another --out")
    return Prepared(config, datamodule, meta, tokenizer.get_vocab_size(), total, resume)


def total_steps(prepared: Prepared, world_size: int) -> int:
    """Optimiser steps of the whole run (fixed at the start; a resume keeps the stored one)."""
    if prepared.total_steps is not None:
        return prepared.total_steps
    train = prepared.config.train
    episodes = sum(shard_rows(s.path) for s in prepared.datamodule.train_shards)
    span = prepared.config.data.batch_size * world_size
    if episodes < span:
        raise DataError(
            f"{prepared.datamodule.dataset}: {episodes} train episodes, fewer than one batch "
            f"({prepared.config.data.batch_size} x {world_size} rank(s)); lower --batch-size"
        )
    if train.max_steps > 0:
        return train.max_steps
    return max(episodes // span // train.accumulate, 1) * train.max_epochs


def _precision(config: RunConfig) -> Any:
    if config.train.precision != "auto":
        return config.train.precision
    gpu = torch.cuda.is_available() and config.train.accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if gpu else "32-true"


def _loggers(config: RunConfig, run: Path) -> list[Logger]:
    """A CSV logger writing to `run/logs`, and a W&B one unless W&B is disabled."""
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    train = config.train
    loggers: list[Logger] = [CSVLogger(run, name="logs")]
    if train.wandb != "disabled":
        loggers.append(
            WandbLogger(
                project=train.wandb_project,
                save_dir=str(run),
                name=run.name,
                offline=train.wandb == "offline",
                config=config.model_dump(mode="json"),
            )
        )
    return loggers


def _callbacks(config: RunConfig, run: Path) -> list[Any]:
    """Checkpoints every epoch and every `train.checkpoint_every_n_steps` if set, `last.ckpt`
    as a relative symbolic link to the newest epoch checkpoint (not a second copy), and the
    progress bar."""
    from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar

    train = config.train
    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=run / CHECKPOINTS,
            filename="epoch{epoch:02d}-step{step:07d}",
            auto_insert_metric_name=False,
            save_top_k=-1,
            save_last="link",
            # a resume in the same folder re-links last.ckpt instead of adding last-v1.ckpt
            # (the epoch checkpoint it resumes from was written before its link)
            enable_version_counter=False,
            every_n_epochs=1,
            save_on_train_epoch_end=True,
        ),
        TQDMProgressBar(refresh_rate=1),
    ]
    if train.checkpoint_every_n_steps:
        callbacks.append(
            ModelCheckpoint(
                dirpath=run / CHECKPOINTS,
                filename="step{step:07d}",
                auto_insert_metric_name=False,
                save_top_k=-1,
                every_n_train_steps=train.checkpoint_every_n_steps,
            )
        )
    return callbacks


def fit(prepared: Prepared, run: Path) -> Path:
    """Train; return the path of the last checkpoint."""
    import lightning as L
    from lightning.pytorch.loggers import WandbLogger

    from vima_train.module import PolicyModule

    config = prepared.config
    train = config.train
    # A mid-epoch resume is exact here (the sampler skips the batches the checkpoint records),
    # which Lightning cannot see from the outside.
    warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
    L.seed_everything(train.seed, workers=True, verbose=False)
    loggers = _loggers(config, run)
    callbacks = _callbacks(config, run)
    trainer = L.Trainer(
        default_root_dir=run,
        max_steps=train.max_steps,
        max_epochs=train.max_epochs,
        accumulate_grad_batches=train.accumulate,
        gradient_clip_val=train.gradient_clip or None,
        precision=_precision(config),
        accelerator=train.accelerator,
        devices=train.devices,
        num_nodes=train.num_nodes,
        strategy=train.strategy,
        logger=loggers,
        callbacks=callbacks,
        use_distributed_sampler=False,
        log_every_n_steps=train.log_every_n_steps,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if train.run_validation else 0,
        enable_model_summary=False,
    )
    total = total_steps(prepared, trainer.world_size)  # the last check: nothing written yet
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.yaml", to_yaml(config))
    module = PolicyModule(config, prepared.vocab_size, total, prepared.meta)
    if train.record_episodes:
        module.episodes_dir = run / "episodes"
        module.episodes_dir.mkdir(exist_ok=True)
    trainer.fit(module, datamodule=prepared.datamodule, ckpt_path=prepared.resume)
    print(f"vima-train: stopped {_limit_reached(trainer, train)}", file=sys.stderr)
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            # Close the run here, not at interpreter exit, where W&B would print its summary
            # after the checkpoint path and break the last-line-on-stdout convention.
            logger.experiment.finish()
    return run / CHECKPOINTS / LAST


def _limit_reached(trainer: Any, train: Any) -> str:
    """Which limit ended training: the steps, the epochs, or neither (interrupted)."""
    if 0 < train.max_steps <= trainer.global_step:
        return f"at train.max_steps={train.max_steps} (epoch {trainer.current_epoch})"
    if trainer.current_epoch >= train.max_epochs:
        return f"after train.max_epochs={train.max_epochs} (step {trainer.global_step})"
    return f"at step {trainer.global_step}, epoch {trainer.current_epoch}, before either limit"
