"""Questions with no context: retrieve the k best passages of a collection, then let a trained
reader pick the best span among them (DrQA's retriever + reader, Chen et al. 2017).

A retriever is a `Search`: questions and k -> a `Ranking` of passage numbers. Three are built
here over the same collection: BM25 (`bm25_search`, bm25s), the dense dual encoder searching
its saved index (`dense_search`), and their reciprocal rank fusion (`hybrid_search`). `OpenQA`
joins one of them to an optional `QuestionAnswerer`: the reader reads each of the k passages
with the question, and the answer is the span with the highest reader probability
(p_start * p_end within its passage), returned with its passage and both scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from encdec.errors import ConfigError
from encdec.inference.answering import QuestionAnswerer, answer_each
from encdec.inference.predictor import load_kind
from encdec.inference.retrieval import Retriever
from encdec.inference.texts import Collection, Warn, read_collection
from encdec.retrieval.bm25 import BM25Retriever
from encdec.retrieval.fusion import reciprocal_rank_fusion
from encdec.retrieval.index import IndexFileError, VectorIndex, default_index_path, read_info
from encdec.retrieval.ranking import Ranking

#: questions, k -> their k best passages
Search = Callable[[Sequence[str], int], Ranking]

#: How deep each ranking goes before the hybrid fuses them (as bench/retrieval.py).
FUSION_DEPTH = 100


class Found(NamedTuple):
    """One retrieved passage: its number in the collection and its retrieval score."""

    passage: int
    score: float


class OpenAnswer(NamedTuple):
    """The best span over the retrieved passages: `text == passages[passage][start:end]`, its
    reader probability, and the passage's retrieval score and rank (from 1)."""

    text: str
    start: int
    end: int
    reader_score: float
    passage: int
    retrieval_score: float
    rank: int


class Asked(NamedTuple):
    """What one question got: its retrieved passages, best first, and the answer (None without
    a reader, or when no passage could be read)."""

    found: list[Found]
    answer: OpenAnswer | None

    def record(self, collection: Collection) -> dict[str, Any]:
        """As ask.py writes it and the server returns it: {"passages": [{"id", "score",
        "text"}, ...]} best first and, with an answer, "answer", "start", "end" (offsets in its
        passage), "passage_id", "reader_score", "retrieval_score", "rank"."""
        found: dict[str, Any] = {
            "passages": [
                {
                    "id": collection.ids[f.passage],
                    "score": round(f.score, 6),
                    "text": collection.texts[f.passage],
                }
                for f in self.found
            ]
        }
        answer = self.answer
        if answer is not None:
            found.update(
                answer=answer.text,
                start=answer.start,
                end=answer.end,
                passage_id=collection.ids[answer.passage],
                reader_score=round(answer.reader_score, 6),
                retrieval_score=round(answer.retrieval_score, 6),
                rank=answer.rank,
            )
        return found


def bm25_search(passages: Sequence[str]) -> Search:
    """BM25 over `passages` (indexed now: seconds for SQuAD's 20,958 paragraphs)."""
    bm25 = BM25Retriever(passages)
    return lambda questions, k: bm25.search(questions, k)


def dense_search(retriever: Retriever, index: VectorIndex) -> Search:
    """The dual encoder's question vectors searched in an index its passage encoder built
    (another model's index: ValueError when searched)."""
    return lambda questions, k: retriever.rank(questions, index, k)


def hybrid_search(first: Search, second: Search, depth: int = FUSION_DEPTH) -> Search:
    """Reciprocal rank fusion of two searches of the same collection, each `depth` deep."""

    def search(questions: Sequence[str], k: int) -> Ranking:
        deep = max(k, depth)
        return reciprocal_rank_fusion([first(questions, deep), second(questions, deep)], k)

    return search


def load_index(folder: Path, retriever: Retriever, collection: Collection) -> VectorIndex:
    """The saved index of the collection, if this retriever built it from this very file (one
    IndexFileError line otherwise: missing, empty, damaged, another model, another file)."""
    info = read_info(folder)
    if info.passages_sha256 and info.passages_sha256 != collection.sha256:
        raise IndexFileError(
            f"The index {folder} was built from another version of the passages file (its "
            f"SHA-256 differs): build it again with python index.py."
        )
    return VectorIndex.load(folder, retriever.model_hash, retriever.pooling)


def collection_search(
    collection: Collection,
    path: Path,
    retriever: Retriever | None = None,
    index: Path | None = None,
    hybrid: bool = False,
) -> Search:
    """The search of a collection file at `path`: BM25 without a retriever; with one, its saved
    index (`index`, by default `<path>.index`), fused with BM25 when `hybrid`."""
    if retriever is None:
        if hybrid:
            raise ConfigError(
                "hybrid=true fuses BM25 with a dense retriever: give retriever=<retrieval model>."
            )
        return bm25_search(collection.texts)
    dense = dense_search(
        retriever, load_index(index or default_index_path(path), retriever, collection)
    )
    return hybrid_search(dense, bm25_search(collection.texts)) if hybrid else dense


class OpenQA:
    """`search` over `passages`, and `reader` (optional) over the k passages found."""

    def __init__(
        self,
        passages: Sequence[str],
        search: Search,
        reader: QuestionAnswerer | None = None,
        k: int = 5,
        batch_size: int = 32,
    ) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise ValueError(f"k={k!r}: give a positive whole number of passages.")
        self.passages, self.search, self.reader = list(passages), search, reader
        self.k, self.batch_size = min(k, len(self.passages)), batch_size

    def retrieve(self, questions: Sequence[str], k: int | None = None) -> list[list[Found]]:
        """The k best passages of each question (k: this system's unless given), best first."""
        if not questions:
            return []
        ranking = self.search(list(questions), min(k or self.k, len(self.passages)))
        return [
            [Found(int(p), float(s)) for p, s in zip(ids, scores, strict=True) if p >= 0]
            for ids, scores in zip(ranking.ids, ranking.scores, strict=True)
        ]

    def ask(self, questions: Sequence[str], k: int | None = None) -> list[Asked]:
        """Retrieve for each question, then (with a reader) answer from its passages."""
        found = self.retrieve(questions, k)
        if self.reader is None:
            return [Asked(hits, None) for hits in found]
        pairs = [(q, hit, rank) for q, hits in enumerate(found) for rank, hit in enumerate(hits)]
        best: list[OpenAnswer | None] = [None] * len(found)
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            items = [
                {"question": questions[q], "context": self.passages[hit.passage]}
                for q, hit, _ in chunk
            ]
            for (q, hit, rank), spans in zip(
                chunk, answer_each(self.reader.task, items), strict=True
            ):
                if isinstance(spans, str) or not spans:  # this passage could not be read
                    continue
                span, current = spans[0], best[q]
                if current is None or span.score > current.reader_score:
                    best[q] = OpenAnswer(
                        span.text,
                        span.start,
                        span.end,
                        span.score,
                        hit.passage,
                        hit.score,
                        rank + 1,
                    )
        return [Asked(hits, answer) for hits, answer in zip(found, best, strict=True)]


@dataclass(frozen=True)
class SearchSetup:
    """A collection to search, as ask.py and the server open it: the passages file, the dense
    index folder (None: `<passages>.index`), BM25 fused in or not, an optional QA reader (a model
    file or checkpoint), and the passages a question gets unless it says (`k`)."""

    passages: str
    index: str | None = None
    hybrid: bool = False
    reader: str | None = None
    k: int = 5

    def open(
        self, retriever: Retriever | None, warn: Warn, batch_size: int = 32
    ) -> tuple[OpenQA, Collection]:
        """The collection read (its unusable lines warned about), its search (BM25 without a
        retriever), the reader loaded: one line when any of it cannot be."""
        path = Path(self.passages)
        collection = read_collection(path, warn)
        index = Path(self.index) if self.index else None
        search = collection_search(collection, path, retriever, index, self.hybrid)
        reader = None
        if self.reader is not None:
            model = load_kind(self.reader, "qa", "reader")
            assert isinstance(model, QuestionAnswerer)
            reader = model
        return OpenQA(collection.texts, search, reader, self.k, batch_size), collection
