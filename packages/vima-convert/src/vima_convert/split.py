"""Deterministic, stratified train/valid split that ignores file, worker and shard order."""

from __future__ import annotations

import hashlib
import math

from vima_schema.enums import Task


def parse_valid_size(text: str) -> int | float:
    """`--valid-size` value: an episode count (`50000`) or a fraction in (0, 1) (`0.05`)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--valid-size {text!r} is neither a count nor a fraction") from None
    if value < 0 or (value >= 1 and not value.is_integer()):
        raise ValueError(f"--valid-size {text!r} must be a count >= 0 or a fraction in [0, 1)")
    return int(value) if value >= 1 or text.strip().isdigit() else value


def valid_quotas(counts: dict[Task, int], valid_size: int | float) -> dict[Task, int]:
    """Validation episodes per task, proportional to task size, summing exactly to the total.

    Largest-remainder rounding; ties go to the task with the lower value. Raises ValueError when
    the requested validation size leaves no training episode.
    """
    total = sum(counts.values())
    wanted = round(valid_size * total) if isinstance(valid_size, float) else valid_size
    if total and wanted >= total:
        raise ValueError(
            f"--valid-size asks for {wanted} validation episodes but the dataset has only {total}"
            "; pass a smaller count or a fraction such as 0.05"
        )
    if not total:
        return {}
    shares = {task: wanted * n / total for task, n in counts.items()}
    quotas = {task: math.floor(share) for task, share in shares.items()}
    left = wanted - sum(quotas.values())
    by_remainder = sorted(counts, key=lambda t: (-(shares[t] - quotas[t]), int(t)))
    for task in by_remainder[:left]:
        quotas[task] += 1
    return quotas


def split_rank(seed: int, task: Task, index: int) -> bytes:
    """Sort key of an episode: a keyed hash of (seed, task, index)."""
    return hashlib.blake2b(f"{seed}/{task.name}/{index}".encode(), digest_size=16).digest()


def assign_splits(
    episodes: dict[Task, list[int]], valid_size: int | float, seed: int
) -> dict[Task, dict[str, list[int]]]:
    """Split each task's episode indices into sorted `train` and `valid` lists.

    The `valid` episodes of a task are those with the smallest `split_rank`, so membership
    depends only on (seed, task, index) and the quota, never on listing order.
    """
    quotas = valid_quotas({t: len(v) for t, v in episodes.items()}, valid_size)
    splits: dict[Task, dict[str, list[int]]] = {}
    for task, indices in episodes.items():
        ranked = sorted(indices, key=lambda i: split_rank(seed, task, i))
        valid = set(ranked[: quotas[task]])
        splits[task] = {
            "train": sorted(i for i in indices if i not in valid),
            "valid": sorted(valid),
        }
    return splits
