"""Encoding speed: sentences/s of `encdec.load(model).encode(texts)` on Multi30k test_2016_flickr
(1,000 English sentences), at a given number of threads (issue 29's figure: 2 threads).

    python bench/encode_speed.py --model tests/fixtures/legacy/translation_lstm_bahdanau.pt \\
        [--data-dir $ENCDEC_DATA_DIR/multi30k] [--threads 2] [--batch-size 64] [--pooling last]

The whole call is timed as a user makes it: tokenizing, batching by length, the encoder, pooling,
restoring the order. The best of --repeats runs (after one warm-up run) is printed, with the
command. Speed depends on the model's size, not its training: the small fixture model is fine
for comparing changes, a real model gives the figure to quote. Also checks that the batched
vectors equal one-by-one encoding on the first sentences.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shlex
import sys
import time
from pathlib import Path

import torch

import encdec


def read_sentences(data_dir: Path) -> list[str]:
    path = data_dir / "test_2016_flickr.en.gz"
    if not path.is_file():
        sys.exit(f"{path}: no such file; give --data-dir <folder holding multi30k's files>.")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True, help="a model file (.pt) or checkpoint (.ckpt)")
    default_data = Path(os.environ.get("ENCDEC_DATA_DIR", "data")) / "multi30k"
    p.add_argument("--data-dir", type=Path, default=default_data)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--pooling", default=None, help="last | mean (default: the model's own)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check", type=int, default=50, help="sentences compared one by one")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    sentences = read_sentences(args.data_dir)
    model = encdec.load(args.model)
    model.encode(sentences, pooling=args.pooling, batch_size=args.batch_size)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        vectors = model.encode(sentences, pooling=args.pooling, batch_size=args.batch_size)
        times.append(time.perf_counter() - start)
    alone = torch.cat([model.encode(s, pooling=args.pooling) for s in sentences[: args.check]])
    worst = float((vectors[: args.check] - alone).abs().max())

    print("$ python " + shlex.join(sys.argv))
    print(f"model: {args.model} ({model.kind}), vectors: {tuple(vectors.shape)}")
    print(f"threads: {args.threads}, batch size: {args.batch_size}, pooling: "
          f"{args.pooling or 'the model default'}")  # fmt: skip
    best = min(times)
    print(f"encode: {len(sentences) / best:,.0f} sentences/s (best of {args.repeats}: {best:.3f} s "
          f"for {len(sentences)} sentences)")  # fmt: skip
    print(f"batched vs one by one, first {args.check}: max |difference| {worst:.2e}")


if __name__ == "__main__":
    main()
