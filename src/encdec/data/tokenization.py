"""Tokenizers from HF `tokenizers`, trained once and cached by content hash.

Translation: a joint subword (BPE) or word-level tokenizer (`tokenizer=bpe|word`). Both keep a
leading '▁' on every word (SentencePiece's Metaspace), so decoding restores the exact spacing of
the raw text and BLEU is computed on detokenized output. Text in scripts written without spaces
(Chinese, Japanese) is split into single characters first when the training text holds enough
of it (`unspaced_share`), so an unspaced sentence is not one giant "word"; decoding still gives
back the exact text. QA: lower-cased words with character offsets (`new_word_tokenizer`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

from encdec.errors import ConfigError
from encdec.files import atomic_path, file_lock

log = logging.getLogger(__name__)

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_TOKENS = [PAD, UNK, BOS, EOS]  # ids 0, 1, 2, 3

#: Characters of scripts written without spaces between words: kana, CJK ideographs (BMP and
#: supplementary planes), CJK and full-width punctuation. Hangul is written with spaces: not here.
UNSPACED_CHARS = (
    "\u3000-\u303f"  # CJK symbols and punctuation (、。「」 and the ideographic space)
    "\u3040-\u30ff\u31f0-\u31ff"  # hiragana, katakana (+ phonetic extensions)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs (+ extension A, compatibility)
    "\uff01-\uff65\uff66-\uff9f"  # full-width punctuation / Latin, half-width katakana
    "\U00020000-\U0002fa1f"  # CJK ideograph extensions B-F and compatibility supplement
)
UNSPACED_RE = re.compile(f"[{UNSPACED_CHARS}]")
#: The tokenizers split unspaced-script text into characters when at least this share of the
#: (non-space) training characters is in such a script: a Chinese or Japanese side of a corpus,
#: not a stray name in a European one. Latin-script corpora never reach it (their tokenizers are
#: exactly those of before: same pre-tokenizer, same cache key).
UNSPACED_SHARE = 0.01


def unspaced_share(texts: Sequence[str], sample: int = 20000) -> float:
    """The share of non-space characters in unspaced scripts, over up to `sample` texts spread
    evenly through `texts` (both sides of a corpus are sampled)."""
    step = max(1, len(texts) // sample)
    unspaced = total = 0
    for text in texts[::step]:
        unspaced += len(UNSPACED_RE.findall(text))
        total += len(text) - text.count(" ")
    return unspaced / total if total else 0.0


def splits_unspaced(texts: Sequence[str]) -> bool:
    """True when the tokenizer trained on `texts` splits unspaced-script text into characters."""
    return unspaced_share(texts) >= UNSPACED_SHARE


def _unspaced_split() -> pre_tokenizers.PreTokenizer:
    """Each unspaced-script character its own piece (with the '▁' of a space before it), so BPE
    merges stay within Latin words and the CJK vocabulary is per character; nothing is removed,
    so decoding restores the text exactly ("我爱 New York" -> ▁我 爱 ▁New ▁York)."""
    return pre_tokenizers.Split(Regex(f"▁?[{UNSPACED_CHARS}]"), behavior="isolated")


def new_bpe_tokenizer(added_tokens: Sequence[str] = (), unspaced: bool = False) -> Tokenizer:
    """SentencePiece-style BPE: words keep a leading '▁', so decoding restores the exact spacing.

    With `added_tokens` (e.g. DialogSum's `#Person1#` speaker tags and the newline between turns,
    added by `train_bpe` once the vocabulary exists) the text between them is pre-tokenized piece
    by piece, so '▁' is prepended only to the first piece ("first"): `#Person1#: Hi` then decodes
    back to itself instead of `#Person1# : Hi`. `unspaced`: split unspaced-script text into
    characters (`_unspaced_split`).
    """
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.NFC()
    scheme = "first" if added_tokens else "always"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)
    if unspaced:
        tok.pre_tokenizer = pre_tokenizers.Sequence([tok.pre_tokenizer, _unspaced_split()])
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


def new_spaced_word_tokenizer(
    unspaced: bool = False, added_tokens: Sequence[str] = ()
) -> Tokenizer:
    """Cased whole words, punctuation split off ("▁Dog", "."), decoded back to the exact text.

    The units pretrained word vectors name, for translation (`tokenizer=word`). `unspaced`:
    unspaced-script text is split into characters (`_unspaced_split`). `added_tokens`: as for
    BPE (`new_bpe_tokenizer`), '▁' only before the first piece between two of them.
    """
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.NFC()
    scheme = "first" if added_tokens else "always"
    steps = [
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme),
        pre_tokenizers.Punctuation(behavior="isolated"),
    ]
    if unspaced:
        steps.insert(1, _unspaced_split())
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)
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


def train_spaced_words(
    texts: Sequence[str],
    vocab_size: int,
    min_frequency: int = 2,
    added_tokens: Sequence[str] = (),
) -> Tokenizer:
    """The `vocab_size` most frequent words seen `min_frequency` times (see above); unspaced
    scripts as characters when `texts` hold enough of them (`splits_unspaced`); `added_tokens`
    kept whole, added after training (see `train_bpe`)."""
    tok = new_spaced_word_tokenizer(splits_unspaced(texts), added_tokens)
    tok = _train(tok, trainers.WordLevelTrainer, texts, vocab_size, min_frequency)
    return _with_added(tok, added_tokens)


def _with_added(tok: Tokenizer, added_tokens: Sequence[str]) -> Tokenizer:
    if added_tokens:
        tok.add_tokens([AddedToken(t, normalized=False) for t in added_tokens])
    return tok


def train_word_level(texts: Iterable[str], vocab_size: int, min_frequency: int = 1) -> Tokenizer:
    """A word vocabulary: the `vocab_size` most frequent words (seen `min_frequency` times)."""
    return _train(new_word_tokenizer(), trainers.WordLevelTrainer, texts, vocab_size, min_frequency)


def train_bpe(
    texts: Sequence[str],
    vocab_size: int,
    min_frequency: int = 2,
    added_tokens: Sequence[str] = (),
) -> Tokenizer:
    """BPE over `texts`; `added_tokens` are never split or normalised and survive decoding.

    They are added after training: added to the empty model they would take ids 0, 1, ... that
    the trainer then gives to the special tokens too (tokenizers 0.23), so both would collide.
    Unspaced scripts are split into characters when `texts` hold enough of them
    (`splits_unspaced`).
    """
    tok = new_bpe_tokenizer(added_tokens, unspaced=splits_unspaced(texts))
    tok = _train(tok, trainers.BpeTrainer, texts, vocab_size, min_frequency)
    return _with_added(tok, added_tokens)


#: `data.tokenizer.kind` -> (trainer, the kind named in its cache key). bpe and word: subwords or
#: cased words of text-to-text tasks; lower_word: QA's lower-cased words with character offsets
#: (cached as "word", as before the tokenizer was a node of its own).
TOKENIZERS: dict[str, tuple[Callable[[Sequence[str], int, int], Tokenizer], str]] = {
    "bpe": (train_bpe, "bpe"),
    "word": (train_spaced_words, "word"),
    "lower_word": (train_word_level, "word"),
}


@dataclass(frozen=True)
class TokenizerSettings:
    """`data.tokenizer` (the tokenizer group): the tokenizer a datamodule trains on its training
    text, once, cached by content hash."""

    kind: str = "bpe"
    vocab_size: int = 8000
    min_frequency: int = 2

    @classmethod
    def of(
        cls,
        node: Mapping[str, Any] | TokenizerSettings | None,
        kinds: Sequence[str],
        default: TokenizerSettings,
    ) -> TokenizerSettings:
        """The settings of a config node (unset keys: `default`'s), its kind one of `kinds`
        (a ConfigError otherwise)."""
        if node is None:
            return default
        if not isinstance(node, TokenizerSettings):  # unset keys: the datamodule's default
            unknown = sorted(set(node) - {f.name for f in dataclasses.fields(cls)})
            if unknown:
                raise ConfigError(
                    f"data.tokenizer.{unknown[0]}: not a tokenizer option (kind, vocab_size, "
                    f"min_frequency); remove it."
                )
            node = dataclasses.replace(default, **dict(node))
        settings = node
        if settings.kind not in kinds:
            raise ConfigError(
                f"data.tokenizer.kind={settings.kind!r} does not fit this data (it takes "
                f"{' | '.join(kinds)}): choose one, e.g. tokenizer={kinds[0]}."
            )
        for name in ("vocab_size", "min_frequency"):
            value = getattr(settings, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(
                    f"data.tokenizer.{name}={value} is not allowed: it must be a positive whole "
                    f"number, e.g. data.tokenizer.{name}={getattr(default, name)}."
                )
        return settings

    def load(
        self, texts: Sequence[str], cache_dir: Path, **settings: Any
    ) -> tuple[Tokenizer, Path]:
        """The tokenizer trained on `texts`, from the cache when it was trained before.
        `settings` go to the trainer (e.g. added_tokens) and into the cache key."""
        train, cached_as = TOKENIZERS[self.kind]
        if settings:
            train = functools.partial(train, **settings)
        return cached_tokenizer(
            cached_as, train, texts, self.vocab_size, self.min_frequency, cache_dir, **settings
        )


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
    train: Callable[[Sequence[str], int, int], Tokenizer],
    texts: Sequence[str],
    vocab_size: int,
    min_frequency: int,
    cache_dir: Path,
    **settings: object,
) -> tuple[Tokenizer, Path]:
    """`train(texts, vocab_size, min_frequency)` once; later calls load it by content hash.

    `settings`: anything else `train` depends on, part of the cache key. Translation tokenizers
    (bpe, word) of text in unspaced scripts add `unspaced=True` (their pre-tokenizer changes),
    so a tokenizer cached before that existed is not reused; others keep their key.
    """
    if kind in ("bpe", "word") and splits_unspaced(texts):
        settings = {**settings, "unspaced": True}
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
    ids = {}
    for name, tok_str in zip(("pad", "unk", "bos", "eos"), SPECIAL_TOKENS, strict=True):
        token_id = tok.token_to_id(tok_str)
        assert token_id is not None, f"every encdec tokenizer holds {tok_str}"
        ids[name] = token_id
    return ids
