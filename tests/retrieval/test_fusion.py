"""Score fusion against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from encdec.retrieval.fusion import min_max, reciprocal_rank_fusion, score_interpolation
from encdec.retrieval.ranking import Ranking

# One question; the two rankings agree on nothing but passage 2.
SPARSE = Ranking(ids=np.array([[7, 2, 5]]), scores=np.array([[12.0, 9.0, 3.0]], np.float32))
DENSE = Ranking(ids=np.array([[2, 4, 7]]), scores=np.array([[0.9, 0.8, 0.2]], np.float32))


def test_reciprocal_rank_fusion_matches_hand_computation() -> None:
    fused = reciprocal_rank_fusion([SPARSE, DENSE], k=4, c=60)
    expected = {
        2: 1 / 62 + 1 / 61,  # ranks 2 and 1
        7: 1 / 61 + 1 / 63,  # ranks 1 and 3
        4: 1 / 62,
        5: 1 / 63,
    }
    assert fused.ids.tolist() == [[2, 7, 4, 5]]
    np.testing.assert_allclose(fused.scores[0], [expected[i] for i in (2, 7, 4, 5)], rtol=1e-6)
    # Weights: trust the sparse ranking three times as much, and 7 overtakes 2.
    weighted = reciprocal_rank_fusion([SPARSE, DENSE], k=2, weights=[3, 1])
    assert weighted.ids.tolist() == [[7, 2]]


def test_score_interpolation_matches_hand_computation() -> None:
    # Normalised: sparse 7 -> 1, 2 -> 6/9, 5 -> 0; dense 2 -> 1, 4 -> 6/7, 7 -> 0.
    fused = score_interpolation(SPARSE, DENSE, k=5, weight=0.5)
    expected = {2: 0.5 * 6 / 9 + 0.5, 4: 0.5 * 6 / 7, 7: 0.5, 5: 0.0}
    assert fused.ids.tolist() == [[2, 7, 4, 5, -1]]  # fewer passages than k: -1 past them
    np.testing.assert_allclose(fused.scores[0, :4], [expected[i] for i in (2, 7, 4, 5)], rtol=1e-6)
    assert fused.scores[0, 4] == -np.inf
    only_sparse = score_interpolation(SPARSE, DENSE, k=3, weight=1.0)
    assert only_sparse.ids[0, 0] == 7


def test_fusion_refuses_mismatched_inputs() -> None:
    two = Ranking(ids=np.zeros((2, 3), np.int64), scores=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="the same questions"):
        reciprocal_rank_fusion([SPARSE, two], k=3)
    with pytest.raises(ValueError, match=r"weight=1.5 must be in \[0, 1\]"):
        score_interpolation(SPARSE, DENSE, k=3, weight=1.5)
    assert min_max(np.array([3.0, 3.0])).tolist() == [0.0, 0.0]
