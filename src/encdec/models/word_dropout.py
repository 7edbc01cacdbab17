"""Word dropout: a whole token's embedding zeroed in training, the same for every dimension.

Ordinary dropout zeroes single coordinates, so a word always leaves a trace; dropping the whole
vector makes the network predict without some of its input words, a regulariser that helps NMT on
small corpora (Sennrich et al. 2016, "Edinburgh Neural Machine Translation Systems for WMT 16";
Gal & Ghahramani 2016). Kept words are scaled by 1 / (1 - p), as nn.Dropout does, so evaluation
needs no change.
"""

from __future__ import annotations

import torch
from torch import nn

from encdec.models.options import check_dropout


class WordDropout(nn.Module):
    """(B, S, E) embeddings -> the same with each token's vector kept with probability 1 - p."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        check_dropout(p, "word_dropout", 0.1)
        self.p = p

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return embedded
        keep = torch.empty_like(embedded[..., :1]).bernoulli_(1 - self.p)  # (B, S, 1)
        return embedded * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
