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
from collections.abc import Iterable, Sequence
from functools import lru_cache

import simplemma

#: The features this module adds after squad.FEATURES, in this order.
DRQA_FEATURES = ("em_lemma", "tf")


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


#: Character ids: a word's UTF-8 bytes, each + 1, so that 0 pads (no vocabulary to save or to
#: trust: every text maps, and an unseen letter is still its own bytes). UTF-8 uses no byte
#: above 0xF4, so every id also fits a uint8.
NUM_CHARS = 257


def word_char_ids(words: Sequence[str], width: int) -> list[int]:
    """Each word's first `width` UTF-8 bytes + 1, padded with 0 to `width`, all words flat
    (len(words) * width values; BiDAF cuts words to 16 characters)."""
    if width < 1:
        raise ValueError(f"width={width}: keep at least one character of each word.")
    flat: list[int] = []
    for w in words:
        raw = w.encode("utf-8", errors="replace")[:width]
        flat.extend(b + 1 for b in raw)
        flat.extend([0] * (width - len(raw)))
    return flat
