"""The text-to-text datamodule (translation, summarization): any pair source -> batches.

Multi30k, DialogSum and a user's own corpus (`data=text_pairs`, `data=hf_pairs`) are presets of
this one class with different sources (conf/data/*.yaml; encdec.data.sources), so the same
pairs give the same run whichever way they are named (tests/data/test_pairs.py).

prepare_data (one process): read every split into the Arrow cache (downloading what is missing),
train the tokenizer (cached). setup (every process): encode every split once (cached Arrow).
Training pairs with an empty side or longer than `max_len` subword tokens are dropped (the count
is logged); validation / test sources are truncated to `max_len`, never dropped, so metrics are
always computed on the whole split. A missing val / test split can be a seeded held-out slice of
train (`held_out_size`); val / test examples may have several references (a references field,
or rows grouped by source with `group_references`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import datasets
import numpy as np
from tokenizers import Tokenizer

from encdec.data.arrow import TextColumns, row_schema
from encdec.data.base import BucketedDataModule, Source, positive
from encdec.data.batching import Batch, Collator, PairDataset, list_lengths
from encdec.data.copy_vocab import extend_ids
from encdec.data.sources import SplitSpec
from encdec.data.tokenization import TokenizerSettings, fingerprint, special_ids
from encdec.errors import ConfigError, DataError
from encdec.files import file_lock

log = logging.getLogger(__name__)

STAGES = ("train", "val", "test")
#: DialogSum's speaker tags and its turn break: kept whole by the tokenizer (who said what).
DIALOGSUM_TOKENS = [f"#Person{i}#" for i in range(1, 8)] + ["#Person#", "#PersonN#", "\n"]
#: Named sets of tokens the tokenizer keeps whole (`data.added_tokens=dialogsum`).
TOKEN_SETS = {"dialogsum": DIALOGSUM_TOKENS}


def token_list(added_tokens: str | Iterable[str] | None) -> list[str]:
    if added_tokens is None:
        return []
    if isinstance(added_tokens, str):
        if added_tokens not in TOKEN_SETS:
            raise ConfigError(
                f"data.added_tokens={added_tokens!r}: not a known set ({', '.join(TOKEN_SETS)}); "
                f"give a list instead, e.g. 'data.added_tokens=[<sep>,#Person1#]'."
            )
        return list(TOKEN_SETS[added_tokens])
    return [str(t) for t in added_tokens]


def group_references(
    documents: list[str], summaries: list[str]
) -> tuple[list[str], list[list[str]]]:
    """Rows with one reference each -> one row per distinct document with all its references,
    in the order of first appearance (e.g. DialogSum's hub copy lists its test set so)."""
    grouped: dict[str, list[str]] = {}
    for doc, summary in zip(documents, summaries, strict=True):
        grouped.setdefault(doc, []).append(summary)
    return list(grouped), list(grouped.values())


class Seq2SeqDataModule(BucketedDataModule):
    """Source and target text of every split (`data.source`) -> bucketed batches of token ids.

    Options for longer inputs (summarization): `max_src_len` truncates every source and
    `max_tgt_len` every training target before the `max_len` filter; `added_tokens` are never
    split by the tokenizer (bpe); `copy_oov` gives each example's source-only (<unk>) words
    extended ids V, V+1, ... in source and target, for a pointer-generator to copy.
    """

    TOKENIZER_KINDS = ("bpe", "word")

    def __init__(
        self,
        source: Source,
        data_dir: str,
        splits: Mapping[str, SplitSpec | None] | None = None,
        tokenizer: Mapping[str, Any] | TokenizerSettings | None = None,
        cache_dir: str = ".cache",
        max_tokens: int = 4096,
        max_len: int = 100,
        max_src_len: int | None = None,
        max_tgt_len: int | None = None,
        added_tokens: str | list[str] | None = None,
        group_references: bool = False,
        held_out_size: int | None = None,
        held_out_seed: int = 0,
        limit_train: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        copy_oov: bool = False,
    ) -> None:
        splits = dict(splits or {})
        unknown = sorted(set(splits) - set(STAGES))
        if unknown:
            raise ConfigError(f"data.splits.{unknown[0]}: the splits are {', '.join(STAGES)}.")
        if not splits.get("train"):
            raise ConfigError(
                "data.splits.train is not set: name the training file, e.g. "
                "data.splits.train=corpus/train.tsv (docs/own-data.md)."
            )
        for stage in ("val", "test"):
            if splits.get(stage) is None and held_out_size is None:
                raise ConfigError(
                    f"data.splits.{stage} is not set: name a file (data.splits.{stage}=...), or "
                    f"hold out pairs of the training split (data.held_out_size=1000)."
                )
        positive(max_len=max_len)
        positive(null=True, held_out_size=held_out_size, limit_train=limit_train)
        positive(null=True, max_src_len=max_src_len, max_tgt_len=max_tgt_len)
        super().__init__(
            source,
            data_dir,
            {stage: splits.get(stage) for stage in STAGES},
            tokenizer,
            TokenizerSettings("bpe", 8000, 2),
            cache_dir,
            max_tokens,
            num_workers,
            seed,
        )
        self.added_tokens = token_list(added_tokens)
        self.max_len, self.max_src_len, self.max_tgt_len = max_len, max_src_len, max_tgt_len
        self.group = group_references
        self.held_out_size, self.held_out_seed = held_out_size, held_out_seed
        self.limit_train, self.copy_oov = limit_train, copy_oov
        #: All references of each val/test example, where the corpus has several.
        self.references: dict[str, list[list[str]]] = {}
        self._rows: dict[str, datasets.Dataset] = {}
        self._text: dict[str, datasets.Dataset] = {}

    # -- raw text ---------------------------------------------------------------------------
    def _held_out(self) -> dict[str, datasets.Dataset]:
        """Train without its held-out rows, and the held-out val / test slices (seeded)."""
        rows = self.read(self.splits["train"], row_schema(True))
        wanted = [s for s in ("val", "test") if self.splits[s] is None]
        size = self.held_out_size or 0
        if len(rows) <= size * len(wanted):
            raise DataError(
                f"The training split ({self.splits['train']}) has {len(rows)} pairs, too few to "
                f"hold out {size} for each of {', '.join(wanted)}: lower data.held_out_size or "
                f"name the split's file (data.splits.{wanted[0]}=...)."
            )
        picked = random.Random(self.held_out_seed).sample(range(len(rows)), size * len(wanted))
        out: dict[str, datasets.Dataset] = {}
        for i, stage in enumerate(wanted):
            out[stage] = rows.select(sorted(picked[i * size : (i + 1) * size]))
            log.info(
                "data: %s = %d pairs held out of %s (data.held_out_size=%d, data.held_out_seed=%d)",
                stage,
                size,
                self.splits["train"],
                size,
                self.held_out_seed,
            )
        out["train"] = rows.select(np.setdiff1d(np.arange(len(rows)), picked))  # in file order
        return out

    def rows(self, stage: str) -> datasets.Dataset:
        """A split's rows (columns src, tgt, references), memory-mapped from the Arrow cache."""
        if stage not in self._rows:
            split = self.splits[stage]
            if split is None or (stage == "train" and self.held_out_size):
                self._rows.update(self._held_out())
            else:
                self._rows[stage] = self.read(split, row_schema(True))
        return self._rows[stage]

    def split_text(self, stage: str) -> datasets.Dataset:
        """Source and target texts of one stage, columns `src` and `tgt` (val / test: all the
        references of each example go to `self.references`)."""
        if stage in self._text:
            return self._text[stage]
        rows = self.rows(stage)
        if stage == "train" and self.limit_train and self.limit_train < len(rows):
            rows = rows.select(range(self.limit_train))
        text = rows.select_columns(["src", "tgt"])
        if stage != "train":
            refs = rows["references"][:]
            if any(r is not None for r in refs):
                targets = text["tgt"][:]
                self.references[stage] = [
                    list(r or [t]) for r, t in zip(refs, targets, strict=True)
                ]
            elif self.group:  # one row per reference -> one per source
                src, self.references[stage] = group_references(text["src"][:], text["tgt"][:])
                tgt = [refs[0] for refs in self.references[stage]]
                text = datasets.Dataset.from_dict({"src": src, "tgt": tgt})
        self._text[stage] = text
        return text

    # -- tokenizer --------------------------------------------------------------------------
    def prepare_data(self) -> None:
        for stage in STAGES:
            self.rows(stage)  # read (and download) now: a bad file fails before training
        self._load_tokenizer()

    def training_texts(self) -> TextColumns:
        """Every training source, then every training target (the joint vocabulary's text)."""
        return TextColumns(self.split_text("train"), ("src", "tgt"))

    def tokenizer_options(self) -> dict[str, Any]:
        return {"added_tokens": self.added_tokens} if self.added_tokens else {}

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, stage: str, tok: Tokenizer) -> PairDataset:
        """Tokenize one split once into id columns, cached as Arrow (the text is read and the ids
        written in batches: nothing of the split is held in Python lists)."""
        text = self.split_text(stage)
        limits = {"max_src_len": self.max_src_len, "copy_oov": self.copy_oov}
        if stage == "train":
            limits["max_tgt_len"] = self.max_tgt_len
        key = fingerprint(
            TextColumns(text, ("src", "tgt")), tokenizer=tok.to_str(), stage=stage, **limits
        )
        cache = self.cache_file("datasets", f"{stage}-{key}.arrow")
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
                f"The {stage} split ({self.splits[stage]}) has no usable sentence pairs."
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
