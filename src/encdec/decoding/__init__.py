"""Search over a trained model's outputs: greedy and beam search, and best answer spans."""

from encdec.decoding.beam_search import beam_search
from encdec.decoding.greedy import Hypothesis, greedy_decode, max_output_lengths
from encdec.decoding.spans import best_spans

__all__ = ["Hypothesis", "beam_search", "best_spans", "greedy_decode", "max_output_lengths"]
