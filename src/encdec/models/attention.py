"""Attention over a sequence of keys (encoder states), with padding masked.

Every attention here takes queries of shape (B, T, Dq) so one module serves both a decoder
(T = 1 query per step) and a reader that aligns every passage token with the question (T = passage
length). Scores at padded key positions are set to -inf before the softmax, so their weights are
exactly 0 and padding can never leak into the context vector.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Base class: subclasses define `score`; `forward` masks, normalises and mixes the values.

    With `coverage=True` (See et al., 2017) `forward` also takes the coverage vector c (B, S), the
    sum of the attention of earlier steps, and `coverage_score` adds a learned function of it to
    the scores, so the model can learn not to attend again where it already has.
    """

    def __init__(self, query_dim: int, key_dim: int, coverage: bool = False) -> None:
        super().__init__()
        self.query_dim = query_dim
        self.key_dim = key_dim
        self.coverage = coverage
        # Default coverage feature: a learned scalar times c_i, added to the score. Additive
        # scores override it with w_c c_i inside their tanh (the paper's form).
        self.coverage_weight = nn.Parameter(torch.zeros(())) if coverage else None

    def coverage_score(
        self, query: torch.Tensor, proj_keys: torch.Tensor, coverage: torch.Tensor
    ) -> torch.Tensor:
        """Scores (B, T, S) with coverage (B, S): here e_i + w c_i (Luong dot / general)."""
        assert self.coverage_weight is not None  # built with coverage=True
        return self.score(query, proj_keys) + self.coverage_weight * coverage.unsqueeze(1)

    def precompute_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """Project the keys once per sequence (not once per decoder step). Identity by default."""
        return keys

    def score(self, query: torch.Tensor, proj_keys: torch.Tensor) -> torch.Tensor:
        """query (B, T, Dq), proj_keys (B, S, *) -> unnormalised scores (B, T, S)."""
        raise NotImplementedError

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor,
        proj_keys: torch.Tensor | None = None,
        coverage: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (context (B, T, Dk), weights (B, T, S)).

        query: (B, T, Dq); keys: (B, S, Dk), also used as values; mask: (B, S), True at real tokens.
        proj_keys: the result of `precompute_keys(keys)`, passed in by callers that loop over steps.
        coverage: (B, S) attention summed over earlier steps (only with `coverage=True`).
        """
        if proj_keys is None:
            proj_keys = self.precompute_keys(keys)
        if coverage is not None:
            scores = self.coverage_score(query, proj_keys, coverage)  # (B, T, S)
        else:
            scores = self.score(query, proj_keys)  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T, S); exactly 0 at padding
        context = torch.bmm(weights, keys)  # (B, T, Dk)
        return context, weights


class AdditiveScore(nn.Module):
    """e = v^T tanh(W_q q + W_k k + b): the additive score shared by Bahdanau and Luong 'concat'."""

    def __init__(
        self, query_dim: int, key_dim: int, attention_dim: int, coverage: bool = False
    ) -> None:
        super().__init__()
        self.key_layer = nn.Linear(key_dim, attention_dim, bias=False)
        self.query_layer = nn.Linear(query_dim, attention_dim, bias=True)
        self.energy_layer = nn.Linear(attention_dim, 1, bias=False)
        # See et al. (2017), eq. 11: e = v^T tanh(W_q q + W_k k_i + w_c c_i + b).
        self.coverage_layer = nn.Linear(1, attention_dim, bias=False) if coverage else None

    def forward(
        self, query: torch.Tensor, proj_keys: torch.Tensor, coverage: torch.Tensor | None = None
    ) -> torch.Tensor:
        q = self.query_layer(query)  # (B, T, A)
        keys = proj_keys
        if coverage is not None:
            assert self.coverage_layer is not None  # built with coverage=True
            keys = keys + self.coverage_layer(coverage.unsqueeze(-1))  # (B, S, A)
        # (B, T, 1, A) + (B, 1, S, A) -> (B, T, S, A) -> (B, T, S)
        return self.energy_layer(torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)


class BahdanauAttention(Attention):
    """Additive attention (Bahdanau et al., 2015): e_{t,i} = v_a^T tanh(W_a [h_t; s_i] + b_a).

    W_a [h_t; s_i] is split into W_q h_t + W_k s_i so the key half is computed once per sequence.
    """

    def __init__(
        self,
        query_dim: int,
        key_dim: int,
        attention_dim: int | None = None,
        coverage: bool = False,
    ) -> None:
        super().__init__(query_dim, key_dim)
        self.coverage = coverage
        self.additive = AdditiveScore(query_dim, key_dim, attention_dim or query_dim, coverage)

    def precompute_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.additive.key_layer(keys)  # (B, S, A)

    def score(self, query: torch.Tensor, proj_keys: torch.Tensor) -> torch.Tensor:
        return self.additive(query, proj_keys)

    def coverage_score(
        self, query: torch.Tensor, proj_keys: torch.Tensor, coverage: torch.Tensor
    ) -> torch.Tensor:
        return self.additive(query, proj_keys, coverage)


class LuongAttention(Attention):
    """Multiplicative attention (Luong et al., 2015) with the paper's three scores.

    - dot:     e = h_t^T s_i                  (needs query_dim == key_dim)
    - general: e = h_t^T W_a s_i              (W_a applied to the keys once per sequence)
    - concat:  e = v_a^T tanh(W_a [h_t; s_i]) (the additive form)
    """

    SCORES = ("dot", "general", "concat")

    def __init__(
        self,
        query_dim: int,
        key_dim: int,
        score: str = "general",
        attention_dim: int | None = None,
        coverage: bool = False,
    ) -> None:
        # Coverage: dot / general add w c_i to the score; concat puts w_c c_i inside its tanh.
        super().__init__(query_dim, key_dim, coverage=coverage and score != "concat")
        self.coverage = coverage
        if score not in self.SCORES:
            raise ValueError(f"LuongAttention score must be one of {self.SCORES}, got {score!r}.")
        if score == "dot" and query_dim != key_dim:
            raise ValueError(
                f"attention=luong_dot needs the decoder state size ({query_dim}) to equal the encoder "
                f"state size ({key_dim}); use attention=luong_general or make the sizes equal."
            )
        self.score_name = score
        if score == "general":
            self.key_layer = nn.Linear(key_dim, query_dim, bias=False)
        elif score == "concat":
            self.additive = AdditiveScore(query_dim, key_dim, attention_dim or query_dim, coverage)

    def precompute_keys(self, keys: torch.Tensor) -> torch.Tensor:
        if self.score_name == "general":
            return self.key_layer(keys)  # (B, S, Dq)
        if self.score_name == "concat":
            return self.additive.key_layer(keys)  # (B, S, A)
        return keys

    def score(self, query: torch.Tensor, proj_keys: torch.Tensor) -> torch.Tensor:
        if self.score_name == "concat":
            return self.additive(query, proj_keys)
        return torch.bmm(query, proj_keys.transpose(1, 2))  # (B, T, S)

    def coverage_score(
        self, query: torch.Tensor, proj_keys: torch.Tensor, coverage: torch.Tensor
    ) -> torch.Tensor:
        if self.score_name == "concat":
            return self.additive(query, proj_keys, coverage)
        return super().coverage_score(query, proj_keys, coverage)
