"""The loaders every DataModule shares: length-bucketed batches under a token budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from datasets import disable_progress_bars
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from encdec.data.batching import ResumableLoader, TokenBatchSampler
from encdec.data.tokenization import special_ids


class BucketedDataModule(L.LightningDataModule):
    """What the DataModules share: a tokenizer, encoded splits in `self.datasets` (each with
    `lengths()`), and loaders of length-bucketed batches under a token budget, sharded over ranks.
    Subclasses define `training_texts()`, `_load_tokenizer()`, `_encode(stage, tokenizer)` and
    `collate_fn(stage)`.
    """

    splits: dict[str, str]
    datasets: dict[str, Any]
    max_tokens: int
    num_workers: int
    seed: int

    def training_texts(self) -> list[str]:
        """The training split's text the tokenizer (and `embeddings.word2vec`) learns from."""
        raise NotImplementedError

    def _load_tokenizer(self) -> Tokenizer:
        raise NotImplementedError

    def _encode(self, stage: str, tok: Tokenizer) -> Any:
        raise NotImplementedError

    def collate_fn(self, stage: str) -> Callable[[list], Any]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        """Encode every split once (each subclass caches its encoding on disk)."""
        disable_progress_bars()
        tok = self._load_tokenizer()
        for name in self.splits:
            if name not in self.datasets:
                self.datasets[name] = self._encode(name, tok)

    # -- vocabulary -----------------------------------------------------------------------------
    @property
    def vocab_size_actual(self) -> int:
        return self._load_tokenizer().get_vocab_size()

    @property
    def special_ids(self) -> dict[str, int]:
        return special_ids(self._load_tokenizer())

    # -- loaders --------------------------------------------------------------------------------
    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        ds = self.datasets[stage]
        trainer = self.trainer
        sampler = TokenBatchSampler(
            ds.lengths(),
            self.max_tokens,
            shuffle=shuffle,
            seed=self.seed,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
        )
        kwargs: dict[str, Any] = dict(
            batch_sampler=sampler,
            collate_fn=self.collate_fn(stage),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # Its own generator: starting an epoch draws nothing from the global one (whose state
            # a resumed run restores), so resumed runs draw the same dropout masks.
            generator=torch.Generator().manual_seed(self.seed),
        )
        if stage == "train":  # resumable mid-epoch (see ResumableLoader)
            return ResumableLoader(ds, progress=self._train_progress, **kwargs)
        return DataLoader(ds, **kwargs)

    def _train_progress(self) -> tuple[int, int]:
        """(epoch, batches trained in it) as the Trainer counts them; (0, 0) without one."""
        trainer = self.trainer
        if trainer is None:
            return 0, 0
        return trainer.current_epoch, trainer.fit_loop.epoch_loop.batch_progress.current.processed

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
