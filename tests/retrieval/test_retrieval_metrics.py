"""Recall@k and MRR against a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from encdec.retrieval.metrics import evaluate, gold_ranks, ranks_from_scores


def test_recall_and_mrr_match_hand_computation() -> None:
    ids = np.array(
        [
            [3, 1, 2],  # right passage 3 at rank 1
            [0, 2, 4],  # right passage 4 at rank 3
            [1, 0, 2],  # right passage 5 not ranked
            [2, 5, 1],  # right passage 5 at rank 2
        ]
    )
    gold = np.array([3, 4, 5, 5])
    ranks = gold_ranks(ids, gold)
    assert ranks.tolist() == [1, 3, 0, 2]
    scores = evaluate(ranks, depth=3, ks=(1, 2, 3))
    assert scores.recall == {1: 0.25, 2: 0.5, 3: 0.75}
    assert scores.mrr == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert (scores.depth, scores.count) == (3, 4)
    assert scores.as_dict("val/") == {
        "val/recall@1": 0.25,
        "val/recall@2": 0.5,
        "val/recall@3": 0.75,
        "val/mrr": pytest.approx(11 / 24),
    }


def test_recall_past_the_ranking_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="recall@20 needs rankings of depth >= 20, not 5"):
        evaluate(np.array([1, 2]), depth=5)
    with pytest.raises(ValueError, match="depth >= 20, not 5"):
        evaluate(np.array([1, 2]), depth=5, collection=6)
    # A ranking of the whole (small) collection answers recall@k for any k.
    assert evaluate(np.array([1, 5]), depth=5, collection=5).recall[20] == 1.0
    with pytest.raises(ValueError, match="No questions"):
        evaluate(np.array([], dtype=int), depth=5)


def test_ranks_from_full_scores_count_ties_against_the_right_passage() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.5, 0.3],  # right 0: rank 1
            [0.2, 0.2, 0.7, 0.1],  # right 1 ties with 0 and 2 beats it: rank 3
            [0.0, 0.4, 0.3, 0.8],  # right 2: rank 3
        ]
    )
    ranks = ranks_from_scores(scores, np.array([0, 1, 2]))
    assert ranks.tolist() == [1, 3, 3]
    # Without ties, the same ranks as sorting the scores.
    order = np.argsort(-scores[[0, 2]], axis=1)
    assert gold_ranks(order, np.array([0, 2])).tolist() == [1, 3]
    full = evaluate(ranks, depth=4, ks=(1, 3))
    assert full.recall == {1: pytest.approx(1 / 3), 3: 1.0}
    assert full.mrr == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
