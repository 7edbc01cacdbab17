"""Recall@k and mean reciprocal rank of a ranking, for questions with one right passage each
(SQuAD: the paragraph the question was written on).

- recall@k: the share of questions whose right passage is among their first k.
- MRR: the mean of 1 / (rank of the right passage), 0 where it is not ranked at all; on a ranking
  of depth n this is MRR@n (on full scores, `ranks_from_scores`, it is the full MRR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RetrievalScores:
    """recall: k -> recall@k; mrr over `depth` ranks; `count` questions."""

    recall: dict[int, float]
    mrr: float
    depth: int
    count: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """Flat names for loggers: recall@1, ..., mrr."""
        row = {f"{prefix}recall@{k}": v for k, v in self.recall.items()}
        return row | {f"{prefix}mrr": self.mrr}


def gold_ranks(ids: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """ids (Q, n) passages best first, gold (Q,) the right one -> (Q,) its 1-based rank, 0 if absent."""
    ids, gold = np.asarray(ids), np.asarray(gold)
    if ids.ndim != 2 or gold.shape != (ids.shape[0],):
        raise ValueError(f"ids {ids.shape} and gold {gold.shape}: expected (Q, n) and (Q,).")
    hits = ids == gold[:, None]  # (Q, n), at most one True per row
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)


def ranks_from_scores(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """scores (Q, P) of every passage, gold (Q,) -> (Q,) 1-based rank of the right passage.

    Ties count against it: a passage scoring the same as the right one ranks before it.
    """
    scores, gold = np.asarray(scores), np.asarray(gold)
    right = scores[np.arange(scores.shape[0]), gold][:, None]  # (Q, 1)
    return (scores >= right).sum(axis=1)  # itself included: rank 1 when nothing ties or beats it


def evaluate(
    ranks: np.ndarray, depth: int, ks: Sequence[int] = (1, 5, 20), collection: int | None = None
) -> RetrievalScores:
    """RetrievalScores of 1-based ranks (0: not ranked) found among the first `depth` passages
    (a ranking's k, or the collection's size for full scores). Recall@k past the depth is refused
    rather than silently too low, unless the ranking holds the whole collection of `collection`
    passages (then recall@k = recall@depth)."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise ValueError("No questions to evaluate.")
    if max(ks) > depth and (collection is None or depth < collection):
        raise ValueError(f"recall@{max(ks)} needs rankings of depth >= {max(ks)}, not {depth}.")
    found = ranks > 0
    recall = {k: float(np.mean(found & (ranks <= k))) for k in ks}
    mrr = float(np.mean(np.where(found, 1.0 / np.maximum(ranks, 1), 0.0)))
    return RetrievalScores(recall=recall, mrr=mrr, depth=depth, count=int(ranks.size))
