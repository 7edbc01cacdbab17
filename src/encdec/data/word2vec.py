"""Word2Vec vectors learnt from a run's own training text (`embeddings.word2vec`).

Where no pretrained GloVe / Word2Vec file can be had (no internet, a new language, a special
domain), skip-gram vectors trained on the training split itself give the embedding a start from
word co-occurrence instead of noise (the SQuAD reader learns markedly faster from them: docs/results.md).
It is unsupervised: only the texts the tokenizer is trained on are read.
Words are split by the run's tokenizer's own normalizer and pre-tokenizer, so with a word-level
tokenizer every vocabulary word finds its vector (subword pieces of a BPE vocabulary do not).
The vectors file is cached by content like the tokenizers, so a second run does not retrain it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenizers import Tokenizer

from encdec.data.tokenization import fingerprint
from encdec.files import atomic_path, file_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Word2VecSettings:
    """gensim's Word2Vec options that matter here (skip-gram; see `embeddings.word2vec`)."""

    epochs: int = 5
    window: int = 5
    min_count: int = 3
    workers: int = 2
    seed: int = 12345


def words(texts: Sequence[str], tokenizer: Tokenizer) -> Iterator[list[str]]:
    """Each text as the tokenizer's words: normalised and pre-tokenized, before the vocabulary."""
    for text in texts:
        if tokenizer.normalizer is not None:
            text = tokenizer.normalizer.normalize_str(text)
        if tokenizer.pre_tokenizer is None:
            yield text.split()
        else:
            yield [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text)]


class Words:
    """`words(texts, tokenizer)`, read again on every pass (gensim reads its corpus once for the
    vocabulary, then once per epoch), so a corpus of millions of texts is never held as lists."""

    def __init__(self, texts: Sequence[str], tokenizer: Tokenizer) -> None:
        self.texts, self.tokenizer = texts, tokenizer

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[list[str]]:
        return words(self.texts, self.tokenizer)


def train_word2vec(
    texts: Sequence[str], tokenizer: Tokenizer, dim: int, settings: Word2VecSettings
):
    """Skip-gram vectors (gensim `KeyedVectors`) of dimension `dim` over the texts' words."""
    from gensim.models import Word2Vec  # noqa: PLC0415 (gensim: heavy, only for word2vec runs)

    corpus = Words(texts, tokenizer)
    model = Word2Vec(
        vector_size=dim,
        window=settings.window,
        min_count=settings.min_count,
        sg=1,
        workers=settings.workers,
        seed=settings.seed,
    )
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=settings.epochs)
    return model.wv


def cached_word2vec(
    texts: Sequence[str],
    tokenizer: Tokenizer,
    dim: int,
    settings: Word2VecSettings,
    cache_dir: Path,
) -> Path:
    """The Word2Vec text file for these texts, tokenizer and settings; trained the first time."""
    key = fingerprint(texts, tokenizer=tokenizer.to_str(), dim=dim, **asdict(settings))
    path = Path(cache_dir) / "vectors" / f"word2vec-{dim}-{key}.txt"
    if path.is_file():
        log.info("Word2Vec vectors loaded from cache %s", path)
        return path
    with file_lock(path):  # one process trains them (DDP ranks); the others wait, then read them
        if path.is_file():
            log.info("Word2Vec vectors loaded from cache %s (trained by another process)", path)
            return path
        start = time.perf_counter()
        wv = train_word2vec(texts, tokenizer, dim, settings)
        with atomic_path(path) as tmp:
            wv.save_word2vec_format(str(tmp), binary=False)
    log.info(
        "Word2Vec: %d words x %d dims from %d training texts in %.0f s -> %s",
        len(wv.key_to_index),
        dim,
        len(texts),
        time.perf_counter() - start,
        path,
    )
    return path
