"""LightningDataModule for sequence-to-sequence corpora (Multi30k translation here)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import datasets
from tokenizers import Tokenizer

from encdec.data.base import BucketedDataModule
from encdec.data.batching import Batch, Collator, PairDataset
from encdec.data.sources import DataError, ensure_files, read_parallel
from encdec.data.tokenization import cached_tokenizer, fingerprint, translation_trainer

log = logging.getLogger(__name__)


class TranslationDataModule(BucketedDataModule):
    """Parallel text in `<data_dir>/<split>.<lang>.gz` files -> bucketed batches of token ids.

    prepare_data (one process): download missing files, train the tokenizer (cached).
    setup (every process): load the cached tokenizer and encode every split once.
    Training pairs with an empty side or longer than `max_len` subword tokens are dropped (the
    count is logged); validation / test sources are truncated to `max_len`, never dropped, so
    BLEU is always computed on the whole split.
    """

    def __init__(
        self,
        data_dir: str,
        src_lang: str = "en",
        tgt_lang: str = "de",
        splits: dict[str, str] | None = None,
        file_pattern: str = "{split}.{lang}.gz",
        download_url: str | None = None,
        cache_dir: str = ".cache",
        vocab_size: int = 8000,
        min_frequency: int = 2,
        tokenizer_type: str = "bpe",
        max_tokens: int = 4096,
        max_len: int = 100,
        limit_train: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.splits = dict(splits or {"train": "train", "val": "val", "test": "test_2016_flickr"})
        self.file_pattern = file_pattern
        self.download_url = download_url
        self.cache_dir = Path(cache_dir)
        self.vocab_size, self.min_frequency = vocab_size, min_frequency
        self.tokenizer_type = tokenizer_type
        self.max_tokens, self.max_len = max_tokens, max_len
        self.limit_train = limit_train
        self.num_workers, self.seed = num_workers, seed
        self.tokenizer: Tokenizer | None = None
        self.tokenizer_path: Path | None = None
        self.datasets: dict[str, PairDataset] = {}
        self._text: dict[str, tuple[list[str], list[str]]] = {}

    # -- raw text ---------------------------------------------------------------------------
    def _files(self, stage: str) -> tuple[Path, Path]:
        split = self.splits[stage]
        return tuple(
            self.data_dir / self.file_pattern.format(split=split, lang=lang)
            for lang in (self.src_lang, self.tgt_lang)
        )

    def load_text(self, stage: str) -> tuple[list[str], list[str]]:
        """Source and target sentences of one stage ('train', 'val' or 'test'), read once."""
        if stage not in self._text:
            src, tgt = read_parallel(*self._files(stage))
            if stage == "train" and self.limit_train:
                src, tgt = src[: self.limit_train], tgt[: self.limit_train]
            self._text[stage] = (src, tgt)
        return self._text[stage]

    # -- Lightning hooks ----------------------------------------------------------------------
    def prepare_data(self) -> None:
        if not self.data_dir.is_dir() and not self.download_url:
            raise DataError(
                f"Data folder {self.data_dir} does not exist. Set ENCDEC_DATA_DIR (or "
                f"paths.data_dir=...) to the folder holding the corpus."
            )
        names = [p.name for stage in self.splits for p in self._files(stage)]
        ensure_files(self.data_dir, names, self.download_url)
        self._load_tokenizer()

    def _load_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            src, tgt = self.load_text("train")
            self.tokenizer, self.tokenizer_path = cached_tokenizer(
                self.tokenizer_type,
                translation_trainer(self.tokenizer_type),
                src + tgt,
                self.vocab_size,
                self.min_frequency,
                self.cache_dir,
            )
        return self.tokenizer

    def setup(self, stage: str | None = None) -> None:
        datasets.disable_progress_bars()
        tok = self._load_tokenizer()
        for name in self.splits:
            if name not in self.datasets:
                self.datasets[name] = self._encode(name, tok)

    def _encode(self, stage: str, tok: Tokenizer) -> PairDataset:
        """Tokenize one split once into a `datasets.Dataset` with id columns, cached as Arrow."""
        src, tgt = self.load_text(stage)
        key = fingerprint(src + tgt, tokenizer=tok.to_str(), stage=stage)
        cache = self.cache_dir / "datasets" / f"{stage}-{key}.arrow"
        cache.parent.mkdir(parents=True, exist_ok=True)

        def encode(rows: dict[str, list[str]]) -> dict[str, list[list[int]]]:
            return {
                f"{side}_ids": [
                    e.ids for e in tok.encode_batch(rows[side], add_special_tokens=False)
                ]
                for side in ("src", "tgt")
            }

        ds = datasets.Dataset.from_dict({"src": src, "tgt": tgt}).map(
            encode, batched=True, cache_file_name=str(cache), new_fingerprint=key
        )
        src_ids, tgt_ids = (ds.data.column(c).to_pylist() for c in ("src_ids", "tgt_ids"))
        keep = [i for i in range(len(src)) if src_ids[i] and tgt_ids[i]]
        if stage == "train":
            keep = [i for i in keep if max(len(src_ids[i]), len(tgt_ids[i])) <= self.max_len]
        if len(keep) < len(src):
            log.warning(
                "%s: dropped %d of %d pairs (an empty side, or over max_len=%d tokens)",
                stage,
                len(src) - len(keep),
                len(src),
                self.max_len,
            )
        if not keep:
            raise DataError(
                f"The {stage} split ({self._files(stage)[0]}) has no usable sentence pairs."
            )

        def pick(xs: list) -> list:
            return [xs[i] for i in keep]

        src_ids = [ids[: self.max_len] for ids in pick(src_ids)]  # val/test: truncate, never drop
        return PairDataset(src_ids, pick(tgt_ids), pick(src), pick(tgt))

    def collate_fn(self, stage: str) -> Callable[[list], Batch]:
        ids = self.special_ids
        return Collator(ids["pad"], ids["bos"], ids["eos"])
