"""What a task, decoding and serving may ask of a network, as typed protocols: a network states
its abilities (copying, coverage, position limit) as attributes of these names instead of being
probed with `getattr`. Seq2Seq and TransformerSeq2Seq satisfy `Seq2SeqNetwork`; they, the QA
reader and the retrieval dual encoder satisfy `SentenceEncoder`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from encdec.errors import ConfigError


@runtime_checkable
class Seq2SeqNetwork(Protocol):
    """An encoder-decoder over one token vocabulary of `vocab_size` ids.

    `copy`: it copies source words (pointer-generator) and then returns log-probabilities over
    the extended vocabulary, not logits; `coverage`: its attention keeps a coverage vector (the
    task adds the coverage loss); `max_positions`: the longest source or output it can embed
    (None: no limit).
    """

    vocab_size: int
    copy: bool
    coverage: bool
    max_positions: int | None

    def embeddings(self) -> list[nn.Embedding]: ...

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Any: ...

    def step(self, tokens: torch.Tensor, memory: Any, state: Any) -> Any: ...

    def __call__(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced outputs (a copying network also takes `src_ext`, the extended source
        ids)."""
        ...


@runtime_checkable
class SentenceEncoder(Protocol):
    """A network that gives one vector per text (its "semantic vector", issue 29).

    `poolings`: the poolings it supports (`encdec.models.pooling.POOLINGS`), `default_pooling`
    the one used unless told otherwise; `text_sides`: which of its encoders can read a text
    alone ("source" for a seq2seq model, "question" for the QA reader, "passage" / "question" for
    the retrieval dual encoder), the first the default. `encode_texts` is padding-invariant:
    a text's vector does not depend on the others of its batch.
    """

    poolings: tuple[str, ...]
    default_pooling: str
    text_sides: tuple[str, ...]

    def encode_texts(
        self, tokens: torch.Tensor, lengths: torch.Tensor, pooling: str, side: str
    ) -> torch.Tensor:
        """tokens (B, S) ids, lengths (B,) real lengths (each >= 1) -> (B, D) vectors."""
        ...


def check_side(side: str, sides: tuple[str, ...]) -> str:
    """`side` if this network has an encoder of that name for texts; else a one-line ConfigError."""
    if side not in sides:
        raise ConfigError(
            f"side={side!r} is not available for this model: choose one of {list(sides)}, "
            f"e.g. side={sides[0]}."
        )
    return side
