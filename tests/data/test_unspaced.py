"""Languages written without spaces (Chinese, Japanese): the translation tokenizers split them into
characters, give every sentence back exactly, and leave Latin-script tokenizers as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from encdec.data.readers import read_lines
from encdec.data.tokenization import (
    UNK,
    cached_tokenizer,
    fingerprint,
    new_bpe_tokenizer,
    new_spaced_word_tokenizer,
    splits_unspaced,
    train_bpe,
    train_spaced_words,
    unspaced_share,
)
from tests.support.cjk_corpus import MIXED, chinese_english, japanese_english, split_pairs

CORPORA = {"zh-en": chinese_english(), "ja-en": japanese_english()}


def sides(pairs: list[tuple[str, str]], source_first: bool) -> list[str]:
    """The joint training text of a direction: every source, then every target."""
    src, tgt = zip(*pairs, strict=True)
    return [*src, *tgt] if source_first else [*tgt, *src]


@pytest.mark.parametrize("corpus", sorted(CORPORA))
@pytest.mark.parametrize("to_english", [True, False], ids=["to-en", "from-en"])
@pytest.mark.parametrize("trainer", [train_bpe, train_spaced_words], ids=["bpe", "word"])
def test_every_sentence_round_trips(corpus: str, to_english: bool, trainer) -> None:
    """decode(encode(x)) == x for every sentence of every split, both directions, and for the
    mixed-script lines (Latin names, digits, full-width punctuation, double spaces)."""
    splits = split_pairs(CORPORA[corpus])
    texts = sides(splits["train"], to_english) + MIXED
    tok = trainer(texts, 4000, 1)
    assert splits_unspaced(texts)
    unk = tok.token_to_id(UNK)
    every = [s for pairs in splits.values() for pair in pairs for s in pair] + MIXED
    for text in every:
        ids = tok.encode(text).ids
        assert unk not in ids, text
        assert tok.decode(ids) == text


def test_unspaced_text_is_split_into_characters() -> None:
    """A Chinese sentence is not one 'word': its pieces are single characters (with the '▁' of
    the sentence start or of a space), so BPE merges stay within words of spaced scripts."""
    texts = sides(chinese_english(), True) + MIXED
    tok = train_bpe(texts, 4000, 1)
    assert tok.encode("我昨天买了一本书。").tokens == [
        "▁我", "昨", "天", "买", "了", "一", "本", "书", "。",
    ]  # fmt: skip
    assert tok.encode("我在 New York 住了 3 年。").tokens[:4] == ["▁我", "在", "▁New", "▁York"]
    for token in tok.get_vocab():
        if splits_unspaced([token]):
            assert len(token.lstrip("▁")) == 1, token


def test_without_splitting_a_sentence_is_one_word() -> None:
    """What the split prevents: with the plain Metaspace pre-tokenizer a whole unspaced
    sentence is a single pre-token, so BPE learns whole sentences as tokens."""
    pieces = new_bpe_tokenizer().pre_tokenizer.pre_tokenize_str("我昨天买了一本书。")
    assert [p for p, _ in pieces] == ["▁我昨天买了一本书。"]
    split = new_bpe_tokenizer(unspaced=True).pre_tokenizer.pre_tokenize_str("我昨天买了一本书。")
    assert len(split) == 9


def test_latin_tokenizers_are_unchanged(data_dir: Path, tmp_path: Path) -> None:
    """Latin-script text (Multi30k, which holds no CJK character) gets exactly the tokenizer of
    before: the plain pre-tokenizer and the cache key without the `unspaced` setting."""
    folder = data_dir / "multi30k"
    texts = read_lines(folder / "train.en.gz")[:2000] + read_lines(folder / "train.de.gz")[:2000]
    assert unspaced_share(texts) == 0.0
    bpe = train_bpe(texts, 2000, 2)
    assert bpe.pre_tokenizer.__getstate__() == new_bpe_tokenizer().pre_tokenizer.__getstate__()
    word = train_spaced_words(texts, 2000, 2)
    assert (
        word.pre_tokenizer.__getstate__()
        == new_spaced_word_tokenizer().pre_tokenizer.__getstate__()
    )
    _, latin_path = cached_tokenizer("bpe", train_bpe, texts, 2000, 2, tmp_path)
    key = fingerprint(texts, kind="bpe", vocab_size=2000, min_frequency=2)  # the recipe of before
    assert latin_path.name == f"bpe-{key}.json"
    assert "Split" not in latin_path.read_text()
    zh = sides(chinese_english(), True)
    _, zh_path = cached_tokenizer("bpe", train_bpe, zh, 2000, 2, tmp_path)
    zh_key = fingerprint(zh, kind="bpe", vocab_size=2000, min_frequency=2, unspaced=True)
    assert zh_path.name == f"bpe-{zh_key}.json"
    assert "Split" in zh_path.read_text()


def test_a_stray_ideograph_does_not_switch_a_corpus() -> None:
    """A few CJK names in a European corpus stay under the threshold: behaviour unchanged."""
    texts = ["A man walks his dog in the park near the river."] * 200 + ["Tokyo (東京) is big."]
    assert 0 < unspaced_share(texts) < 0.01
    assert not splits_unspaced(texts)
