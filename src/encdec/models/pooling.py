"""Pooling: how an encoder's outputs become one vector per text, as a named choice.

Like sentence-transformers' `pooling_mode`, the name is part of what a vector means: vectors
made with one pooling are not comparable with another's, so an index records it.

- `last`: the final hidden state of the top layer, both directions joined, (B, D*H). For a
  forward RNN this is the state after the last real token; for the backward half, the state after
  reading back to the first. It is the founding document's sentence vector (`hidden[-1]` of its
  `nn.LSTM` encoder) and the default for RNN encoders.
- `mean`: the mean of the top layer's token states over real (non-padding) tokens, (B, K). The
  default, and the only choice, for the Transformer, whose positions have no final state.
"""

from __future__ import annotations

import torch

from encdec.errors import ConfigError
from encdec.models.encoder import Encoder, EncoderOutput

#: Every pooling, with what it computes (for messages and docs).
POOLINGS: dict[str, str] = {
    "last": "the top layer's final hidden state, both directions joined (RNN encoders)",
    "mean": "the mean of the top layer's token states over real tokens",
}
RNN_POOLINGS = ("last", "mean")
TRANSFORMER_POOLINGS = ("mean",)
#: The pooling each kind of encoder uses unless told otherwise.
DEFAULT_POOLING = {"rnn": "last", "transformer": "mean"}


def check_pooling(pooling: str, allowed: tuple[str, ...], option: str = "pooling") -> str:
    """The pooling name if this encoder supports it; otherwise a one-line ConfigError."""
    if pooling not in allowed:
        known = "" if pooling in POOLINGS else f" (known: {sorted(POOLINGS)})"
        raise ConfigError(
            f"{option}={pooling!r} is not available for this encoder{known}: choose one of "
            f"{list(allowed)}, e.g. {option}={allowed[0]}."
        )
    return pooling


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """states (B, S, K), mask (B, S) True at real tokens -> (B, K) mean over the real tokens.

    Padding states are masked out, not trusted to be zero (a Transformer's are not).
    """
    weights = mask.to(states.dtype).unsqueeze(-1)  # (B, S, 1)
    total = (states * weights).sum(dim=1)  # (B, K)
    return total / weights.sum(dim=1).clamp(min=1.0)


def pool_rnn(encoder: Encoder, output: EncoderOutput, pooling: str = "last") -> torch.Tensor:
    """One vector per text from an RNN `Encoder`'s output: (B, D*H) for both poolings."""
    check_pooling(pooling, RNN_POOLINGS)
    if pooling == "last":
        return encoder.final_states(output)[0]
    return mean_pool(output.states, output.mask)


def pool_states(states: torch.Tensor, mask: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """One vector per text from per-token states alone (the Transformer's memory): (B, K)."""
    check_pooling(pooling, TRANSFORMER_POOLINGS)
    return mean_pool(states, mask)
