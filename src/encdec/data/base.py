"""What both datamodules share: a source read split by split into the Arrow cache, a tokenizer,
and loaders of length-bucketed batches under a token budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import datasets
import lightning as L
import pyarrow as pa
import torch
from datasets import disable_progress_bars
from tokenizers import Tokenizer
from torch.utils.data import DataLoader, Dataset

from encdec.data.arrow import cached_rows
from encdec.data.batching import ResumableLoader, TokenBatchSampler
from encdec.data.readers import confined
from encdec.data.sources import Split, SplitSpec
from encdec.data.tokenization import TokenizerSettings, fingerprint, special_ids
from encdec.errors import ConfigError


def positive(null: bool = False, **options: object) -> None:
    """Each `data.<name>` must be a positive whole number (or null, where `null` allows it)."""
    for name, value in options.items():
        if value is None and null:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            allowed = " (or null)" if null else ""
            raise ConfigError(
                f"data.{name}={value} is not allowed: it must be a positive whole number"
                f"{allowed}. Set it on the command line, e.g. data.{name}=256."
            )


class Source(Protocol):
    """What a datamodule reads its splits from (encdec.data.sources)."""

    def open(self, split: SplitSpec, data_dir: Path, cache_dir: Path) -> Split: ...


class EncodedSplit(Protocol):
    """One encoded split: its items and the batch cost of each."""

    def __len__(self) -> int: ...

    def lengths(self) -> list[int]: ...


class BucketedDataModule(L.LightningDataModule):
    """A source's splits -> rows in the Arrow cache (`read`) -> a tokenizer trained on the
    training text (`training_texts`, cached) -> encoded splits in `self.datasets` (`encode`)
    -> loaders of length-bucketed batches under a token budget, sharded over ranks."""

    #: data.tokenizer.kind values this datamodule can train (the first is its default).
    TOKENIZER_KINDS: tuple[str, ...] = ()

    def __init__(
        self,
        source: Source,
        data_dir: str,
        splits: Mapping[str, SplitSpec | None],
        tokenizer: Mapping[str, Any] | TokenizerSettings | None,
        default_tokenizer: TokenizerSettings,
        cache_dir: str,
        max_tokens: int,
        num_workers: int,
        seed: int,
    ) -> None:
        super().__init__()
        positive(max_tokens=max_tokens)
        self.source = source
        self.data_dir, self.cache_dir = Path(data_dir), Path(cache_dir)
        self.splits = dict(splits)
        self.tokenizer_settings = TokenizerSettings.of(
            tokenizer, self.TOKENIZER_KINDS, default_tokenizer
        )
        self.max_tokens, self.num_workers, self.seed = max_tokens, num_workers, seed
        self.tokenizer: Tokenizer | None = None
        self.tokenizer_path: Path | None = None
        self.datasets: dict[str, EncodedSplit] = {}

    # -- subclasses -------------------------------------------------------------------------
    def training_texts(self) -> Sequence[str]:
        """The training split's text the tokenizer (and `embeddings.word2vec`) learns from."""
        raise NotImplementedError

    def tokenizer_options(self) -> dict[str, Any]:
        """What the tokenizer's trainer takes besides the settings (part of its cache key)."""
        return {}

    def encode(self, stage: str, tok: Tokenizer) -> EncodedSplit:
        raise NotImplementedError

    def collate_fn(self, stage: str) -> Callable[[list], Any]:
        raise NotImplementedError

    # -- reading ----------------------------------------------------------------------------
    def cache_file(self, *parts: str) -> Path:
        """A file under cache_dir (its folder made), never outside it."""
        path = confined(Path(*parts), self.cache_dir, "data.cache_dir")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def read(self, split: SplitSpec | None, schema: pa.Schema) -> datasets.Dataset:
        """A split's rows, memory-mapped from the Arrow cache (keyed by what the source reads:
        names, sizes, times), read from the source the first time."""
        assert split is not None, "a held-out split is selected from train, not read"
        opened = self.source.open(split, self.data_dir, self.cache_dir)
        key = fingerprint([], source=type(self.source).__name__, **opened.identity)
        return cached_rows(opened.rows(), self.cache_file("rows", f"{key}.arrow"), schema)

    def _load_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            self.tokenizer, self.tokenizer_path = self.tokenizer_settings.load(
                self.training_texts(), self.cache_dir, **self.tokenizer_options()
            )
        return self.tokenizer

    # -- Lightning hooks --------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Read (and download) every split and train the tokenizer: a bad file fails here."""
        self._load_tokenizer()

    def setup(self, stage: str | None = None) -> None:
        """Encode every split once (cached on disk)."""
        disable_progress_bars()
        tok = self._load_tokenizer()
        for name in self.splits:
            if name not in self.datasets:
                self.datasets[name] = self.encode(name, tok)

    @property
    def vocab_size_actual(self) -> int:
        return self._load_tokenizer().get_vocab_size()

    @property
    def special_ids(self) -> dict[str, int]:
        return special_ids(self._load_tokenizer())

    # -- loaders ----------------------------------------------------------------------------
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
        assert isinstance(ds, Dataset)
        if stage == "train":  # resumable mid-epoch (see ResumableLoader)
            return ResumableLoader(ds, progress=self._train_progress, **kwargs)
        return DataLoader(ds, **kwargs)

    def _train_progress(self) -> tuple[int, int]:
        """(epoch, batches trained in it) as the Trainer counts them; (0, 0) without one."""
        trainer = self.trainer
        if trainer is None:
            return 0, 0
        # `batch_progress` is a _BatchProgress (its `current` counts `processed`); Lightning
        # annotates it as its base class.
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        return trainer.current_epoch, progress.processed  # type: ignore[attr-defined]

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
