"""What decoding shares: the model interface it needs, its output, and its settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import torch


class StepModel(Protocol):
    """What decoding needs from a model (Seq2Seq and TransformerSeq2Seq satisfy it)."""

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor): ...

    def step(self, tokens: torch.Tensor, memory, state): ...


@dataclass
class Hypothesis:
    """One decoded output: token ids without BOS/EOS, its ranking score (log-probability over
    the length penalty), attention (T, S) if asked for, and its log-probability (the sum over
    its tokens and EOS; None where the search did not record it). A beam search's best
    hypothesis lists the others that finished in `alternatives`, next best first."""

    tokens: list[int]
    score: float
    attention: torch.Tensor | None = None
    log_prob: float | None = None
    alternatives: list[Hypothesis] = dataclasses.field(default_factory=list, repr=False)


#: Upper bounds of what a config or a user may set (the inference input rules,
#: `encdec.inference.inputs.LIMITS`, take theirs from here): beyond them decoding is only slower.
MAX_BEAM_SIZE = 64
MAX_OUTPUT_LENGTH = 1024


@dataclass(frozen=True)
class DecodingSettings:
    """How a task decodes (`task.decoding.*`); evaluation, prediction and serving use a modified
    copy (`replace`), so a trained task's own settings never change under it.

    `beam_size` is the test-time beam (1: greedy), `val_beam_size` the one of validation during
    training. The output budget of a sentence is `max_len_ratio * source length +
    max_len_offset`, at most `max_len_cap` tokens. `length_penalty` is GNMT's alpha;
    `min_length` tokens come before EOS is allowed; `no_repeat_ngram_size` > 0 blocks repeats.
    """

    beam_size: int = 5
    val_beam_size: int = 1
    length_penalty: float = 1.0
    max_len_ratio: float = 1.5
    max_len_offset: int = 10
    max_len_cap: int = 250
    min_length: int = 0
    no_repeat_ngram_size: int = 0

    def __post_init__(self) -> None:
        bounds = {
            "beam_size": (1, MAX_BEAM_SIZE),
            "val_beam_size": (1, MAX_BEAM_SIZE),
            "max_len_cap": (1, MAX_OUTPUT_LENGTH),
            "max_len_offset": (0, MAX_OUTPUT_LENGTH),
            "min_length": (0, MAX_OUTPUT_LENGTH),
            "no_repeat_ngram_size": (0, MAX_OUTPUT_LENGTH),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(
                    f"decoding.{name}={value!r} is out of range: give a whole number from "
                    f"{low} to {high}."
                )
        for name in ("length_penalty", "max_len_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"decoding.{name}={value!r} is out of range: give a number >= 0.")

    def replace(self, **changes: Any) -> DecodingSettings:
        """A copy with the given options changed; None values keep the current ones."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def max_output_lengths(
    src_lengths: torch.Tensor, ratio: float, offset: int, cap: int | None = None
) -> torch.Tensor:
    """Per-sentence output budget: ratio * source length + offset, at most `cap` tokens."""
    lengths = (src_lengths.float() * ratio).long() + offset
    return lengths.clamp(max=cap) if cap else lengths
