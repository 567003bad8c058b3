"""Seeded batch order, disjoint per rank, resumable mid-epoch, optionally length-bucketed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

#: Episodes sorted together when bucketing, in global batches.
BUCKET_BATCHES = 50


class EpisodeBatchSampler(Sampler[list[int]]):
    """Batches of episode indices for one rank.

    Every epoch draws a permutation from `(seed, epoch)`; it is cut into global batches of
    `batch_size * world_size` episodes and rank `r` takes the `r`-th slice of each, so ranks see
    disjoint episodes and together the whole epoch (training drops the tail that does not fill a
    global batch; evaluation keeps every episode, in order, the last batches possibly smaller).
    With `lengths`, episodes are sorted by length within windows of `BUCKET_BATCHES` global
    batches before cutting, and the batch order is shuffled again.

    `skip(epoch, batches)` makes that epoch start after that many batches (resuming mid-epoch);
    `len()` still counts the whole epoch, as the training loop's step counter does.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        lengths: np.ndarray | None = None,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.size, self.batch_size = size, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.shuffle, self.lengths = shuffle, lengths
        self.epoch = 0
        #: Lightning calls `set_epoch` on `loader.batch_sampler.sampler`, so point it here.
        self.sampler = self
        self._skip: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration yields (Lightning calls this)."""
        self.epoch = epoch

    def skip(self, epoch: int, batches: int) -> None:
        """Leave out the first `batches` batches when epoch `epoch` is next iterated."""
        self._skip = (epoch, batches)

    def batches(self) -> list[list[int]]:
        """Every batch of this rank for the current epoch."""
        if not self.shuffle:
            mine = np.arange(self.rank, self.size, self.world_size)
            return [
                mine[i : i + self.batch_size].tolist() for i in range(0, len(mine), self.batch_size)
            ]
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.size)
        span = self.batch_size * self.world_size
        usable = len(order) // span * span
        order = order[:usable]
        if self.lengths is not None and usable:
            window = span * BUCKET_BATCHES
            parts = []
            for start in range(0, usable, window):
                part = order[start : start + window]
                parts.append(part[np.argsort(self.lengths[part], kind="stable")])
            order = np.concatenate(parts)
            global_batches = order.reshape(-1, span)
            order = global_batches[rng.permutation(len(global_batches))].reshape(-1)
        global_batches = order.reshape(-1, span)
        mine = global_batches[:, self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        return [[int(i) for i in mine[row]] for row in range(mine.shape[0])]

    def __iter__(self) -> Iterator[list[int]]:
        skip = self._skip[1] if self._skip and self._skip[0] == self.epoch else 0
        self._skip = None
        yield from self.batches()[skip:]

    def __len__(self) -> int:
        if not self.shuffle:
            mine = len(range(self.rank, self.size, self.world_size))
            return -(-mine // self.batch_size)
        return self.size // (self.batch_size * self.world_size)
