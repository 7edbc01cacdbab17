"""Open-domain QA: BM25 / dense / hybrid retrieval over a collection, and a reader choosing the
best span among the passages found (the highest reader probability, with its passage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import encdec
from encdec.inference.answering import QuestionAnswerer
from encdec.inference.open_qa import OpenQA, bm25_search, dense_search, hybrid_search
from encdec.inference.retrieval import Retriever
from encdec.retrieval.fusion import reciprocal_rank_fusion
from encdec.retrieval.index import VectorIndex
from encdec.retrieval.ranking import Ranking
from tests.support.helpers import QA_CKPT

PASSAGES = [
    "Paris is the capital and most populous city of France.",
    "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50.",
    "Photosynthesis turns light energy into chemical energy in plants.",
    "The Panthers had beaten the Arizona Cardinals in the NFC Championship Game.",
]
QUESTION = "Which team won Super Bowl 50?"


@pytest.fixture(scope="module")
def reader() -> QuestionAnswerer:
    model = encdec.load(str(QA_CKPT))
    assert isinstance(model, QuestionAnswerer)
    return model


def test_bm25_finds_the_passage_and_the_reader_answers_from_the_best_span(reader) -> None:
    system = OpenQA(PASSAGES, bm25_search(PASSAGES), reader, k=3)
    (asked,) = system.ask([QUESTION])
    assert [f.passage for f in asked.found][0] == 1 and len(asked.found) == 3
    assert [f.score for f in asked.found] == sorted((f.score for f in asked.found), reverse=True)
    answer = asked.answer
    assert answer is not None
    assert PASSAGES[answer.passage][answer.start : answer.end] == answer.text and answer.text
    # the rule: the highest reader probability among the passages found, each read on its own
    each = {f.passage: reader(QUESTION, PASSAGES[f.passage]).score for f in asked.found}
    best = max(each, key=lambda p: each[p])
    assert answer.passage == best
    assert answer.reader_score == pytest.approx(each[best], rel=1e-5)
    rank = [f.passage for f in asked.found].index(best)
    assert answer.rank == rank + 1 and answer.retrieval_score == asked.found[rank].score


def test_without_a_reader_only_passages_come_back() -> None:
    system = OpenQA(PASSAGES, bm25_search(PASSAGES), k=10)  # k beyond the collection: all of it
    asked = system.ask([QUESTION, "What do plants turn light into?"])
    assert [a.answer for a in asked] == [None, None]
    assert len(asked[0].found) == 4 and asked[1].found[0].passage == 2


def fixed(ids: list[list[int]]) -> Ranking:
    array = np.array(ids, np.int64)
    return Ranking(array, -np.arange(array.shape[1], dtype=np.float32)[None].repeat(len(ids), 0))


def test_the_hybrid_is_the_reciprocal_rank_fusion_of_both_searches() -> None:
    a, b = fixed([[0, 1, 2]]), fixed([[2, 1, 3]])
    seen: list[int] = []

    def search_a(questions: Sequence[str], k: int) -> Ranking:
        seen.append(k)
        return a

    hybrid = hybrid_search(search_a, lambda questions, k: b, depth=3)
    fused = hybrid(["q"], 2)
    assert seen == [3]  # each searched `depth` deep, then cut to k
    expected = reciprocal_rank_fusion([a, b], 2)
    np.testing.assert_array_equal(fused.ids, expected.ids)
    # by hand: 1 is 2nd in both (2/62), 2 is 3rd and 1st (1/63 + 1/61) -> 2 first, then 1
    assert fused.ids.tolist() == [[2, 1]]


def test_dense_search_is_the_retrievers_own_search_and_refuses_another_models_index(
    retriever_file: Path,
) -> None:
    retriever = encdec.load(str(retriever_file))
    assert isinstance(retriever, Retriever)
    index = retriever.index(PASSAGES)
    system = OpenQA(PASSAGES, dense_search(retriever, index), k=2)
    (found,) = system.retrieve([QUESTION])
    hits = retriever.search(QUESTION, PASSAGES, k=2)
    assert [f.passage for f in found] == [h.number for h in hits]
    assert [f.score for f in found] == pytest.approx([h.score for h in hits], rel=1e-5)
    other = VectorIndex(index.vectors, replace(index.info, model_hash="0" * 64))
    with pytest.raises(ValueError, match="built by another model"):
        OpenQA(PASSAGES, dense_search(retriever, other)).retrieve([QUESTION])


def test_k_must_be_a_positive_whole_number() -> None:
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive whole number"):
            OpenQA(PASSAGES, bm25_search(PASSAGES), k=k)  # type: ignore[arg-type]
