"""The retrieval datamodule: SQuAD-style question files -> question -> paragraph pairs -> batches
for a dual encoder (task=retrieval).

Any question source of the data layer (encdec.data.sources: QAFiles, Hub) gives rows in the hub's
`squad` layout; a split becomes a `RetrievalSet`: its questions and the distinct paragraphs they
were written on (told apart by their text, numbered in order of first appearance), each question
pointing at its own. Measured on the shared copy: train 87,599 questions over 18,891 paragraphs;
dev 10,570 over 2,067; train and dev share none (20,958 together).

Tokenizer: lower-cased words (`lower_word`, the QA data's), so a retriever and a QA reader
trained on SQuAD read the same tokens (an encoder carries over between them) and rare words
of passages and questions meet as whole words, which a dense retriever trained from scratch on
SQuAD alone needs more than subword coverage.

Batches (`RetrievalBatch`):
- training: B questions, their B paragraphs (row i answers question i) and, with
  `hard_negatives=bm25`, B more rows: each question's best-ranked wrong training paragraph under
  BM25 (encdec.retrieval.bm25), shared by the whole batch as extra negatives. `passage_ids`
  says which paragraph each row is, so two questions of one paragraph do not count each other's
  row as a negative.
- validation / test: every question of the split and every distinct paragraph of those
  questions (with `limit_eval`, of the first questions only), in batches that hold questions,
  paragraphs or both; the task encodes them all and ranks the whole collection for each question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch.utils.data import Dataset

from encdec.data.arrow import QA_SCHEMA
from encdec.data.base import BucketedDataModule, Source, positive
from encdec.data.sources import SplitSpec
from encdec.data.tokenization import TokenizerSettings, fingerprint, special_ids
from encdec.errors import ConfigError, DataError
from encdec.retrieval.bm25 import BM25Retriever

log = logging.getLogger(__name__)

HARD_NEGATIVES = ("none", "bm25")


# -- a split as a retrieval set ---------------------------------------------------------------
@dataclass(frozen=True)
class RetrievalSet:
    """Questions and the passage collection they are asked over.

    question_ids, questions: (Q,); gold: (Q,) int64, the number of each question's paragraph in
    `passages`; passages, titles: (N,) distinct paragraphs and their articles' titles.
    """

    question_ids: list[str]
    questions: list[str]
    gold: np.ndarray
    passages: list[str]
    titles: list[str]

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]], where: str) -> RetrievalSet:
        """Rows (id, title, context, question, ...) in the `squad` layout -> the set."""
        number: dict[str, int] = {}
        question_ids: list[str] = []
        questions: list[str] = []
        gold: list[int] = []
        passages: list[str] = []
        titles: list[str] = []
        for qid, title, context, question, *_ in rows:
            if context not in number:
                number[context] = len(passages)
                passages.append(context)
                titles.append(title)
            question_ids.append(qid)
            questions.append(question)
            gold.append(number[context])
        if not questions:
            raise DataError(f"{where} holds no questions: give a SQuAD-style question file.")
        return cls(question_ids, questions, np.asarray(gold, np.int64), passages, titles)

    def with_passages(self, other: RetrievalSet) -> RetrievalSet:
        """The same questions over a larger collection: these passages, then other's not already
        here (questions' gold numbers unchanged)."""
        number = {p: i for i, p in enumerate(self.passages)}
        passages, titles = list(self.passages), list(self.titles)
        for text, title in zip(other.passages, other.titles, strict=True):
            if text not in number:
                number[text] = len(passages)
                passages.append(text)
                titles.append(title)
        return RetrievalSet(self.question_ids, self.questions, self.gold, passages, titles)


def read_retrieval_set(
    source: Source, split: SplitSpec, data_dir: str | Path, cache_dir: str | Path = ".cache"
) -> RetrievalSet:
    """One split of a question source as a retrieval set, read straight from the source (no
    Arrow cache: for benchmarks and scripts; the datamodule reads through its cache)."""
    opened = source.open(split, Path(data_dir), Path(cache_dir))
    return RetrievalSet.from_rows(opened.rows(), opened.where)


# -- batches ----------------------------------------------------------------------------------
@dataclass
class RetrievalBatch:
    """question (B, Q) ids, question_lengths (B,), question_index (B,) question numbers in the
    split, gold (B,) each question's paragraph number; passage (P, T), passage_lengths (P,),
    passage_ids (P,) paragraph numbers. Training: P >= B, row i of passage answers question i.
    Evaluation: either part may be empty (B or P = 0)."""

    question: torch.Tensor
    question_lengths: torch.Tensor
    question_index: torch.Tensor
    gold: torch.Tensor
    passage: torch.Tensor
    passage_lengths: torch.Tensor
    passage_ids: torch.Tensor

    def __len__(self) -> int:
        return self.question.size(0)


def pad(rows: Sequence[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id arrays -> (N, L) padded ids and (N,) lengths (N may be 0)."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    out = torch.full((len(rows), int(lengths.max()) if len(rows) else 0), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.from_numpy(r.astype(np.int64))
    return out, lengths


def encode_texts(
    tok: Tokenizer, texts: Sequence[str], max_len: int, unk_id: int
) -> list[np.ndarray]:
    """Token ids of each text, cut to `max_len`; an empty text is one <unk> (never length 0)."""
    encoded = tok.encode_batch(list(texts), add_special_tokens=False)
    return [np.asarray(e.ids[:max_len] or [unk_id], dtype=np.int32) for e in encoded]


class RetrievalSplit(Dataset):
    """One encoded split: the set, its questions' and paragraphs' token ids, and (training)
    each question's hard negative paragraph (-1: none)."""

    def __init__(
        self,
        pairs: RetrievalSet,
        questions: list[np.ndarray],
        passages: list[np.ndarray],
        pad_id: int,
        train: bool,
        negatives: np.ndarray | None = None,
    ) -> None:
        self.pairs, self.questions, self.passages = pairs, questions, passages
        self.pad_id, self.train, self.negatives = pad_id, train, negatives

    def __len__(self) -> int:
        """Training: the questions; evaluation: the questions, then the paragraphs."""
        return len(self.questions) + (0 if self.train else len(self.passages))

    def __getitem__(self, i: int) -> int:
        return i

    def lengths(self) -> list[int]:
        """Batch cost of each item: its (gold) paragraph's length (questions are short), or
        the question's or paragraph's own length at evaluation."""
        if self.train:
            return [len(self.passages[g]) for g in self.pairs.gold]
        return [len(q) for q in self.questions] + [len(p) for p in self.passages]

    def collate(self, items: list[int]) -> RetrievalBatch:
        count = len(self.questions)
        asked = [i for i in items if i < count]
        if self.train:
            ids = [int(self.pairs.gold[i]) for i in asked]
            if self.negatives is not None:
                ids += [int(n) for n in self.negatives[asked] if n >= 0]
        else:
            ids = [i - count for i in items if i >= count]
        question, question_lengths = pad([self.questions[i] for i in asked], self.pad_id)
        passage, passage_lengths = pad([self.passages[p] for p in ids], self.pad_id)
        return RetrievalBatch(
            question=question,
            question_lengths=question_lengths,
            question_index=torch.tensor(asked, dtype=torch.long),
            gold=torch.from_numpy(self.pairs.gold[asked]).long(),
            passage=passage,
            passage_lengths=passage_lengths,
            passage_ids=torch.tensor(ids, dtype=torch.long),
        )


def bm25_negatives(pairs: RetrievalSet, depth: int = 2) -> np.ndarray:
    """(Q,) each question's best-ranked wrong paragraph under BM25 over the set's own
    paragraphs (-1 where BM25 ranks none: a collection of one paragraph)."""
    ranking = BM25Retriever(pairs.passages).search(pairs.questions, depth, threads=1)
    wrong = ranking.ids != pairs.gold[:, None]  # (Q, depth)
    first = wrong.argmax(axis=1)
    found = wrong[np.arange(len(first)), first]
    return np.where(found, ranking.ids[np.arange(len(first)), first], -1).astype(np.int64)


class RetrievalDataModule(BucketedDataModule):
    """Questions of each split (`data.source`; test defaults to val's split) -> retrieval
    batches (see the module's docstring). Texts longer than `max_passage_len` /
    `max_question_len` tokens are cut to their start; `max_tokens` is the budget of padded
    (gold) paragraph tokens per batch, so it sets how many in-batch negatives each question
    sees; `hard_negatives`: none | bm25."""

    TOKENIZER_KINDS = ("lower_word",)

    def __init__(
        self,
        source: Source,
        data_dir: str,
        splits: Mapping[str, SplitSpec | None] | None = None,
        tokenizer: Mapping[str, Any] | TokenizerSettings | None = None,
        cache_dir: str = ".cache",
        max_tokens: int = 8000,
        max_passage_len: int = 200,
        max_question_len: int = 48,
        hard_negatives: str = "none",
        limit_train: int | None = None,
        limit_eval: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        splits = dict(splits or {})
        missing = [stage for stage in ("train", "val") if not splits.get(stage)]
        if missing:
            raise ConfigError(
                f"data.splits.{missing[0]} is not set: name the {missing[0]} split's file "
                f"(data.splits.{missing[0]}=<path or URL>); data.splits.test defaults to val's."
            )
        if hard_negatives not in HARD_NEGATIVES:
            raise ConfigError(
                f"data.hard_negatives={hard_negatives!r}: choose one of "
                f"{', '.join(HARD_NEGATIVES)} (bm25: each question's best wrong paragraph)."
            )
        positive(max_passage_len=max_passage_len, max_question_len=max_question_len)
        positive(null=True, limit_train=limit_train, limit_eval=limit_eval)
        splits["test"] = splits.get("test") or splits["val"]
        super().__init__(
            source,
            data_dir,
            {stage: splits[stage] for stage in ("train", "val", "test")},
            tokenizer,
            TokenizerSettings("lower_word", 30000, 1),
            cache_dir,
            max_tokens,
            num_workers,
            seed,
        )
        self.max_passage_len, self.max_question_len = max_passage_len, max_question_len
        self.hard_negatives = hard_negatives
        self.limit_train, self.limit_eval = limit_train, limit_eval
        self._sets: dict[str, RetrievalSet] = {}

    def retrieval_set(self, stage: str) -> RetrievalSet:
        """A stage's questions (the first `limit_train` / `limit_eval`) over their paragraphs."""
        if stage not in self._sets:
            ds = self.read(self.splits[stage], QA_SCHEMA)
            limit = self.limit_train if stage == "train" else self.limit_eval
            if limit:
                ds = ds.select(range(min(limit, len(ds))))
            columns = [
                ds.data.column(c).to_pylist() for c in ("id", "title", "context", "question")
            ]
            self._sets[stage] = RetrievalSet.from_rows(
                zip(*columns, strict=True), str(self.splits[stage])
            )
        return self._sets[stage]

    def prepare_data(self) -> None:
        for stage in self.splits:
            self.retrieval_set(stage)  # read (and download) now: a bad file fails before training
        self._load_tokenizer()

    def training_texts(self) -> list[str]:
        """Each training paragraph once, then every training question."""
        train = self.retrieval_set("train")
        return [*train.passages, *train.questions]

    def _negatives(self, pairs: RetrievalSet) -> np.ndarray:
        """BM25 hard negatives of the training set, computed once and cached by content."""
        key = fingerprint([*pairs.passages, *pairs.questions], hard_negatives="bm25")
        cache = self.cache_file("retrieval", f"bm25-negatives-{key}.npy")
        if cache.is_file():
            return np.load(cache, allow_pickle=False)
        log.info("BM25 hard negatives for %d training questions", len(pairs.questions))
        negatives = bm25_negatives(pairs)
        np.save(cache, negatives, allow_pickle=False)
        return negatives

    def encode(self, stage: str, tok: Tokenizer) -> RetrievalSplit:
        for other, done in self.datasets.items():  # a test split that is val's: val's encoding
            if "train" not in (stage, other) and self.splits[other] == self.splits[stage]:
                assert isinstance(done, RetrievalSplit)
                return done
        pairs = self.retrieval_set(stage)
        ids = special_ids(tok)
        questions = encode_texts(tok, pairs.questions, self.max_question_len, ids["unk"])
        passages = encode_texts(tok, pairs.passages, self.max_passage_len, ids["unk"])
        train = stage == "train"
        negatives = self._negatives(pairs) if train and self.hard_negatives == "bm25" else None
        return RetrievalSplit(pairs, questions, passages, ids["pad"], train, negatives)

    def collate_fn(self, stage: str) -> Callable[[list[int]], RetrievalBatch]:
        dataset = self.datasets[stage]
        assert isinstance(dataset, RetrievalSplit)
        return dataset.collate
