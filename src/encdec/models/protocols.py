"""What a task, decoding and serving may ask of a network, as typed protocols: a network states
its abilities (copying, coverage, position limit) as attributes of these names instead of being
probed with `getattr`. Seq2Seq and TransformerSeq2Seq satisfy `Seq2SeqNetwork`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


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
