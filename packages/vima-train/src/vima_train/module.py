"""The LightningModule: loss, metrics, optimiser and schedule, checkpoint metadata."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import lightning as L
import torch
from vima_schema.enums import Task

from vima_train.augment import augment_batch
from vima_train.checkpoint_format import CHECKPOINT_FORMAT, META_KEY
from vima_train.config import RunConfig
from vima_train.data.batch import Batch
from vima_train.metrics import (
    PositionTotals,
    Totals,
    add_sums,
    group_of,
    group_sums,
    position_totals,
    smoothed_loss_of,
    step_totals,
    summarize,
    summarize_positions,
)
from vima_train.model.actions import axis_bins, axis_names
from vima_train.policies import build_policy
from vima_train.schedule import lr_multiplier

#: Lightning's precisions that clip gradients with torch's own clipping (its mixed-precision
#: plugin refuses to clip for an optimiser that unscales inside its step, as fused AdamW does).
FULL_PRECISION = ("32-true", "32", "64-true", "64")


def close_finished_epoch(loops: dict[str, Any]) -> None:
    """Make the loop state of a checkpoint written at the end of an epoch whose batches all ran
    (every epoch checkpoint, and so `last.ckpt`, but the one of a run stopped by max_steps in
    the middle of an epoch) the state at the start of the next epoch.

    Lightning saves it between counting the epoch processed and counting it completed. Resuming
    under max_epochs it counts the epoch completed itself; under max_steps (which restarts the
    loops as if in the middle of an epoch) it went on in the finished epoch with one batch of
    the next epoch's order and then numbered every later epoch one higher, so the data order
    and the weights left those of the uninterrupted run (found by a DDP run on SLURM, cancelled
    and resubmitted). Other checkpoints are left as they are. Left over: with validation on,
    Lightning still restarts the epoch's loop "on its last batch" and spends one empty pass
    that moves the loggers' step axis on by one (losses, data and weights are unchanged)."""
    fit = loops.get("fit_loop", {})
    epochs, batches = fit.get("epoch_progress"), fit.get("epoch_loop.batch_progress")
    if epochs is None or batches is None or not batches.get("is_last_batch"):
        return
    if epochs["total"]["processed"] != epochs["total"]["completed"] + 1:
        return
    for counts in (epochs["total"], epochs["current"]):
        counts["completed"] = counts["processed"]
    batches["current"] = dict.fromkeys(batches["current"], 0)
    batches["is_last_batch"] = False


def adamw(
    parameters: list[torch.nn.Parameter], lr: float, weight_decay: float, precision: str
) -> torch.optim.AdamW:
    """The training's AdamW: fused (one kernel over every parameter; on CPU about 3x faster
    than the per-tensor loop, the same arithmetic up to rounding) in full precision when every
    parameter is a floating tensor on the CPU or a CUDA device, else torch's default."""
    fused = precision in FULL_PRECISION and all(
        p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in parameters
    )
    return torch.optim.AdamW(
        parameters, lr=lr, weight_decay=weight_decay, fused=True if fused else None
    )


class PolicyModule(L.LightningModule):
    """Trains a policy of any family (`vima_train.policies`). `meta` (tokenizer, tokenize
    settings...) goes into every checkpoint.

    Before every batch the global torch generator is reseeded from (seed, epoch, batch of the
    epoch, rank), so dropout and object shuffling, and with the seeded sampler the whole run,
    replay exactly after a resume.
    """

    def __init__(
        self, config: RunConfig, vocab_size: int, total_steps: int, meta: dict[str, Any]
    ) -> None:
        super().__init__()
        self.config, self.total_steps, self.meta = config, total_steps, meta
        self.policy = build_policy(config.model, vocab_size)
        self.vocab_size = vocab_size
        self.axis_names = axis_names(config.model.action_axes)
        self.examples_seen = 0
        self.batches_this_epoch = 0
        self.resumed_at: tuple[int, int] | None = None
        #: With `train.record_episodes`: folder of the per-rank episode lists.
        self.episodes_dir: Path | None = None
        self.episodes_file: Path | None = None
        self._tick = 0.0
        #: Validation sums per task of the running epoch (`on_validation_epoch_start`).
        self._val: tuple[Totals, PositionTotals]

    def forward(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced logits [B, T, A, C]."""
        return self.policy(batch)

    # ----------------------------------------------------------------- train
    def on_fit_start(self) -> None:
        if self.episodes_dir is not None:  # the rank is known only once the processes run
            self.episodes_file = self.episodes_dir / f"rank{self.global_rank}.txt"

    def on_train_epoch_start(self) -> None:
        # Lightning does not call this hook for an epoch resumed in the middle; the count
        # restored by on_load_checkpoint is kept if it does.
        if self.resumed_at is None or self.resumed_at[0] != self.current_epoch:
            self.batches_this_epoch = 0
        self.resumed_at = None

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        key = (self.config.train.seed, self.current_epoch, self.batches_this_epoch)
        torch.manual_seed(hash((*key, self.global_rank)) % (2**63))
        if self.episodes_file is not None:
            with self.episodes_file.open("a", encoding="utf-8") as handle:
                for v, t, i in zip(batch.variant, batch.task, batch.index, strict=True):
                    variant = self.config.data.variants[int(v)]
                    handle.write(f"{variant} {Task(int(t)).name} {int(i)}\n")

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        logits = self.policy(augment_batch(batch, self.config.train.augment_crops))
        targets = self.policy.targets(batch)
        loss = smoothed_loss_of(logits, targets, self.config.train.label_sigma)
        self.batches_this_epoch += 1
        self.examples_seen += batch.size * self.trainer.world_size
        now = time.perf_counter()
        rate = batch.size * self.trainer.world_size / (now - self._tick) if self._tick else 0.0
        self._tick = now
        metrics = summarize(step_totals(logits.detach(), targets), self.axis_names)
        logged = {f"train/{k}": v for k, v in metrics.items() if k != "loss"}
        logged |= {"examples_seen": float(self.examples_seen), "lr": self._lr()}
        self.log_dict(logged, on_step=True, on_epoch=False, batch_size=batch.size)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=batch.size)
        if rate:
            self.log("samples_per_s", rate, prog_bar=True, batch_size=batch.size)
        return loss

    def _lr(self) -> float:
        optimizer = self.optimizers(use_pl_optimizer=False)
        assert isinstance(optimizer, torch.optim.Optimizer)
        return float(optimizer.param_groups[0]["lr"])

    # ------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        # zeros of the right shapes from empty inputs, so a rank without validation batches
        # still takes part in the reduction
        axes = self.config.model.action_axes
        logits = torch.zeros(0, 1, len(self.axis_names), max(axis_bins(axes)), device=self.device)
        targets = torch.zeros(0, 1, len(self.axis_names), dtype=torch.long, device=self.device)
        self._val = self._per_task(logits, targets, targets.new_zeros(0), None)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        logits = self.policy(batch)
        targets = self.policy.targets(batch)
        objects = batch.observations.top_view(targets.shape[1])
        batch_sums = self._per_task(logits, targets, batch.task, objects)
        self._val = (add_sums(self._val[0], batch_sums[0]), add_sums(self._val[1], batch_sums[1]))
        if batch_idx == 0:
            self._log_predictions(batch, logits)

    def _log_predictions(self, batch: Batch, logits: torch.Tensor) -> None:
        """A few validation episodes' picks and places drawn on the top view, to W&B."""
        from lightning.pytorch.loggers import WandbLogger

        wandb_loggers = [lg for lg in self.loggers if isinstance(lg, WandbLogger)]
        if not wandb_loggers or not self.trainer.is_global_zero:
            return
        from vima_train.validation_images import draw_predictions

        predicted = self.policy.bins_to_actions(logits.argmax(-1)).cpu()
        pictures = draw_predictions(batch.to("cpu"), predicted)
        images, captions = [p[0] for p in pictures], [p[1] for p in pictures]
        for logger in wandb_loggers:
            logger.log_image("val/predictions", images, step=self.global_step, caption=captions)

    def _per_task(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        task: torch.Tensor,
        objects: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[Totals, PositionTotals]:
        """Metric sums of a batch added up per task id ([len(Task), ...] each field)."""
        positions = position_totals(logits, targets, self.config.model.action_axes, objects)
        totals = step_totals(logits, targets)
        return group_sums(totals, task, len(Task)), group_sums(positions, task, len(Task))

    def on_validation_epoch_end(self) -> None:
        # one reduction over ranks for every field of both sums
        parts = [getattr(s, f.name) for s in self._val for f in fields(s)]
        flat = self.trainer.strategy.reduce(
            torch.cat([p.flatten() for p in parts]), reduce_op="sum"
        )
        values = iter(flat.split([p.numel() for p in parts]))
        totals, positions = (
            type(s)(*(next(values).view_as(getattr(s, f.name)) for f in fields(s)))
            for s in self._val
        )
        logged = {f"val/{k}": v for k, v in summarize(totals, self.axis_names).items()}
        logged |= {f"val/{k}": v for k, v in summarize_positions(positions).items()}
        for task in Task:
            if float(totals.steps[task.value]) > 0:
                metrics = summarize(group_of(totals, task.value), self.axis_names)
                logged[f"val/{task.name}/loss"] = metrics["loss"]
                logged[f"val/{task.name}/acc"] = metrics["acc"]
                for key, value in summarize_positions(group_of(positions, task.value)).items():
                    logged[f"val/{task.name}/{key}"] = value
        if logged["val/loss"] == logged["val/loss"]:  # not NaN: some valid episode
            # Already summed over ranks, so every rank holds the same values and the
            # sync_dist mean changes nothing (it only keeps Lightning from warning).
            self.log_dict(logged, sync_dist=True)
            self.log("val_loss", logged["val/loss"], prog_bar=True, sync_dist=True)

    # ----------------------------------------------------------- optimiser
    def configure_optimizers(self) -> Any:
        train = self.config.train
        parameters = [p for p in self.parameters() if p.requires_grad]
        precision = str(self._trainer.precision) if self._trainer is not None else "32-true"
        optimizer = adamw(parameters, train.lr, train.weight_decay, precision)
        total = self.total_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_multiplier(step, train, total)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ---------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        metrics = {k: float(v) for k, v in self.trainer.callback_metrics.items() if v.numel() == 1}
        checkpoint[META_KEY] = {
            **self.meta,
            "format": CHECKPOINT_FORMAT,
            "config": self.config.model_dump(mode="json"),
            "vocab_size": self.vocab_size,
            "total_steps": self.total_steps,
            "action_axes": self.config.model.action_axes,
            "axis_names": list(self.axis_names),
            "axis_bins": list(axis_bins(self.config.model.action_axes)),
            "global_step": self.global_step,
            "epoch": self.current_epoch,
            "batches_this_epoch": self.batches_this_epoch,
            "examples_seen": self.examples_seen,
            "metrics": metrics,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "loops" in checkpoint:  # Lightning restores the loops after this hook
            close_finished_epoch(checkpoint["loops"])
        meta = checkpoint[META_KEY]
        self.examples_seen = int(meta["examples_seen"])
        self.resumed_at = (int(meta["epoch"]), int(meta["batches_this_epoch"]))
        self.batches_this_epoch = self.resumed_at[1]
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None:
            datamodule.resume_at(*self.resumed_at)
