"""Search over a trained model's outputs: greedy and beam search, and best answer spans."""

from encdec.decoding.beam_search import beam_search
from encdec.decoding.greedy import greedy_decode
from encdec.decoding.spans import best_spans
from encdec.decoding.types import DecodingSettings, Hypothesis, max_output_lengths

__all__ = [
    "DecodingSettings",
    "Hypothesis",
    "beam_search",
    "best_spans",
    "greedy_decode",
    "max_output_lengths",
]
