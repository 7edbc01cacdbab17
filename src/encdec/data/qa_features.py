"""DrQA's passage-token features (Chen et al. 2017) and BiDAF's character ids, as pure functions.

`encdec.data.squad.encode_qa` computes, per passage token, whether it occurs in the question as
written (`em_cased`) and lower-cased (`em_lower`). DrQA adds the same test on lemmas
(`em_lemma`: "walked" matches "walks") and each token's normalised term frequency in its passage
(`tf`); DrQA's ablation table measures each (options, so the table can be reproduced).
Words are the passage's text at the tokenizer's offsets, as encode_qa uses them; the features
are computed over the whole passage (before any window is cut), then sliced like the ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import simplemma

#: The features this module adds after squad.FEATURES, in this order.
DRQA_FEATURES = ("em_lemma", "tf")

PAD_CHAR, UNK_CHAR = 0, 1  # character ids: 0 pads a word, 1 stands for an unseen character


@lru_cache(maxsize=1 << 18)
def lemma(word: str, lang: str = "en") -> str:
    """The lower-cased lemma of `word` (simplemma: a dictionary lemmatizer, no model download)."""
    return simplemma.lemmatize(word.lower(), lang=lang).lower()


def lemma_exact_match(
    passage_words: Sequence[str], question_words: Iterable[str], lang: str = "en"
) -> list[int]:
    """1 for each passage word whose lemma is the lemma of a question word, else 0."""
    question_lemmas = {lemma(w, lang) for w in question_words}
    return [int(lemma(w, lang) in question_lemmas) for w in passage_words]


def term_frequency(passage_words: Sequence[str]) -> list[float]:
    """Each word's count in its passage (lower-cased) over the passage's length, as DrQA."""
    counts = Counter(w.lower() for w in passage_words)
    n = len(passage_words)
    return [counts[w.lower()] / n for w in passage_words]


def drqa_features(
    passage_words: Sequence[str], question_words: Iterable[str], lang: str = "en"
) -> dict[str, list[float]]:
    """Every DRQA_FEATURES column for one passage and question (one value per passage word)."""
    return {
        "em_lemma": [float(x) for x in lemma_exact_match(passage_words, question_words, lang)],
        "tf": term_frequency(passage_words),
    }


def char_vocabulary(texts: Iterable[str], min_count: int = 1) -> dict[str, int]:
    """Characters seen at least `min_count` times -> ids from 2 (0: padding, 1: unknown), most
    frequent first, so the table is the same for the same texts."""
    counts = Counter(ch for text in texts for ch in text if not ch.isspace())
    kept = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
    return {c: i for i, c in enumerate(kept, start=2)}


def char_ids(
    words: Sequence[str], vocab: Mapping[str, int], max_chars: int = 16
) -> list[list[int]]:
    """Each word's character ids (its first `max_chars` characters, BiDAF's 16), unpadded."""
    if max_chars < 1:
        raise ValueError(f"max_chars={max_chars}: keep at least one character of each word.")
    return [[vocab.get(ch, UNK_CHAR) for ch in w[:max_chars]] for w in words]
