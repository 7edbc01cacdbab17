"""LightningDataModules for sequence-to-sequence corpora: Multi30k translation, DialogSum."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import datasets
import numpy as np
from tokenizers import Tokenizer

from encdec.data.arrow import TextColumns
from encdec.data.base import BucketedDataModule
from encdec.data.batching import Batch, Collator, PairDataset, list_lengths
from encdec.data.copy_vocab import extend_ids
from encdec.data.sources import ensure_files, read_parallel
from encdec.data.tokenization import (
    cached_tokenizer,
    fingerprint,
    special_ids,
    translation_trainer,
)
from encdec.errors import ConfigError, DataError
from encdec.files import file_lock

log = logging.getLogger(__name__)


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


class TranslationDataModule(BucketedDataModule):
    """Parallel text in `<data_dir>/<split>.<lang>.gz` files -> bucketed batches of token ids.

    prepare_data (one process): download missing files, train the tokenizer (cached).
    setup (every process): load the cached tokenizer and encode every split once.
    Training pairs with an empty side or longer than `max_len` subword tokens are dropped (the
    count is logged); validation / test sources are truncated to `max_len`, never dropped, so
    BLEU is always computed on the whole split.

    Options for longer inputs (summarization): `max_src_len` truncates every source and
    `max_tgt_len` every training target before that filter; `added_tokens` are never split by
    the tokenizer; `copy_oov` gives each example's source-only (<unk>) words extended ids
    V, V+1, ... in source and target, for a pointer-generator to copy.
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
        max_src_len: int | None = None,
        max_tgt_len: int | None = None,
        added_tokens: list[str] | None = None,
        copy_oov: bool = False,
    ) -> None:
        super().__init__()
        positive(vocab_size=vocab_size, max_tokens=max_tokens, max_len=max_len)
        positive(
            limit_train=limit_train, max_src_len=max_src_len, max_tgt_len=max_tgt_len, null=True
        )
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
        self.max_src_len, self.max_tgt_len = max_src_len, max_tgt_len
        self.added_tokens = list(added_tokens or [])
        self.copy_oov = copy_oov
        #: All references of each val/test example, where the corpus has several.
        self.references: dict[str, list[list[str]]] = {}
        self.tokenizer: Tokenizer | None = None
        self.tokenizer_path: Path | None = None
        self.datasets: dict[str, PairDataset] = {}
        self._text: dict[str, datasets.Dataset] = {}

    # -- raw text ---------------------------------------------------------------------------
    def _files(self, stage: str) -> tuple[Path, Path]:
        split = self.splits[stage]
        return tuple(
            self.data_dir / self.file_pattern.format(split=split, lang=lang)
            for lang in (self.src_lang, self.tgt_lang)
        )

    def split_text(self, stage: str) -> datasets.Dataset:
        """Source and target sentences of one stage ('train', 'val' or 'test'), read once: a
        Dataset with columns `src` and `tgt` (subclasses may add `references`)."""
        if stage not in self._text:
            src, tgt = read_parallel(*self._files(stage))
            text = datasets.Dataset.from_dict({"src": src, "tgt": tgt})
            self._text[stage] = self._limited(stage, text)
        return self._text[stage]

    def _limited(self, stage: str, text: datasets.Dataset) -> datasets.Dataset:
        """The first `limit_train` rows of the training split."""
        if stage == "train" and self.limit_train and self.limit_train < len(text):
            return text.select(range(self.limit_train))
        return text

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

    def training_texts(self) -> TextColumns:
        """Every training source, then every training target (the joint vocabulary's text)."""
        return TextColumns(self.split_text("train"), ("src", "tgt"))

    def _load_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            train, settings = translation_trainer(self.tokenizer_type), {}
            if self.added_tokens:  # speaker tags etc.: kept whole (BPE only)
                if self.tokenizer_type != "bpe":
                    raise ValueError(
                        f"data.added_tokens need tokenizer=bpe, not {self.tokenizer_type!r}."
                    )
                train = functools.partial(train, added_tokens=self.added_tokens)
                settings["added_tokens"] = self.added_tokens
            self.tokenizer, self.tokenizer_path = cached_tokenizer(
                self.tokenizer_type,
                train,
                self.training_texts(),
                self.vocab_size,
                self.min_frequency,
                self.cache_dir,
                **settings,
            )
        return self.tokenizer

    def _encode(self, stage: str, tok: Tokenizer) -> PairDataset:
        """Tokenize one split once into id columns, cached as Arrow (the text is read and the ids
        written in batches: nothing of the split is held in Python lists)."""
        text = self.split_text(stage)
        limits = {"max_src_len": self.max_src_len, "copy_oov": self.copy_oov}
        if stage == "train":
            limits["max_tgt_len"] = self.max_tgt_len
        key = fingerprint(
            TextColumns(text, ("src", "tgt")), tokenizer=tok.to_str(), stage=stage, **limits
        )
        cache = self.cache_dir / "datasets" / f"{stage}-{key}.arrow"
        cache.parent.mkdir(parents=True, exist_ok=True)
        unk, vocab = special_ids(tok)["unk"], tok.get_vocab_size()
        max_tgt = self.max_tgt_len if stage == "train" else None

        def encode(rows: dict[str, list[str]]) -> dict[str, list]:
            srcs = tok.encode_batch(rows["src"], add_special_tokens=False)
            tgts = tok.encode_batch(rows["tgt"], add_special_tokens=False)
            out: dict[str, list] = {"src_ids": [], "tgt_ids": [], "oov": []}
            for text, s, t, t_text in zip(rows["src"], srcs, tgts, rows["tgt"], strict=True):
                s_ids, t_ids = s.ids[: self.max_src_len], t.ids[:max_tgt]
                oov: list[str] = []
                if self.copy_oov:
                    s_ids, oov = extend_ids(s_ids, s.offsets, text, unk, vocab, [])
                    t_ids, _ = extend_ids(t_ids, t.offsets, t_text, unk, vocab, oov, grow=False)
                out["src_ids"].append(s_ids)
                out["tgt_ids"].append(t_ids)
                out["oov"].append(oov)
            return out

        with file_lock(cache):  # one process encodes a split (DDP ranks); the others load it
            ds = text.map(encode, batched=True, cache_file_name=str(cache), new_fingerprint=key)
        src_len, tgt_len = list_lengths(ds, "src_ids"), list_lengths(ds, "tgt_ids")
        keep = (src_len > 0) & (tgt_len > 0)
        if stage == "train":
            keep &= np.maximum(src_len, tgt_len) <= self.max_len
        kept = np.flatnonzero(keep)
        if len(kept) < len(ds):
            log.warning(
                "%s: dropped %d of %d pairs (an empty side, or over max_len=%d tokens)",
                stage,
                len(ds) - len(kept),
                len(ds),
                self.max_len,
            )
            ds = ds.select(kept)
        if not len(kept):
            raise DataError(
                f"The {stage} split ({self._files(stage)[0]}) has no usable sentence pairs."
            )
        refs = self.references.get(stage)
        return PairDataset(
            ds,
            max_src_len=self.max_len,  # val/test: truncate, never drop
            references=[refs[i] for i in kept] if refs is not None else None,
            with_oov=self.copy_oov,
        )

    def collate_fn(self, stage: str) -> Callable[[list], Batch]:
        ids = self.special_ids
        extended = (self.vocab_size_actual, ids["unk"]) if self.copy_oov else (None, None)
        return Collator(ids["pad"], ids["bos"], ids["eos"], *extended)


#: DialogSum's speaker tags and its turn break: kept whole by the tokenizer (who said what).
DIALOGSUM_TOKENS = [f"#Person{i}#" for i in range(1, 8)] + ["#Person#", "#PersonN#", "\n"]


def group_references(
    documents: list[str], summaries: list[str]
) -> tuple[list[str], list[list[str]]]:
    """Rows with one reference each -> one row per distinct document with all its references.

    The hub copy of DialogSum lists its test set as one row per (dialogue, reference); the order
    of first appearance is kept.
    """
    grouped: dict[str, list[str]] = {}
    for doc, summary in zip(documents, summaries, strict=True):
        grouped.setdefault(doc, []).append(summary)
    return list(grouped), list(grouped.values())


class DialogSumDataModule(TranslationDataModule):
    """DialogSum (dialogue -> summary) from JSON Lines files, or from the Hugging Face hub.

    Local files `<data_dir>/<split>.jsonl` hold `document` and `summary`; test rows may also
    hold `references` (a list). With `hub_name` (e.g. knkarthick/dialogsum, whose columns are
    `dialogue` / `summary` (`hub_document_field` / `hub_summary_field`) and whose test split has
    one row per reference) the splits are loaded from the hub when the local files are missing. Validation and test rows with the same
    document are grouped, so every dialogue is scored once against all its references.
    """

    def __init__(
        self,
        data_dir: str,
        splits: dict[str, str] | None = None,
        file_pattern: str = "{split}.jsonl",
        hub_name: str | None = None,
        document_field: str = "document",
        summary_field: str = "summary",
        references_field: str = "references",
        hub_document_field: str = "dialogue",
        hub_summary_field: str = "summary",
        added_tokens: list[str] | None = None,
        max_len: int = 100_000,
        **kwargs,
    ) -> None:
        super().__init__(
            data_dir,
            splits=splits or {"train": "train", "val": "validation", "test": "test"},
            file_pattern=file_pattern,
            added_tokens=DIALOGSUM_TOKENS if added_tokens is None else added_tokens,
            max_len=max_len,
            **kwargs,
        )
        self.hub_name = hub_name
        self.fields = (document_field, summary_field, references_field)
        self.hub_fields = (hub_document_field, hub_summary_field, references_field)

    def _files(self, stage: str) -> tuple[Path]:
        return (self.data_dir / self.file_pattern.format(split=self.splits[stage]),)

    def prepare_data(self) -> None:
        missing = [str(p) for stage in self.splits for p in self._files(stage) if not p.is_file()]
        if missing and not self.hub_name:
            raise DataError(
                f"Missing DialogSum files: {', '.join(missing)}. Set ENCDEC_DATA_DIR (or "
                f"paths.data_dir=...) to the folder holding dialogsum/, or set "
                f"data.hub_name=knkarthick/dialogsum to load it from the Hugging Face hub."
            )
        self._load_tokenizer()

    def _rows(self, stage: str) -> tuple[datasets.Dataset, str | None]:
        """The split's rows, and the hub dataset they came from (None: the local file)."""
        (path,) = self._files(stage)
        cache = str(self.cache_dir / "hf")
        datasets.disable_progress_bars()
        if path.is_file():
            return datasets.Dataset.from_json(str(path), cache_dir=cache), None
        log.info("%s not found: loading split %r of %s", path, self.splits[stage], self.hub_name)
        try:
            rows = datasets.load_dataset(self.hub_name, split=self.splits[stage], cache_dir=cache)
        except (ValueError, ConnectionError, FileNotFoundError, OSError) as err:
            raise DataError(
                f"{path} is missing and the hub copy {self.hub_name} (split "
                f"{self.splits[stage]!r}) could not be loaded ({err}). Put the DialogSum files in "
                f"{self.data_dir} (ENCDEC_DATA_DIR / paths.data_dir) or check the network."
            ) from None
        return rows, self.hub_name

    def split_text(self, stage: str) -> datasets.Dataset:
        if stage in self._text:
            return self._text[stage]
        rows, hub = self._rows(stage)
        doc_field, sum_field, refs_field = self.hub_fields if hub else self.fields
        prefix = "hub_" if hub else ""
        for field in (doc_field, sum_field):
            if field not in rows.column_names:
                raise DataError(
                    f"{hub or self._files(stage)[0]} ({stage}) has no {field!r} field (it has "
                    f"{rows.column_names}); set data.{prefix}document_field / "
                    f"data.{prefix}summary_field."
                )
        if not len(rows):
            raise DataError(f"The {stage} split ({self._files(stage)[0]}) is empty.")
        if stage == "train":
            text = rows.select_columns([doc_field, sum_field])
            text = self._limited(stage, text.rename_columns({doc_field: "src", sum_field: "tgt"}))
        else:
            docs, summaries = rows[doc_field][:], rows[sum_field][:]
            if refs_field in rows.column_names:  # local layout: one row, a list of references
                self.references[stage] = [list(r) for r in rows[refs_field]]
            else:  # hub layout: one row per reference
                docs, self.references[stage] = group_references(docs, summaries)
                summaries = [refs[0] for refs in self.references[stage]]
            text = datasets.Dataset.from_dict({"src": docs, "tgt": summaries})
        self._text[stage] = text
        return text
