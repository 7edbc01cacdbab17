"""SQuAD-style extractive QA encoding: questions about a paragraph, answered by a span of its
words. Token ids, offsets, exact-match features and answer spans (`encode_qa`, shared by the
datamodule encdec.data.qa and by inference), and the batches a reader trains on (`QABatch`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
import torch
from tokenizers import Tokenizer
from torch.utils.data import Dataset

from encdec.data.qa_features import (
    DRQA_FEATURES,
    lemma_exact_match,
    term_frequency,
    word_char_ids,
)
from encdec.errors import ConfigError

#: Passage features besides the word: the word occurs in the question (as written / lower-cased).
FEATURES = ("em_cased", "em_lower")
#: Every feature a reader may be given (`data.features`): those and DrQA's lemma match and
#: normalised term frequency (encdec.data.qa_features).
ALL_FEATURES = (*FEATURES, *DRQA_FEATURES)


def check_features(features: Sequence[str]) -> tuple[str, ...]:
    """The features as a tuple, each known and named once (ConfigError otherwise)."""
    if isinstance(features, str) or not isinstance(features, Sequence):
        features = [features]  # refused below, named
    chosen = tuple(features)
    unknown = [f for f in chosen if not isinstance(f, str) or f not in ALL_FEATURES]
    if unknown or len(set(chosen)) != len(chosen):
        raise ConfigError(
            f"data.features={list(chosen)}: choose each at most once from "
            f"{', '.join(ALL_FEATURES)} (e.g. data.features=[em_cased,em_lower,em_lemma,tf])."
        )
    return chosen


LONG_PASSAGES = ("window", "truncate")


# -- encoding (shared by the DataModule and predict.py) --------------------------------------------
def answer_token_span(
    starts: list[int], ends: list[int], char_start: int, text: str
) -> tuple[int, int]:
    """Token indices (first, last) covering characters [char_start, char_start + len(text)).

    (-1, -1) when the answer covers no token (e.g. it is only whitespace).
    """
    char_end = char_start + len(text)
    first = bisect.bisect_right(ends, char_start)  # first token ending after the answer starts
    last = bisect.bisect_left(starts, char_end) - 1  # last token starting before it ends
    return (first, last) if first <= last else (-1, -1)


def choose_window(
    length: int, span: tuple[int, int], size: int, stride: int, mode: str
) -> int | None:
    """Start of the window of `size` tokens to train on, or None when the answer is not in one.

    mode "truncate": the first `size` tokens only. mode "window": the first of the windows starting
    at 0, stride, 2*stride, ... (the last one flush with the end) that holds the whole answer.
    """
    if length <= size:
        return 0
    first, last = span
    if mode == "truncate":
        candidates = [0]
    else:
        candidates = [*range(0, length - size, stride), length - size]
    return next((w for w in candidates if w <= first and last < w + size), None)


def encode_qa(
    tok: Tokenizer,
    contexts: list[str],
    questions: list[str],
    answers: list[dict[str, list]] | None = None,
    max_passage_len: int | None = None,
    window_stride: int = 128,
    long_passages: str = "truncate",
    max_question_len: int = 64,
    train: bool = False,
    features: Sequence[str] = FEATURES,
    word_chars: int = 0,
) -> dict[str, list]:
    """Token ids, character offsets, passage `features` (ALL_FEATURES) and answer spans of each
    question; with `word_chars`, each passage and question word's first `word_chars` character
    ids too (`passage_chars` / `question_chars`: flat, `word_chars` values a token,
    encdec.data.qa_features.word_char_ids).

    Equal contexts (all questions about one paragraph) are tokenized once. With
    `max_passage_len`, longer passages are cut: for training to one window holding the first
    answer (see `choose_window`; `keep` is False when there is none), for evaluation to their
    start (always kept: the question is still answered, from the part kept). `start`/`end` are
    the first answer's token span in the kept passage, -1 when it is not in it.
    """
    encoded: dict[str, Any] = {}
    for c in set(contexts):
        e = tok.encode(c, add_special_tokens=False)
        encoded[c] = (e.ids, [o[0] for o in e.offsets], [o[1] for o in e.offsets])
    features = check_features(features)
    chars = ("passage_chars", "question_chars") if word_chars else ()
    out: dict[str, list] = {
        k: []
        for k in ("passage_ids", "tok_start", "tok_end", "question_ids", *features, *chars)
        + ("start", "end", "window", "keep")
    }
    frequency: dict[str, list[float]] = {}  # a passage's term frequencies, computed once
    for j, q in enumerate(tok.encode_batch(questions, add_special_tokens=False)):
        ids, starts, ends = encoded[contexts[j]]
        words = [contexts[j][s:e] for s, e in zip(starts, ends, strict=True)]
        q_words = {questions[j][s:e] for s, e in q.offsets}
        q_lower = {w.lower() for w in q_words}
        column: dict[str, Any] = {}  # each chosen feature over the whole passage
        if "em_cased" in features:
            column["em_cased"] = [int(x in q_words) for x in words]
        if "em_lower" in features:
            column["em_lower"] = [int(x.lower() in q_lower) for x in words]
        if "em_lemma" in features:
            column["em_lemma"] = lemma_exact_match(words, q_words)
        if "tf" in features:
            if contexts[j] not in frequency:
                frequency[contexts[j]] = term_frequency(words)
            column["tf"] = frequency[contexts[j]]
        span = (-1, -1)
        if answers is not None and answers[j]["text"]:
            span = answer_token_span(
                starts, ends, answers[j]["answer_start"][0], answers[j]["text"][0]
            )
        w, keep = 0, span[0] >= 0 or not train
        if train and max_passage_len is not None and len(ids) > max_passage_len:
            window = choose_window(len(ids), span, max_passage_len, window_stride, long_passages)
            keep = keep and window is not None
            w = window or 0
        stop = w + (max_passage_len or len(ids))
        inside = span[0] >= w and span[1] < stop
        out["passage_ids"].append(ids[w:stop])
        out["tok_start"].append(starts[w:stop])
        out["tok_end"].append(ends[w:stop])
        out["question_ids"].append(q.ids[:max_question_len])
        for name in features:
            out[name].append(column[name][w:stop])
        if word_chars:  # as bytes: UTF-8 has no byte above 0xF4, so every id fits
            q_kept = [questions[j][s:e] for s, e in q.offsets[:max_question_len]]
            for name, kept in (("passage_chars", words[w:stop]), ("question_chars", q_kept)):
                out[name].append(np.asarray(word_char_ids(kept, word_chars), dtype=np.uint8))
        out["start"].append(span[0] - w if inside else -1)
        out["end"].append(span[1] - w if inside else -1)
        out["window"].append(w)
        out["keep"].append(keep)
    return out


# -- batches --------------------------------------------------------------------------------------
@dataclass
class QABatch:
    """Padded questions and passages. passage (B, P), question (B, Q), features (B, P, F),
    start/end (B,) gold token indices in the passage (-1: not in it), index (B,) example ids.

    The text fields (only filled for evaluation) map predicted spans back to answers:
    offsets[b] (P_b, 2) character span of each passage token in contexts[b].
    passage_chars (B, P, W) / question_chars (B, Q, W): each word's character ids (0: padding),
    for a reader with a character-level word encoder (`data.word_chars` = W), else None.
    """

    passage: torch.Tensor
    passage_lengths: torch.Tensor
    question: torch.Tensor
    question_lengths: torch.Tensor
    features: torch.Tensor
    start: torch.Tensor
    end: torch.Tensor
    index: torch.Tensor
    qids: list[str]
    questions: list[str]
    contexts: list[str]
    offsets: list[np.ndarray]
    answers: list[dict[str, list]]
    passage_chars: torch.Tensor | None = None
    question_chars: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.passage.size(0)


def char_batch(rows: Sequence[Any], length: int, word_chars: int) -> torch.Tensor:
    """Each row's flat character ids (a list or array, `word_chars` a word) -> (B, length,
    word_chars), zeros after the row's words: the characters of a batch `length` tokens wide."""
    out = torch.zeros(len(rows), length, word_chars, dtype=torch.long)
    for b, flat in enumerate(rows):
        words = torch.as_tensor(np.asarray(flat, dtype=np.int64)).view(-1, word_chars)
        out[b, : words.size(0)] = words
    return out


class Ragged:
    """A list-of-lists Arrow column as one flat numpy array + row offsets (no Python objects)."""

    def __init__(self, column: Any, dtype: type = np.int32) -> None:
        arr = column.combine_chunks() if hasattr(column, "combine_chunks") else column
        self.values: np.ndarray = np.asarray(arr.values.to_numpy(zero_copy_only=False), dtype=dtype)
        self.bounds = np.asarray(arr.offsets.to_numpy(), dtype=np.int64)
        if arr.offset:  # a sliced array: rebase
            self.bounds = self.bounds[arr.offset : arr.offset + len(arr) + 1]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.bounds[i] : self.bounds[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.bounds)


class QADataset(Dataset):
    """One split's encoded questions; `rows` are the kept questions (those with a usable answer
    for training, all of them for evaluation). Items are row numbers; `collate` builds the batch.
    """

    def __init__(
        self,
        ds: datasets.Dataset,
        with_text: bool,
        pad_id: int,
        features: Sequence[str] = FEATURES,
        word_chars: int = 0,
    ) -> None:
        table = ds.data.table if hasattr(ds.data, "table") else ds.data
        self.pad_id, self.with_text = pad_id, with_text
        self.passage, self.question = Ragged(table["passage_ids"]), Ragged(table["question_ids"])
        self.features = [Ragged(table[f], np.float32) for f in check_features(features)]
        self.word_chars = word_chars
        if word_chars:
            self.chars = [Ragged(table[c], np.uint8) for c in ("passage_chars", "question_chars")]
        self.start = table["start"].to_numpy()
        self.end = table["end"].to_numpy()
        self.rows = np.flatnonzero(table["keep"].to_numpy(zero_copy_only=False))
        self.table = table
        if with_text:
            self.tok_start, self.tok_end = Ragged(table["tok_start"]), Ragged(table["tok_end"])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> int:
        return int(self.rows[i])

    def lengths(self) -> list[int]:
        """Batch cost of each item: its passage length (the longest sequence by far)."""
        return self.passage.lengths()[self.rows].tolist()

    def text(self, column: str, rows: list[int]) -> list:
        return self.table[column].take(rows).to_pylist()

    def collate(self, rows: list[int]) -> QABatch:
        p_len = torch.tensor([len(self.passage[r]) for r in rows])
        q_len = torch.tensor([len(self.question[r]) for r in rows])
        passage = torch.full((len(rows), int(p_len.max())), self.pad_id, dtype=torch.long)
        question = torch.full((len(rows), int(q_len.max())), self.pad_id, dtype=torch.long)
        features = torch.zeros(len(rows), passage.size(1), len(self.features))
        for b, r in enumerate(rows):
            passage[b, : p_len[b]] = torch.from_numpy(self.passage[r])
            question[b, : q_len[b]] = torch.from_numpy(self.question[r])
            for f, column in enumerate(self.features):
                features[b, : p_len[b], f] = torch.from_numpy(column[r])
        text: dict[str, list] = {k: [] for k in ("id", "question", "context", "answers")}
        offsets: list[np.ndarray] = []
        if self.with_text:
            text = {k: self.text(k, rows) for k in text}
            offsets = [np.stack([self.tok_start[r], self.tok_end[r]], 1) for r in rows]
        chars: list[torch.Tensor | None] = [None, None]
        if self.word_chars:
            chars = [
                char_batch([column[r] for r in rows], width.size(1), self.word_chars)
                for column, width in zip(self.chars, (passage, question), strict=True)
            ]
        return QABatch(
            passage=passage,
            passage_lengths=p_len,
            question=question,
            question_lengths=q_len,
            features=features,
            start=torch.from_numpy(self.start[rows]).long(),
            end=torch.from_numpy(self.end[rows]).long(),
            index=torch.tensor(rows),
            qids=text["id"],
            questions=text["question"],
            contexts=text["context"],
            offsets=offsets,
            answers=text["answers"],
            passage_chars=chars[0],
            question_chars=chars[1],
        )
