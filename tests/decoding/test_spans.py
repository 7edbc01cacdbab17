"""The vectorised best-span search against a brute-force loop over every (start, end) pair."""

from __future__ import annotations

import pytest
import torch

from encdec.decoding.spans import best_spans


def brute_force(start: torch.Tensor, end: torch.Tensor, length: int, max_len: int):
    best = (float("-inf"), -1, -1)
    for i in range(length):
        for j in range(i, min(i + max_len, length)):
            score = float(start[i] + end[j])
            if score > best[0]:
                best = (score, i, j)
    return best


@pytest.mark.parametrize("max_len", [1, 3, 15, 40])
def test_best_spans_agree_with_brute_force(max_len: int) -> None:
    gen = torch.Generator().manual_seed(max_len)
    lengths = torch.tensor([1, 2, 7, 15, 16, 30, 30])
    start = torch.randn(len(lengths), 30, generator=gen) * 3
    end = torch.randn(len(lengths), 30, generator=gen) * 3
    padding = torch.arange(30)[None, :] >= lengths[:, None]
    start, end = start.masked_fill(padding, float("-inf")), end.masked_fill(padding, float("-inf"))

    starts, ends, scores = best_spans(start.log_softmax(-1), end.log_softmax(-1), max_len)

    for b, length in enumerate(lengths.tolist()):
        score, i, j = brute_force(start[b].log_softmax(-1), end[b].log_softmax(-1), length, max_len)
        assert (starts[b].item(), ends[b].item()) == (i, j)
        assert scores[b].item() == pytest.approx(score, abs=1e-5)
    assert bool((ends >= starts).all()) and bool((ends - starts < max_len).all())
    assert bool((ends < lengths).all())  # never a padding position


def test_a_far_end_outside_the_limit_is_never_chosen() -> None:
    start = torch.tensor([[5.0, 0.0, 0.0, 0.0, 0.0]])
    end = torch.tensor([[0.0, 0.0, 0.0, 0.0, 9.0]])  # best pair (0, 4) is 5 tokens long
    starts, ends, _ = best_spans(start, end, max_len=4)
    assert (starts.item(), ends.item()) in {(1, 4)}  # the best span within 4 tokens
    starts, ends, _ = best_spans(start, end, max_len=5)
    assert (starts.item(), ends.item()) == (0, 4)


def test_top_spans_start_with_the_best_span() -> None:
    from encdec.decoding.spans import top_spans

    gen = torch.Generator().manual_seed(0)
    start = torch.randn(5, 20, generator=gen).log_softmax(-1)
    end = torch.randn(5, 20, generator=gen).log_softmax(-1)
    best = best_spans(start, end, 6)
    starts, ends, scores = top_spans(start, end, 6, n=4)
    assert scores.shape == (5, 4)
    assert torch.equal(starts[:, 0], best[0]) and torch.equal(ends[:, 0], best[1])
    assert torch.all(scores[:, :-1] >= scores[:, 1:])
    assert torch.all((ends >= starts) & (ends - starts < 6))
    for b in range(5):  # each score is the start's plus the end's
        for s, e, score in zip(starts[b], ends[b], scores[b], strict=True):
            assert float(score) == pytest.approx(float(start[b, s] + end[b, e]))
