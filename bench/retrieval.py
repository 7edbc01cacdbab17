"""Retrieval on SQuAD: recall@1/5/20 and MRR@100 of dev questions, and one question's latency.

    python bench/retrieval.py [--data-dir $ENCDEC_DATA_DIR/squad] [--collections dev,open]
                              [--encoder MODEL_FILE]

Two collections (issue 29):
- dev:  the 10,570 dev questions over the 2,067 dev paragraphs (closed retrieval);
- open: the same questions over all 20,958 SQuAD paragraphs, train and dev ("SQuAD-open over
  SQuAD's own paragraphs": far smaller than the Wikipedia of DrQA's SQuAD-open, so not comparable
  with its figures).
Each question has one right paragraph, the one it was written on. Rows: BM25 (bm25s, Lucene
scores, English stop words, Porter stems); with --encoder also the dense retriever and two hybrids:
reciprocal rank fusion of both (what ask.py and serve.py use) and score interpolation, whose
BM25 weight is cross-fitted: chosen (by MRR, from 0.1..0.9) on the questions of the
odd-numbered paragraphs for those of the even-numbered ones, and the other way round, so no
question is scored with a weight chosen on itself. Latency: the median time to search one
question (tokenize or encode it, then search), over 200 questions, one at a time.

--encoder takes a trained retrieval model file or checkpoint (`python train.py task=retrieval`):
`encdec.load` gives its `Retriever`, whose passage encoder fills a `VectorIndex` of the collection
and whose question encoder encodes the questions. The questions and paragraphs are read through
the data layer's question source (`QAFiles`: the files data=squad_retrieval trains on).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import encdec
from encdec.data.retrieval import RetrievalSet, read_retrieval_set
from encdec.data.sources import QAFiles
from encdec.retrieval.bm25 import BM25Retriever
from encdec.retrieval.fusion import reciprocal_rank_fusion, score_interpolation
from encdec.retrieval.index import IndexInfo, VectorIndex
from encdec.retrieval.metrics import evaluate, gold_ranks
from encdec.retrieval.ranking import Ranking

KS = (1, 5, 20)
DEPTH = 100  # passages ranked per question: recall@20 and MRR@100
LATENCY_QUESTIONS = 200
#: BM25 weights tried by the cross-fitted score interpolation.
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(1, 10))

#: texts -> (len(texts), D) float32 vectors
Encode = Callable[[Sequence[str]], np.ndarray]


def load_encoder(path: str) -> tuple[Encode, Encode, str, str]:
    """(encode questions, encode passages, weights hash, pooling) of a trained retrieval model
    file or checkpoint; another task's model stops with one line."""
    try:
        model = encdec.load(path)
    except (OSError, ValueError) as err:
        raise SystemExit(f"--encoder {path}: {err}") from None
    if model.kind != "retrieval":
        raise SystemExit(
            f"--encoder {path}: a {model.kind} model, not a retriever; give a model trained "
            f"with task=retrieval."
        )
    return model.encode_questions, model.encode_passages, model.model_hash, model.pooling


def dense_ranking(
    questions: Encode, passages: Encode, pairs: RetrievalSet, model_hash: str, pooling: str
) -> tuple[Ranking, VectorIndex]:
    """Encode the collection into an exact index and rank it for every question."""
    vectors = passages(pairs.passages)
    info = IndexInfo(model_hash, pooling, vectors.shape[1], vectors.shape[0], normalized=True)
    index = VectorIndex(vectors, info)
    return index.search(questions(pairs.questions), DEPTH), index


def latency_ms(search_one: Callable[[str], object], questions: Sequence[str]) -> float:
    """Median milliseconds to search one question, over the first LATENCY_QUESTIONS."""
    times = []
    for q in questions[:LATENCY_QUESTIONS]:
        start = time.perf_counter()
        search_one(q)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def cross_fitted_interpolation(
    sparse: Ranking, dense: Ranking, gold: np.ndarray
) -> tuple[Ranking, list[float]]:
    """Score interpolation of BM25 (weight w) and dense (1 - w), w chosen for each half of the
    questions (by the parity of their paragraph's number) as the best MRR on the other half.
    Returns the ranking and the two weights (even half, odd half)."""
    half = gold % 2  # (Q,) 0 / 1
    fused = {w: score_interpolation(sparse, dense, DEPTH, w) for w in WEIGHTS}

    def mrr(ranking: Ranking, part: np.ndarray) -> float:
        return evaluate(gold_ranks(ranking.ids[part], gold[part]), depth=DEPTH).mrr

    first = fused[WEIGHTS[0]]
    ids, scores, chosen = np.empty_like(first.ids), np.empty_like(first.scores), []
    for h in (0, 1):
        other = half != h
        w = max(WEIGHTS, key=lambda w: mrr(fused[w], other))
        ids[~other], scores[~other] = fused[w].ids[~other], fused[w].scores[~other]
        chosen.append(w)
    return Ranking(ids=ids, scores=scores), chosen


def report(name: str, collection: str, ranking: Ranking, pairs: RetrievalSet, extra: str) -> None:
    ranks = gold_ranks(ranking.ids, pairs.gold)
    scores = evaluate(ranks, depth=ranking.depth, ks=KS, collection=len(pairs.passages))
    recalls = " | ".join(f"{scores.recall[k]:.3f}" for k in KS)
    print(f"| {collection} | {name} | {recalls} | {scores.mrr:.3f} | {extra} |", flush=True)


def run(collection: str, pairs: RetrievalSet, encoder: tuple | None, threads: int) -> None:
    start = time.perf_counter()
    bm25 = BM25Retriever(pairs.passages)
    built = time.perf_counter() - start
    start = time.perf_counter()
    sparse = bm25.search(pairs.questions, DEPTH, threads=threads)
    searched = time.perf_counter() - start
    one = latency_ms(lambda q: bm25.search([q], DEPTH), pairs.questions)
    report(
        "BM25",
        collection,
        sparse,
        pairs,
        f"index {built:.1f} s; all questions {searched:.1f} s; one question {one:.2f} ms",
    )
    if encoder is None:
        return
    encode_questions, encode_passages, model_hash, pooling = encoder
    start = time.perf_counter()
    dense, index = dense_ranking(encode_questions, encode_passages, pairs, model_hash, pooling)
    took = time.perf_counter() - start
    one = latency_ms(lambda q: index.search(encode_questions([q]), DEPTH), pairs.questions)
    report(
        "dense",
        collection,
        dense,
        pairs,
        f"encode + search {took:.1f} s; one question {one:.2f} ms",
    )
    hybrid = reciprocal_rank_fusion([sparse, dense], k=DEPTH)
    report("hybrid (RRF)", collection, hybrid, pairs, "BM25 + dense, reciprocal rank fusion c=60")
    weighted, weights = cross_fitted_interpolation(sparse, dense, pairs.gold)
    report(
        "hybrid (interpolation)",
        collection,
        weighted,
        pairs,
        f"BM25 weight {weights[0]} / {weights[1]}, each chosen on the other half of the questions",
    )


def main() -> None:
    default_dir = Path(os.environ.get("ENCDEC_DATA_DIR", "data")) / "squad"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=default_dir, help="holds train.jsonl and validation.jsonl"
    )
    parser.add_argument(
        "--collections", default="dev,open", help="dev, open or both (comma-separated)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of the all-questions search"
    )
    parser.add_argument(
        "--encoder",
        default=None,
        help="a trained retrieval model file or checkpoint (task=retrieval): adds the dense and hybrid rows",
    )
    args = parser.parse_args()
    collections = [c.strip() for c in args.collections.split(",") if c.strip()]
    if not collections or set(collections) - {"dev", "open"}:
        parser.error(f"--collections={args.collections}: choose dev, open or dev,open.")
    encoder = load_encoder(args.encoder) if args.encoder else None

    source = QAFiles(pattern="{split}.jsonl")
    dev = read_retrieval_set(source, "validation", args.data_dir)
    print(
        f"SQuAD dev: {len(dev.questions)} questions over {len(dev.passages)} paragraphs; bm25s, 1 thread for one question\n"
    )
    print("| collection | retriever | recall@1 | recall@5 | recall@20 | MRR@100 | time |")
    print("|---|---|---|---|---|---|---|")
    for collection in collections:
        if collection == "dev":
            run(f"dev ({len(dev.passages):,} paragraphs)", dev, encoder, args.threads)
        else:
            train = read_retrieval_set(source, "train", args.data_dir)
            both = dev.with_passages(train)
            run(f"open ({len(both.passages):,} paragraphs)", both, encoder, args.threads)
    print(f"\n(command: {shlex.join(['python', *sys.argv])})")


if __name__ == "__main__":
    main()
