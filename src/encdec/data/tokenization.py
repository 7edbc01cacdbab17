"""Joint tokenizers from HF `tokenizers`: subword (BPE) or word-level, trained once and cached.

Both keep a leading '▁' on every word (SentencePiece's Metaspace), so decoding restores the
exact spacing of the raw text and BLEU is computed on detokenized output.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

log = logging.getLogger(__name__)

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_TOKENS = [PAD, UNK, BOS, EOS]  # ids 0, 1, 2, 3


def new_bpe_tokenizer() -> Tokenizer:
    """SentencePiece-style BPE: words keep a leading '▁', so decoding restores the exact spacing."""
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


def new_word_tokenizer() -> Tokenizer:
    """Whole words, punctuation split off ("▁dog", "."): the units pretrained word vectors name."""
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


#: tokenizer kind (the `tokenizer` config group) -> (empty tokenizer, its trainer class)
KINDS = {
    "bpe": (new_bpe_tokenizer, trainers.BpeTrainer),
    "word": (new_word_tokenizer, trainers.WordLevelTrainer),
}


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(
            f"Unknown tokenizer {kind!r}; choose one of {sorted(KINDS)} (e.g. tokenizer=word)."
        )


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int = 2, kind: str = "bpe"
) -> Tokenizer:
    """Train a `kind` tokenizer of at most `vocab_size` tokens, each seen `min_frequency` times."""
    check_kind(kind)
    new, trainer_class = KINDS[kind]
    tok = new()
    trainer = trainer_class(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def fingerprint(texts: Iterable[str], **settings: object) -> str:
    """A hash of the training text and the settings: equal inputs give an equal tokenizer."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for text in texts:
        h.update(text.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def cached_tokenizer(
    texts: list[str], vocab_size: int, min_frequency: int, cache_dir: Path, kind: str = "bpe"
) -> tuple[Tokenizer, Path]:
    """Load the tokenizer for these texts from the cache, training it only the first time."""
    check_kind(kind)
    key = fingerprint(texts, kind=kind, vocab_size=vocab_size, min_frequency=min_frequency)
    path = Path(cache_dir) / "tokenizers" / f"{kind}-{key}.json"
    if path.is_file():
        log.info("Tokenizer loaded from cache %s", path)
        return Tokenizer.from_file(str(path)), path
    log.info("Training a %d-token %s tokenizer on %d texts", vocab_size, kind, len(texts))
    tok = train_tokenizer(texts, vocab_size, min_frequency, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tok.save(str(tmp))
    tmp.replace(path)
    return tok, path


def cached_bpe(
    texts: list[str], vocab_size: int, min_frequency: int, cache_dir: Path
) -> tuple[Tokenizer, Path]:
    """The BPE case of `cached_tokenizer` (kept for callers that predate the word tokenizer)."""
    return cached_tokenizer(texts, vocab_size, min_frequency, cache_dir, kind="bpe")


def special_ids(tok: Tokenizer) -> dict[str, int]:
    return {
        name: tok.token_to_id(tok_str)
        for name, tok_str in zip(("pad", "unk", "bos", "eos"), SPECIAL_TOKENS, strict=True)
    }
