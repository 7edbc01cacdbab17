"""Texts -> one semantic vector each, the text side of every predictor's `encode` (issue 29).

The network says how a text becomes a vector (`encdec.models.protocols.SentenceEncoder`:
`encode_texts`, its poolings and the encoder that reads a text alone); this module does the rest
once for every task: the input rules of `encdec.inference.inputs`, tokenizing as the model was
trained (no special tokens, as a translation source or a QA question), cutting over-long texts
with a warning, batching texts of similar length and putting the vectors back in input order.

- The result is a float32 CPU tensor (N, D); `.numpy()` makes it a NumPy array.
- A blank text, or one that cannot be used (warned about), gets a vector of zeros.
- A text's vector does not depend on its batch: batched equals one by one (padding-invariant).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tokenizers import Tokenizer

from encdec.data.qa_features import word_char_ids
from encdec.data.squad import char_batch
from encdec.inference import inputs
from encdec.inference.safety import tokenizer_failure
from encdec.models.pooling import check_pooling
from encdec.models.protocols import SentenceEncoder, check_side

Warn = Callable[[int, str], None]
#: What happens to a text that cannot be used (the end of its warning).
ZEROS = "its vector is zeros"


@dataclass(frozen=True)
class TextTokens:
    """One text as the network reads it: its token ids and, for a network that reads each word's
    characters too, their ids (flat, `word_chars` a token; encdec.data.qa_features)."""

    ids: list[int]
    chars: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Encoding:
    """How a predictor's texts become vectors: its network, tokenizer, padding id, the most
    tokens the chosen encoder reads (longer texts are cut to it) and the characters it reads of
    each word (a QA reader with a character encoder; 0: token ids only)."""

    net: SentenceEncoder
    tokenizer: Tokenizer
    pad_id: int
    limit: int
    word_chars: int = 0

    def choose(self, pooling: str | None, side: str | None) -> tuple[str, str]:
        """(pooling, side), the network's defaults for None; ConfigError (a ValueError naming
        the option and the choices) for one this network does not offer."""
        pooling = self.net.default_pooling if pooling is None else pooling
        side = self.net.text_sides[0] if side is None else side
        return check_pooling(pooling, self.net.poolings), check_side(side, self.net.text_sides)

    @property
    def dim(self) -> int:
        """The size of every vector (found by encoding one token)."""
        return int(
            self.vectors([self.text_tokens([self.pad_id + 1], ["a"])], None, None, 1).shape[1]
        )

    def text_tokens(self, ids: list[int], words: list[str]) -> TextTokens:
        """A text's token ids and, when the network reads characters, its words' ids."""
        return TextTokens(ids, word_char_ids(words, self.word_chars) if self.word_chars else [])

    @torch.no_grad()
    def vectors(
        self,
        texts: Sequence[TextTokens],
        pooling: str | None,
        side: str | None,
        batch_size: int,
    ) -> torch.Tensor:
        """Tokens of each text -> (N, D) float32 on the CPU (zeros for an empty one), in
        batches of similar length, in input order."""
        pooling, side = self.choose(pooling, side)
        net: Any = self.net
        device = next(net.parameters()).device
        order = sorted((i for i, t in enumerate(texts) if t.ids), key=lambda i: len(texts[i]))
        found: dict[int, torch.Tensor] = {}
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            lengths = torch.tensor([len(texts[i]) for i in chunk])
            tokens = torch.full((len(chunk), int(lengths.max())), self.pad_id, dtype=torch.long)
            for row, i in enumerate(chunk):
                tokens[row, : len(texts[i])] = torch.tensor(texts[i].ids)
            extra = {}
            if self.word_chars:  # (B, S, word_chars)
                chars = char_batch([texts[i].chars for i in chunk], tokens.size(1), self.word_chars)
                extra["chars"] = chars.to(device)
            out = net.encode_texts(tokens.to(device), lengths.to(device), pooling, side, **extra)
            for row, i in enumerate(chunk):
                found[i] = out[row].float().cpu()  # (D,)
        if not found:  # nothing to encode: the size still comes from the network
            return torch.zeros(len(texts), self.dim)
        dim = next(iter(found.values())).numel()
        zeros = torch.zeros(dim)
        return torch.stack([found.get(i, zeros) for i in range(len(texts))])

    def tokenize(self, texts: list[str], warn: Warn | None) -> list[TextTokens]:
        """Each text's tokens (none for "" or a text the tokenizer fails on: warned about),
        cut to `limit` tokens (warned about)."""
        found: list[TextTokens] = []
        encodings, problems = tokenize_texts(self.tokenizer, texts)
        for i, (encoding, problem) in enumerate(zip(encodings, problems, strict=True)):
            if problem is not None and warn is not None:
                warn(i, f"{problem}; {ZEROS}.")
            ids = list(encoding.ids) if encoding is not None else []
            spans = list(encoding.offsets) if encoding is not None else []
            if len(ids) > self.limit:
                if warn is not None:
                    warn(i, inputs.truncated(len(ids), self.limit))
                ids, spans = ids[: self.limit], spans[: self.limit]
            words = [texts[i][s:e] for s, e in spans] if self.word_chars else []
            found.append(self.text_tokens(ids, words))
        return found

    def encode(
        self,
        texts: list[str],
        pooling: str | None = None,
        side: str | None = None,
        batch_size: int = 64,
        warn: Warn | None = None,
    ) -> torch.Tensor:
        """Checked texts ("" for blank or unusable ones) -> (N, D) float32 vectors."""
        self.choose(pooling, side)  # a wrong option stops before any text is read
        inputs.check_option("batch_size", batch_size, optional=False)
        return self.vectors(self.tokenize(texts, warn), pooling, side, batch_size)


def tokenize_texts(tok: Tokenizer, texts: list[str]) -> tuple[list[Any], list[str | None]]:
    """Each text's tokenizer encoding (no special tokens; None for "") or None and why it failed
    (a tokenizer that fails on one text spoils only that text: the batch is encoded again one
    text at a time). What every predictor tokenizes its texts with."""
    todo = [i for i, t in enumerate(texts) if t]
    encodings: list[Any] = [None] * len(texts)
    problems: list[str | None] = [None] * len(texts)
    try:
        done = tok.encode_batch([texts[i] for i in todo], add_special_tokens=False)
        for i, e in zip(todo, done, strict=True):
            encodings[i] = e
        return encodings, problems
    except BaseException as err:  # noqa: BLE001 (tokenizers' PanicException is a BaseException)
        tokenizer_failure(err)
    for i in todo:
        try:
            encodings[i] = tok.encode(texts[i], add_special_tokens=False)
        except BaseException as err:  # noqa: BLE001
            problems[i] = tokenizer_failure(err)
    return encodings, problems


def api_encode(
    encoding: Encoding, texts: Any, pooling: Any, side: Any, batch_size: Any
) -> torch.Tensor:
    """A predictor's `encode(texts, ...)`: the API's input rules (ValueError for a non-string
    text or an option out of range; InputWarning for an unusable or over-long text)."""
    if pooling is not None and not isinstance(pooling, str):
        raise ValueError(f"pooling must be a name such as 'mean', not {type(pooling).__name__}.")
    if side is not None and not isinstance(side, str):
        raise ValueError(f"side must be a name such as 'question', not {type(side).__name__}.")
    texts = inputs.api_sentences(texts, empty=ZEROS)
    return encoding.encode(texts, pooling, side, batch_size, inputs.warn_sentence)
