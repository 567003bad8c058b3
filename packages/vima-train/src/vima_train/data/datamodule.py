"""Lightning data module over `<variant>--preprocessed--<task>` configs."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from vima_train.config import DataConfig
from vima_train.data.batch import Batch, collate
from vima_train.data.sampler import EpisodeBatchSampler
from vima_train.data.store import (
    EpisodeStore,
    TokenizeSettings,
    cached_arrays,
    default_cache_dir,
    find_shards,
    open_store,
    tokenize_settings,
)


class Episodes(Dataset[Any]):
    """Map-style dataset of `row_arrays` dicts from an `EpisodeStore`."""

    def __init__(self, store: EpisodeStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return cached_arrays(self.store.row(index))


def episode_lengths(store: EpisodeStore) -> np.ndarray:
    """Approximate token count of each episode (obs/action stream + prompt visual tokens)."""
    steps, objects = store.column("steps"), store.column("num_objects")
    images, slots = store.column("num_images"), store.column("prompt_objects")
    return steps * (2 * objects + 1) + images * 2 * slots


class VimaDataModule(L.LightningDataModule):
    """Train and valid splits of the tokenized configs of `dataset` selected by `config`.

    `crops` / `frames` choose which pixels are collated (object crops for the object-centric
    model, whole frames for patches). The tokenize settings of the shards are checked to be
    the same everywhere and exposed as `settings`.
    """

    def __init__(
        self,
        dataset: Path,
        config: DataConfig,
        *,
        seed: int,
        crops: bool = True,
        frames: bool = True,
    ) -> None:
        super().__init__()
        self.dataset, self.config, self.seed = Path(dataset), config, seed
        self.crops, self.frames = crops, frames
        self.train_shards = find_shards(self.dataset, config.variants, "train", config.tasks)
        self.valid_shards = find_shards(self.dataset, config.variants, "valid", config.tasks)
        if not self.train_shards:
            raise ValueError(f"{self.dataset}: the selected configs have no train split")
        self.settings: TokenizeSettings = tokenize_settings(self.train_shards + self.valid_shards)
        self.cache_dir = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
        self.train_store: EpisodeStore | None = None
        self.valid_store: EpisodeStore | None = None
        self._resume: tuple[int, int] | None = None

    def prepare_data(self) -> None:
        """Build the Arrow cache (once per node, before the other ranks open it)."""
        for shards in (self.train_shards, self.valid_shards):
            open_store(shards, self.config.variants, self.cache_dir)

    def setup(self, stage: str | None = None) -> None:
        """Open the cached splits."""
        if self.train_store is None:
            self.train_store = open_store(self.train_shards, self.config.variants, self.cache_dir)
            self.valid_store = open_store(self.valid_shards, self.config.variants, self.cache_dir)

    def resume_at(self, epoch: int, batches: int) -> None:
        """Make the train loader of `epoch` skip its first `batches` batches (resume)."""
        self._resume = (epoch, batches)

    def _loader(self, store: EpisodeStore, *, train: bool) -> DataLoader[Batch]:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        sampler = EpisodeBatchSampler(
            len(store),
            self.config.batch_size,
            seed=self.seed,
            rank=rank,
            world_size=world,
            shuffle=train,
            lengths=episode_lengths(store) if train and self.config.bucket_by_length else None,
        )
        if train and self._resume is not None:
            sampler.skip(*self._resume)
            self._resume = None
        workers = self.config.num_workers
        return DataLoader(
            Episodes(store),
            batch_sampler=sampler,
            collate_fn=functools.partial(collate, crops=self.crops, frames=self.frames),
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            pin_memory=bool(
                trainer and trainer.accelerator.__class__.__name__ == "CUDAAccelerator"
            ),
        )

    def train_dataloader(self) -> DataLoader[Batch]:
        """Shuffled, disjoint per rank, tail dropped."""
        assert self.train_store is not None, "setup() first"
        return self._loader(self.train_store, train=True)

    def val_dataloader(self) -> DataLoader[Batch]:
        """Every valid episode once, in order, split across ranks."""
        assert self.valid_store is not None, "setup() first"
        return self._loader(self.valid_store, train=False)
