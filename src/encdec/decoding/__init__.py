"""Search over a trained model's next-token distributions: greedy and beam search."""

from encdec.decoding.beam_search import beam_search
from encdec.decoding.greedy import Hypothesis, greedy_decode, max_output_lengths

__all__ = ["Hypothesis", "beam_search", "greedy_decode", "max_output_lengths"]
