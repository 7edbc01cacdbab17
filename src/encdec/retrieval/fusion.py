"""Hybrid retrieval: two rankings of the same collection (e.g. BM25 and the dual encoder) fused
into one, per question.

- Reciprocal rank fusion (Cormack et al., 2009): score(p) = sum_r w_r / (c + rank_r(p)), ranks
  from 1, c=60; a passage a ranking lacks gets nothing from it. Uses only ranks, so scores of any
  scale mix.
- Score interpolation: each ranking's scores min-max normalised to [0, 1] per question, then
  w * a + (1 - w) * b; a passage a ranking lacks counts as that ranking's minimum (0).
Ties are broken by the lower passage number, so fusion is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from encdec.retrieval.ranking import Ranking


def _fuse(
    rankings: Sequence[Ranking],
    k: int,
    contribution: Callable[[int, np.ndarray, np.ndarray], np.ndarray],
) -> Ranking:
    """Per question: sum over rankings r of contribution(r, ranks, scores) for r's passages,
    then the best k. rankings must cover the same questions."""
    count = rankings[0].ids.shape[0]
    if any(r.ids.shape[0] != count for r in rankings):
        raise ValueError(
            f"Rankings of {[r.ids.shape[0] for r in rankings]} questions: fuse the same questions."
        )
    ids_out = np.full((count, k), -1, dtype=np.int64)
    scores_out = np.full((count, k), -np.inf, dtype=np.float32)
    for q in range(count):
        total: dict[int, float] = {}
        for r, ranking in enumerate(rankings):
            ids = ranking.ids[q]
            keep = ids >= 0
            ids = ids[keep]
            parts = contribution(r, np.arange(1, len(ids) + 1), ranking.scores[q][keep])
            for pid, part in zip(ids.tolist(), parts.tolist(), strict=True):
                total[pid] = total.get(pid, 0.0) + part
        best = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:k]
        ids_out[q, : len(best)] = [pid for pid, _ in best]
        scores_out[q, : len(best)] = [score for _, score in best]
    return Ranking(ids=ids_out, scores=scores_out)


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking], k: int, c: float = 60.0, weights: Sequence[float] | None = None
) -> Ranking:
    """Fuse rankings by sum of w / (c + rank); Ranking of depth k (-1 / -inf past the passages found)."""
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings.")
    return _fuse(rankings, k, lambda r, ranks, _: weights[r] / (c + ranks))


def min_max(scores: np.ndarray) -> np.ndarray:
    """Scores mapped to [0, 1]; all equal (e.g. BM25 finding no word of the question): all 0,
    since they tell the passages apart no more than a passage the ranking lacks."""
    if scores.size == 0:
        return scores
    low, high = scores.min(), scores.max()
    return np.zeros_like(scores) if high == low else (scores - low) / (high - low)


def score_interpolation(a: Ranking, b: Ranking, k: int, weight: float = 0.5) -> Ranking:
    """weight * normalised a + (1 - weight) * normalised b, per question; depth k."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight={weight} must be in [0, 1].")
    factors = (weight, 1.0 - weight)
    return _fuse([a, b], k, lambda r, _, scores: factors[r] * min_max(scores))
