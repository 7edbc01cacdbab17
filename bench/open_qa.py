"""Open-domain QA on SQuAD: dev questions with no context, answered from all of SQuAD's paragraphs.

    python bench/open_qa.py --reader READER [--encoder RETRIEVER] [--k 5] [--limit N]
                            [--data-dir $ENCDEC_DATA_DIR/squad]

"SQuAD-open over SQuAD's own paragraphs": the 10,570 dev questions over the 20,958 distinct
paragraphs of train and dev. DrQA's SQuAD-open searched all of Wikipedia (5 M articles; its full
system: 27.1 EM), so these figures are not comparable with it: the collection here is ~250 times
smaller, and each question's own paragraph is in it.

For each retriever (BM25; with --encoder also the dense retriever and the hybrid, reciprocal rank
fusion of both) the k best paragraphs of every question are read by the reader and the span with
the highest reader probability is the answer (`encdec.inference.open_qa.OpenQA`, what ask.py
runs). Printed per retriever: recall@k (the question's own paragraph among those read), EM and F1
(the official SQuAD v1.1 evaluation, `encdec.scoring.squad_v11`), and the time taken. The last row
is the reader given each question's own paragraph (the closed-book ceiling of this reader).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import torch

import encdec
from encdec.data.retrieval import read_retrieval_set
from encdec.data.sources import QAFiles
from encdec.inference.answering import QuestionAnswerer
from encdec.inference.open_qa import OpenQA, Search, bm25_search, dense_search, hybrid_search
from encdec.inference.predictor import Predictor
from encdec.inference.retrieval import Retriever
from encdec.scoring import squad_v11


def load_as(path: str, kind: str) -> Predictor:
    model = encdec.load(path)
    if model.kind != kind:
        raise SystemExit(f"{path}: a {model.kind} model, not a {kind} model.")
    return model


def dev_answers(data_dir: Path, limit: int | None) -> dict[str, list[str]]:
    """Each dev question id -> its ground-truth answer texts."""
    opened = QAFiles(pattern="{split}.jsonl").open("validation", data_dir, Path(".cache"))
    answers = {}
    for qid, _title, _context, _question, given in opened.rows():
        answers[qid] = list(given["text"])
        if limit is not None and len(answers) >= limit:
            break
    return answers


def main() -> None:
    default_dir = Path(os.environ.get("ENCDEC_DATA_DIR", "data")) / "squad"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", required=True, help="a trained QA reader (task=qa)")
    parser.add_argument("--encoder", default=None, help="a trained retriever (task=retrieval)")
    parser.add_argument("--k", type=int, default=5, help="paragraphs read per question")
    parser.add_argument("--limit", type=int, default=None, help="only the first N dev questions")
    parser.add_argument("--data-dir", type=Path, default=default_dir)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    reader = load_as(args.reader, "qa")
    assert isinstance(reader, QuestionAnswerer)

    source = QAFiles(pattern="{split}.jsonl")
    dev = read_retrieval_set(source, "validation", args.data_dir)
    both = dev.with_passages(read_retrieval_set(source, "train", args.data_dir))
    count = len(dev.questions) if args.limit is None else min(args.limit, len(dev.questions))
    questions, gold = both.questions[:count], both.gold[:count]
    answers = dev_answers(args.data_dir, count)
    ids = both.question_ids[:count]
    print(
        f"SQuAD-open over SQuAD's own paragraphs: {count:,} dev questions, "
        f"{len(both.passages):,} paragraphs, k={args.k}, reader {args.reader}\n"
    )
    print(f"| retriever | recall@{args.k} | EM | F1 | time |")
    print("|---|---|---|---|---|")

    searches: list[tuple[str, Search]] = [("BM25", bm25_search(both.passages))]
    if args.encoder:
        retriever = load_as(args.encoder, "retrieval")
        assert isinstance(retriever, Retriever)
        start = time.perf_counter()
        index = retriever.index(both.passages)
        print(f"(dense index of {len(index):,} paragraphs: {time.perf_counter() - start:.0f} s)")
        dense = dense_search(retriever, index)
        searches += [("dense", dense), ("hybrid (RRF)", hybrid_search(dense, searches[0][1]))]
    for name, search in searches:
        start = time.perf_counter()
        asked = OpenQA(both.passages, search, reader, k=args.k).ask(questions)
        took = time.perf_counter() - start
        recall = sum(
            int(g) in {f.passage for f in a.found} for a, g in zip(asked, gold, strict=True)
        )
        predictions = {
            qid: (a.answer.text if a.answer else "") for qid, a in zip(ids, asked, strict=True)
        }
        scores = squad_v11(answers, predictions)
        print(
            f"| {name} | {recall / count:.3f} | {scores['exact_match']:.2f} | {scores['f1']:.2f} "
            f"| {took:.0f} s |",
            flush=True,
        )
    start = time.perf_counter()
    items = [
        {"question": q, "context": both.passages[int(g)]}
        for q, g in zip(questions, gold, strict=True)
    ]
    own = [span for i in range(0, count, 64) for span in reader.answer(items[i : i + 64])]
    scores = squad_v11(answers, {qid: s.text for qid, s in zip(ids, own, strict=True)})
    took = time.perf_counter() - start
    print(
        f"| (its own paragraph) | 1.000 | {scores['exact_match']:.2f} | {scores['f1']:.2f} "
        f"| {took:.0f} s |"
    )
    print(f"\n(command: {shlex.join(['python', *sys.argv])})")


if __name__ == "__main__":
    main()
