"""Retrieval without Lightning: rankings, their metrics, a vector index, BM25, score fusion.

Everything here is plain Python / numpy (torch only to hash weights): the retrieval task,
`encdec.load(...)` search and the benchmark all use the same pieces.
"""

from encdec.retrieval.metrics import RetrievalScores, evaluate, gold_ranks, ranks_from_scores
from encdec.retrieval.ranking import Ranking

__all__ = ["Ranking", "RetrievalScores", "evaluate", "gold_ranks", "ranks_from_scores"]
