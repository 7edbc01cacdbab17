"""BM25 over a passage collection, with the maintained `bm25s` library (Lù, 2024).

Texts are lower-cased, split into words of two or more letters or digits, stripped of English
stop words and Porter-stemmed (nltk's stemmer: nltk is already a dependency, for ROUGE), as
Pyserini's and bm25s' own baselines do. Scores are Lucene's BM25 (k1=1.5, b=0.75 by default). A
question whose every word is a stop word, or unknown to the collection, scores 0 everywhere; its
ranking is then arbitrary, and counts against recall as it should.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer
from nltk.stem import PorterStemmer

from encdec.retrieval.ranking import Ranking


class BM25Retriever:
    """A BM25 index over `passages`; `search(questions, k)` ranks them for each question."""

    def __init__(
        self,
        passages: Sequence[str],
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stem: bool = True,
    ) -> None:
        if not passages:
            raise ValueError("BM25 needs at least one passage to index.")
        stemmer = PorterStemmer().stem if stem else None
        self.tokenizer = Tokenizer(stopwords="en", stemmer=stemmer)
        tokens = self.tokenizer.tokenize(list(passages), return_as="ids", show_progress=False)
        self.bm25 = bm25s.BM25(k1=k1, b=b, method=method)
        self.bm25.index(tokens, show_progress=False)
        self.count = len(passages)

    def __len__(self) -> int:
        return self.count

    def search(self, questions: Sequence[str], k: int, threads: int = 1) -> Ranking:
        """Ranking (Q, min(k, N)) of passage numbers by BM25 score, best first."""
        k = min(k, self.count)
        tokens = self.tokenizer.tokenize(
            list(questions), update_vocab=False, return_as="ids", show_progress=False
        )
        ids, scores = self.bm25.retrieve(tokens, k=k, n_threads=threads, show_progress=False)
        return Ranking(ids=np.asarray(ids, dtype=np.int64), scores=np.asarray(scores, np.float32))
