"""The word-level tokenizer beside BPE: words and punctuation, exact detokenization, vocabulary
limits, and the content-hash cache, on real Multi30k text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from encdec.data.readers import read_lines
from encdec.data.tokenization import (
    SPECIAL_TOKENS,
    UNK,
    TokenizerSettings,
    cached_tokenizer,
    new_spaced_word_tokenizer,
    train_bpe,
    train_spaced_words,
)
from encdec.errors import ConfigError


@pytest.fixture(scope="module")
def texts(data_dir: Path) -> list[str]:
    folder = data_dir / "multi30k"
    return read_lines(folder / "train.en.gz")[:2000] + read_lines(folder / "train.de.gz")[:2000]


def test_word_tokens_are_words_and_punctuation(texts: list[str]) -> None:
    tok = train_spaced_words(texts, 20_000, 1)
    assert tok.encode(texts[0]).tokens == [
        "▁Two", "▁young", ",", "▁White", "▁males", "▁are", "▁outside", "▁near", "▁many",
        "▁bushes", ".",
    ]  # fmt: skip


def test_word_decoding_restores_the_raw_text(texts: list[str]) -> None:
    """Detokenized output is what sacreBLEU scores: every known sentence comes back exactly."""
    tok = train_spaced_words(texts, 20_000, 1)
    unk = tok.token_to_id(UNK)
    for text in texts:
        ids = tok.encode(text).ids
        assert unk not in ids
        assert tok.decode(ids) == text


def test_vocabulary_size_and_min_frequency(texts: list[str]) -> None:
    split = new_spaced_word_tokenizer().pre_tokenizer.pre_tokenize_str
    counts = Counter(word for text in texts for word, _ in split(text))
    tok = train_spaced_words(texts, 100_000, 3)
    assert set(tok.get_vocab()) == {w for w, n in counts.items() if n >= 3} | set(SPECIAL_TOKENS)
    assert 1000 < tok.get_vocab_size() < len(counts)
    small = train_spaced_words(texts, 500, 1)
    assert small.get_vocab_size() == 500
    assert [small.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    # A rare word is unknown to the small vocabulary and maps to <unk>.
    assert small.token_to_id(UNK) in small.encode("The xylophonist smiles.").ids


def test_cache_is_keyed_by_kind_and_reused(texts: list[str], tmp_path: Path) -> None:
    word, word_path = cached_tokenizer("word", train_spaced_words, texts, 3000, 2, tmp_path)
    bpe, bpe_path = cached_tokenizer("bpe", train_bpe, texts, 3000, 2, tmp_path)
    assert word_path != bpe_path and word_path.name.startswith("word-")
    assert word.encode("xylophonist").tokens == [UNK]
    assert len(bpe.encode("xylophonist").tokens) > 1  # subwords: no unknown words

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of loading the cache")

    again, again_path = cached_tokenizer("word", no_training, texts, 3000, 2, tmp_path)
    assert again_path == word_path and again.to_str() == word.to_str()


def test_settings_name_the_kinds_a_datamodule_takes() -> None:
    default = TokenizerSettings()
    with pytest.raises(ConfigError, match=r"kind='sentencepiece'.*bpe \| word.*tokenizer=bpe"):
        TokenizerSettings.of({"kind": "sentencepiece"}, ("bpe", "word"), default)
    with pytest.raises(ConfigError, match=r"data.tokenizer.vocab_size=0.*positive"):
        TokenizerSettings.of({"vocab_size": 0}, ("bpe",), default)
    with pytest.raises(ConfigError, match=r"data.tokenizer.type: not a tokenizer option"):
        TokenizerSettings.of({"type": "bpe"}, ("bpe",), default)
    assert TokenizerSettings.of(None, ("bpe",), default) is default
    assert TokenizerSettings.of({"kind": "word"}, ("bpe", "word"), default).vocab_size == 8000


def test_the_word_tokenizer_keeps_added_tokens_whole_and_round_trips() -> None:
    """`task=summarization tokenizer=word`: DialogSum's speaker tags and turn breaks stay whole
    tokens, and decoding gives the dialogue back exactly."""
    from encdec.data.seq2seq import TOKEN_SETS
    from encdec.data.tokenization import train_spaced_words

    texts = ["#Person1#: Hi, Mr. Smith.\n#Person2#: Hello, doctor!"] * 3
    tok = train_spaced_words(texts, 100, 1, TOKEN_SETS["dialogsum"])
    encoding = tok.encode(texts[0])
    assert encoding.tokens[:2] == ["#Person1#", ":"] and "\n" in encoding.tokens
    assert tok.decode(encoding.ids, skip_special_tokens=False) == texts[0]
