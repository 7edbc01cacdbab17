"""Tokenizers from HF `tokenizers`, trained once and cached by content hash.

Translation: a joint subword (BPE) or word-level tokenizer (`tokenizer=bpe|word`). Both keep a
leading '▁' on every word (SentencePiece's Metaspace), so decoding restores the exact spacing of
the raw text and BLEU is computed on detokenized output. QA: lower-cased words with character
offsets (`new_word_tokenizer`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)

from encdec.files import atomic_path, file_lock

log = logging.getLogger(__name__)

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_TOKENS = [PAD, UNK, BOS, EOS]  # ids 0, 1, 2, 3


def new_bpe_tokenizer(added_tokens: Sequence[str] = ()) -> Tokenizer:
    """SentencePiece-style BPE: words keep a leading '▁', so decoding restores the exact spacing.

    With `added_tokens` (e.g. DialogSum's `#Person1#` speaker tags and the newline between turns,
    added by `train_bpe` once the vocabulary exists) the text between them is pre-tokenized piece
    by piece, so '▁' is prepended only to the first piece ("first"): `#Person1#: Hi` then decodes
    back to itself instead of `#Person1# : Hi`.
    """
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.NFC()
    scheme = "first" if added_tokens else "always"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)
    return tok


def new_word_tokenizer() -> Tokenizer:
    """Lower-cased words and single punctuation marks, each with its character span.

    The BERT pre-tokenizer splits at any Unicode whitespace (NBSP included) and around every
    punctuation mark; zero-width characters are dropped by the normalizer. Offsets always index
    the original string, so `text[start:end]` of any token span is an exact substring.
    """
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex("[\u200b-\u200f\u2060\ufeff]"), ""), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def new_spaced_word_tokenizer() -> Tokenizer:
    """Cased whole words, punctuation split off ("▁Dog", "."), decoded back to the exact text.

    The units pretrained word vectors name, for translation (`tokenizer=word`).
    """
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Punctuation(behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


def _train(
    tok: Tokenizer, trainer_class, texts: Iterable[str], vocab_size: int, min_frequency: int
):
    trainer = trainer_class(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def train_spaced_words(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """The `vocab_size` most frequent words seen `min_frequency` times (see above)."""
    return _train(
        new_spaced_word_tokenizer(), trainers.WordLevelTrainer, texts, vocab_size, min_frequency
    )


def train_word_level(texts: Iterable[str], vocab_size: int, min_frequency: int = 1) -> Tokenizer:
    """A word vocabulary: the `vocab_size` most frequent words (seen `min_frequency` times)."""
    return _train(new_word_tokenizer(), trainers.WordLevelTrainer, texts, vocab_size, min_frequency)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    min_frequency: int = 2,
    added_tokens: Sequence[str] = (),
) -> Tokenizer:
    """BPE over `texts`; `added_tokens` are never split or normalised and survive decoding.

    They are added after training: added to the empty model they would take ids 0, 1, ... that
    the trainer then gives to the special tokens too (tokenizers 0.23), so both would collide.
    """
    tok = new_bpe_tokenizer(added_tokens)
    tok = _train(tok, trainers.BpeTrainer, texts, vocab_size, min_frequency)
    if added_tokens:
        tok.add_tokens([AddedToken(t, normalized=False) for t in added_tokens])
    return tok


#: Translation tokenizers by `data.tokenizer_type` (the `tokenizer` config group).
TRANSLATION_TOKENIZERS: dict[str, Callable[[list[str], int, int], Tokenizer]] = {
    "bpe": train_bpe,
    "word": train_spaced_words,
}


def translation_trainer(kind: str) -> Callable[[list[str], int, int], Tokenizer]:
    try:
        return TRANSLATION_TOKENIZERS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown tokenizer {kind!r}; choose one of {sorted(TRANSLATION_TOKENIZERS)} "
            f"(e.g. tokenizer=word)."
        ) from None


#: Part of the cache keys of tokenizers and encoded datasets: bumped when the way they are built
#: changes, so stale caches are rebuilt (2: added tokens after training; the `oov` column).
CACHE_FORMAT = 2


def fingerprint(texts: Iterable[str], **settings: object) -> str:
    """A hash of the texts, the settings and CACHE_FORMAT: the key of every cached artefact."""
    h = hashlib.sha256(json.dumps({**settings, "format": CACHE_FORMAT}, sort_keys=True).encode())
    for text in texts:
        h.update(text.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def cached_tokenizer(
    kind: str,
    train: Callable[[list[str], int, int], Tokenizer],
    texts: list[str],
    vocab_size: int,
    min_frequency: int,
    cache_dir: Path,
    **settings: object,
) -> tuple[Tokenizer, Path]:
    """`train(texts, vocab_size, min_frequency)` once; later calls load it by content hash.

    `settings`: anything else `train` depends on, part of the cache key.
    """
    key = fingerprint(
        texts,
        kind=kind,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        **settings,
    )
    path = Path(cache_dir) / "tokenizers" / f"{kind}-{key}.json"
    if path.is_file():
        log.info("Tokenizer loaded from cache %s", path)
        return Tokenizer.from_file(str(path)), path
    # One process trains it (DDP ranks and parallel runs may start on a cold cache together);
    # the others wait for the lock, then load the file it wrote.
    with file_lock(path):
        if path.is_file():
            log.info("Tokenizer loaded from cache %s (trained by another process)", path)
            return Tokenizer.from_file(str(path)), path
        log.info("Training a %d-token %s tokenizer on %d texts", vocab_size, kind, len(texts))
        tok = train(texts, vocab_size, min_frequency)
        with atomic_path(path) as tmp:
            tok.save(str(tmp))
    return tok, path


def placeholder_tokenizer() -> Tokenizer:
    """A vocabulary of the special tokens and a few words: networks built on it check their
    settings before any data is read (encdec.build.check_config)."""
    words = [*SPECIAL_TOKENS, *(f"w{i}" for i in range(8))]
    return Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK))


def special_ids(tok: Tokenizer) -> dict[str, int]:
    return {
        name: tok.token_to_id(tok_str)
        for name, tok_str in zip(("pad", "unk", "bos", "eos"), SPECIAL_TOKENS, strict=True)
    }
