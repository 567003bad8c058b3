"""Learning-rate schedules as multipliers of the peak learning rate, per optimiser step."""

from __future__ import annotations

import math

from vima_train.config import TrainConfig


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    """Warm-up length in steps (`warmup` below 1 is a fraction of `total_steps`)."""
    if config.warmup < 1:
        return round(config.warmup * total_steps)
    return int(config.warmup)


def lr_multiplier(step: int, config: TrainConfig, total_steps: int) -> float:
    """Multiplier of `config.lr` at optimiser step `step` (0-based).

    Linear warm-up reaching 1 at the end of the warm-up, then `full`: half-cosine to
    `lr_end / lr` at `total_steps`; `vima`: the same ending at `vima_decay_end`; `constant`: 1.
    After the cosine ends the multiplier stays at its floor.
    """
    warm = warmup_steps(config, total_steps)
    if step < warm:
        return (step + 1) / warm
    if config.schedule == "constant":
        return 1.0
    end = total_steps if config.schedule == "full" else config.vima_decay_end
    floor = config.lr_end / config.lr
    progress = min(max((step - warm) / max(end - warm, 1), 0.0), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
