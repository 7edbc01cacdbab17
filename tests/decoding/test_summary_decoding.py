"""Beam search options for summaries: n-gram repeat blocking and a minimum length."""

from __future__ import annotations

import pytest
import torch

from encdec.decoding import beam_search
from encdec.decoding.beam_search import block_repeated_ngrams
from tests.decoding.test_decoding import BOS, EOS, make_batch, make_model


class Repeater:
    """A stand-in model that always prefers tokens 5 > 6 > 7 > ... and EOS last-but-one:
    left alone it repeats itself ("5 5 5 ...") and would stop at once if EOS were preferred."""

    def __init__(self, vocab: int = 12, eos_first: bool = False) -> None:
        self.vocab, self.eos_first = vocab, eos_first

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        from encdec.models.decoder import DecoderState, Memory

        b = src.size(0)
        memory = Memory(
            keys=torch.zeros(b, 1, 1), mask=torch.ones(b, 1, dtype=torch.bool), proj_keys=None
        )
        return memory, DecoderState(hidden=torch.zeros(1, b, 1), cell=None, input_feed=None)

    def step(self, tokens: torch.Tensor, memory, state):
        scores = -torch.arange(self.vocab, dtype=torch.float).expand(tokens.size(0), -1).clone()
        scores[:, :5] = -100.0  # pad/unk/bos/eos are unlikely...
        scores[:, EOS] = 1.0 if self.eos_first else -50.0  # ...except EOS when asked
        return torch.log_softmax(scores, dim=-1), None, state


def ngrams(tokens: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def test_block_repeated_ngrams_by_hand() -> None:
    history = torch.tensor([[4, 5, 4, 6, 4], [1, 2, 3, 1, 2]])
    log_probs = torch.zeros(2, 8)
    block_repeated_ngrams(log_probs, history, 2)
    # row 0 ends in 4; bigrams starting with 4: (4,5), (4,6) -> 5 and 6 blocked.
    assert torch.isinf(log_probs[0]).nonzero().view(-1).tolist() == [5, 6]
    # row 1 ends in 2; (2,3) seen -> 3 blocked.
    assert torch.isinf(log_probs[1]).nonzero().view(-1).tolist() == [3]
    log_probs = torch.zeros(2, 8)
    block_repeated_ngrams(log_probs, history, 3)  # row 1 ends in (1, 2): (1,2,3) seen -> 3
    assert torch.isinf(log_probs[0]).sum() == 0
    assert torch.isinf(log_probs[1]).nonzero().view(-1).tolist() == [3]


@pytest.mark.parametrize("beam_size", [1, 3])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_ngram_blocking_never_repeats_an_ngram(beam_size: int, n: int) -> None:
    src, lengths = torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 3])
    budget = torch.tensor([6, 6])
    plain = beam_search(Repeater(), src, lengths, BOS, EOS, budget, beam_size=beam_size)
    assert plain[0].tokens == [5] * 6  # without blocking it repeats itself
    for hyp in beam_search(
        Repeater(), src, lengths, BOS, EOS, budget, beam_size=beam_size, no_repeat_ngram_size=n
    ):
        grams = ngrams(hyp.tokens, n)
        assert len(grams) == len(set(grams)), hyp.tokens
        assert len(hyp.tokens) == 6


@pytest.mark.parametrize("seed", [0, 1])
def test_ngram_blocking_on_a_real_model(seed: int) -> None:
    model = make_model(seed=seed)
    src, lengths, _ = make_batch(seed)
    budget = torch.full_like(lengths, 20)
    for hyp in beam_search(
        model, src, lengths, BOS, EOS, budget, beam_size=4, no_repeat_ngram_size=2
    ):
        grams = ngrams(hyp.tokens, 2)
        assert len(grams) == len(set(grams))


@pytest.mark.parametrize("beam_size", [1, 4])
def test_min_length_holds_back_eos(beam_size: int) -> None:
    src, lengths = torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 3])
    budget = torch.tensor([10, 10])
    model = Repeater(eos_first=True)
    assert all(
        h.tokens == []
        for h in beam_search(model, src, lengths, BOS, EOS, budget, beam_size=beam_size)
    )
    for hyp in beam_search(
        model, src, lengths, BOS, EOS, budget, beam_size=beam_size, min_length=4
    ):
        assert len(hyp.tokens) == 4 and EOS not in hyp.tokens  # EOS as soon as it is allowed


def test_options_off_leave_the_search_unchanged() -> None:
    model = make_model()
    src, lengths, budget = make_batch(0)
    plain = beam_search(model, src, lengths, BOS, EOS, budget, beam_size=4)
    off = beam_search(
        model, src, lengths, BOS, EOS, budget, beam_size=4, min_length=0, no_repeat_ngram_size=0
    )
    assert [h.tokens for h in plain] == [h.tokens for h in off]
