"""BM25 with bm25s: the passage sharing the question's (stemmed) rare words ranks first."""

from __future__ import annotations

import numpy as np
import pytest

from encdec.retrieval.bm25 import BM25Retriever

PASSAGES = [
    "The cat sat on the mat in the kitchen.",
    "Dogs were running through the park all afternoon.",
    "Paris is the capital and largest city of France.",
    "The Denver Broncos defeated the Carolina Panthers in Super Bowl 50.",
]


def test_ranks_the_passage_with_the_questions_words_first() -> None:
    bm25 = BM25Retriever(PASSAGES)
    ranking = bm25.search(
        ["Which team did the Broncos defeat?", "What is the capital of France?", "a dog runs"],
        k=4,
    )
    assert ranking.ids.shape == (3, 4) and ranking.ids.dtype == np.int64
    assert ranking.ids[:, 0].tolist() == [3, 2, 1]  # "runs" / "running", "dog" / "dogs": stemmed
    assert (ranking.scores[:, 0] > 0).all() and (np.diff(ranking.scores, axis=1) <= 0).all()
    assert sorted(ranking.ids[0].tolist()) == [0, 1, 2, 3]  # every passage, once


def test_without_stemming_inflections_do_not_match() -> None:
    ranking = BM25Retriever(PASSAGES, stem=False).search(["a dog runs"], k=2)
    assert (ranking.scores == 0).all()


def test_stop_words_and_unknown_words_score_zero_and_k_is_capped() -> None:
    bm25 = BM25Retriever(PASSAGES)
    ranking = bm25.search(["what is the of", "zebra"], k=10)
    assert ranking.ids.shape == (2, 4) and len(bm25) == 4
    assert (ranking.scores == 0).all()
    with pytest.raises(ValueError, match="at least one passage"):
        BM25Retriever([])
