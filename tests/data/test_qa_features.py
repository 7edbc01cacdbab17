"""DrQA's passage features and BiDAF's character ids on hand-made examples."""

from __future__ import annotations

import pytest

from encdec.data.qa_features import (
    DRQA_FEATURES,
    NUM_CHARS,
    drqa_features,
    lemma_exact_match,
    term_frequency,
    word_char_ids,
)

PASSAGE = "The children walked to the mice , and a child walks home".split()
QUESTION = "Where did the child walk ?".split()


def test_lemma_exact_match_finds_inflected_forms_the_other_flags_miss() -> None:
    em = lemma_exact_match(PASSAGE, QUESTION)
    #            The children walked to the mice ,  and a  child walks home
    assert em == [1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0]
    em_lower = [int(w.lower() in {q.lower() for q in QUESTION}) for w in PASSAGE]
    assert em_lower == [1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]  # what encode_qa's em_lower gives
    assert lemma_exact_match(["went", "goes"], ["go"]) == [1, 1]  # irregular forms


def test_term_frequency_is_the_lower_cased_count_over_the_passage_length() -> None:
    tf = term_frequency(PASSAGE)
    n = len(PASSAGE)  # 12; "The"/"the" count together
    assert tf[0] == pytest.approx(2 / n) and tf[4] == pytest.approx(2 / n)
    assert tf[1] == pytest.approx(1 / n)
    assert sum(tf) == pytest.approx(sum(c * c for c in (2, *[1] * 10)) / n)


def test_drqa_features_give_one_value_per_word_for_each_feature() -> None:
    features = drqa_features(PASSAGE, QUESTION)
    assert tuple(features) == DRQA_FEATURES
    assert all(len(v) == len(PASSAGE) for v in features.values())
    assert features["em_lemma"][2] == 1.0 and features["tf"][2] == pytest.approx(1 / 12)


def test_word_char_ids_are_utf8_bytes_plus_one_padded_and_cut() -> None:
    assert word_char_ids(["ab", "é"], width=3) == [98, 99, 0, 0xC3 + 1, 0xA9 + 1, 0]
    assert word_char_ids(["abcdef"], width=4) == [98, 99, 100, 101]  # cut to the width
    assert max(word_char_ids(["\u00ff\U0001f600"], width=16)) < NUM_CHARS
    assert word_char_ids([], width=4) == []
    with pytest.raises(ValueError, match="width=0"):
        word_char_ids(["a"], width=0)
