"""BPE on long unspaced lines (Chinese): training time and what the merges learn, with the plain
Metaspace pre-tokenizer (a whole line one "word") and with unspaced scripts split into characters
(what `train_bpe` does for Chinese / Japanese text since issue 24).

    PYTHONPATH=src python bench/unspaced_bpe.py [--lines 2000,8000] [--sentences 6] [--vocab 8000]

Lines join `--sentences` random sentences of the test corpus (tests/cjk_corpus.py), with no space
between them: ~60 characters per line at 6. Prints, per size and pre-tokenizer: training seconds,
vocabulary size, the longest token (characters), how many tokens are longer than 8 characters
(sentence fragments learned as "words"), tokens per line, and whether every line round-trips.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from tokenizers import trainers

from encdec.data.tokenization import SPECIAL_TOKENS, new_bpe_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.cjk_corpus import chinese_english  # noqa: E402 (the repository root on the path first)


def lines(count: int, per_line: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    sentences = [zh for zh, _ in chinese_english()]
    return ["".join(rng.choices(sentences, k=per_line)) for _ in range(count)]


def measure(texts: list[str], unspaced: bool, vocab: int) -> dict[str, object]:
    tok = new_bpe_tokenizer(unspaced=unspaced)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, min_frequency=2, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    start = time.perf_counter()
    tok.train_from_iterator(texts, trainer=trainer)
    seconds = time.perf_counter() - start
    words = [t.lstrip("▁") for t in tok.get_vocab() if t not in SPECIAL_TOKENS]
    encoded = tok.encode_batch(texts[:500])
    return {
        "seconds": round(seconds, 2),
        "vocab": tok.get_vocab_size(),
        "longest": max(len(w) for w in words),
        "over_8_chars": sum(len(w) > 8 for w in words),
        "tokens_per_line": round(sum(len(e.ids) for e in encoded) / len(encoded), 1),
        "round_trip": all(tok.decode(e.ids) == t for e, t in zip(encoded, texts, strict=False)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", default="2000,8000")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--vocab", type=int, default=8000)
    args = parser.parse_args()
    print(
        "lines  chars/line  pre-tokenizer      seconds  vocab  longest  >8 chars  tokens/line  exact"
    )
    for count in (int(n) for n in args.lines.split(",")):
        texts = lines(count, args.sentences)
        width = sum(map(len, texts)) // len(texts)
        for unspaced in (False, True):
            m = measure(texts, unspaced, args.vocab)
            name = "split characters" if unspaced else "plain Metaspace"
            print(
                f"{count:5d}  {width:10d}  {name:17s}  {m['seconds']:7.2f}  {m['vocab']:5d}  "
                f"{m['longest']:7d}  {m['over_8_chars']:8d}  {m['tokens_per_line']:11.1f}  "
                f"{m['round_trip']}"
            )


if __name__ == "__main__":
    main()
