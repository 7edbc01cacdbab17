"""The pointer-generator's extended vocabulary: source-only words get ids past the vocabulary.

A copying network (`model.copy=true`) can output any word of its source, including words the
tokenizer only knows as <unk>. Each example's source-only words are listed in `oov`; the j-th of
them has id V + j (V: the vocabulary size). Encoding (`extend_ids`) and decoding (`detokenize`)
of those ids live here, used by the datasets, the translator and the task alike.
"""

from __future__ import annotations

from tokenizers import Tokenizer


def extend_ids(
    ids: list[int],
    offsets: list[tuple[int, int]],
    text: str,
    unk_id: int,
    vocab_size: int,
    oov: list[str],
    grow: bool = True,
) -> tuple[list[int], list[str]]:
    """Give <unk> pieces extended ids: the j-th word of `oov` is id vocab_size + j.

    The word of an <unk> piece is its surface text (from the tokenizer's offsets). With `grow`
    (the source) new words are appended to `oov`; otherwise (the target) only words already in
    the source's `oov` are extended and the rest stay <unk>, as nothing could copy them.
    """
    out = []
    for i, (start, end) in zip(ids, offsets, strict=False):  # ids may be truncated
        if i == unk_id:
            word = text[start:end]
            if word not in oov and grow:
                oov.append(word)
            if word in oov:
                i = vocab_size + oov.index(word)
        out.append(i)
    return out, oov


def detokenize(
    tokenizer: Tokenizer, tokens: list[int], special: set[int], oov: list[str] | None = None
) -> str:
    """Token ids -> text; extended ids (copied source-only words) become those words."""
    vocab = tokenizer.get_vocab_size()
    if not oov or all(t < vocab for t in tokens):
        return tokenizer.decode(tokens, skip_special_tokens=True)
    pieces = [
        oov[t - vocab] if t >= vocab else tokenizer.id_to_token(t)
        for t in tokens
        if t not in special and t < vocab + len(oov)
    ]
    return tokenizer.decoder.decode(pieces)


def piece(tokenizer: Tokenizer, token: int, oov: list[str]) -> str:
    """The surface piece of one (possibly extended) token id, for attention plots."""
    return tokenizer.id_to_token(token) or oov[token - tokenizer.get_vocab_size()]
