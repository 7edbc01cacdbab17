"""The best answer span from start and end scores: argmax of start[i] + end[j], i <= j < i + L."""

from __future__ import annotations

import torch


def best_spans(
    start_logits: torch.Tensor, end_logits: torch.Tensor, max_len: int = 15
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best (start, end, score) per example; each (B,).

    start_logits, end_logits: (B, P), -inf at padding. Scores add, so log-probabilities give
    DrQA's "maximise p_start(i) * p_end(j)". Only spans with 0 <= end - start < max_len count.
    Vectorised: the score of every (start i, length k) pair is start[i] + end[i + k], a (B, P, L)
    tensor, instead of the (B, P, P) start-end matrix.
    """
    batch, length = start_logits.shape
    width = min(max_len, length)
    # end_shifted[b, i, k] = end[b, i + k], -inf past the passage end.
    padded = torch.nn.functional.pad(end_logits, (0, width - 1), value=float("-inf"))
    end_shifted = padded.unfold(1, width, 1)  # (B, P, L)
    scores = start_logits.unsqueeze(2) + end_shifted  # (B, P, L)
    best, flat = scores.flatten(1).max(dim=1)  # (B,)
    start = torch.div(flat, width, rounding_mode="floor")
    return start, start + flat % width, best


def top_spans(
    start_logits: torch.Tensor, end_logits: torch.Tensor, max_len: int = 15, n: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The `n` best (start, end, score) per example, best first; each (B, n').

    As `best_spans`, over the same (start, length) scores; n' = min(n, number of spans), and
    spans past a passage's end (score -inf) may fill the tail of a short passage's row.
    """
    batch, length = start_logits.shape
    width = min(max_len, length)
    padded = torch.nn.functional.pad(end_logits, (0, width - 1), value=float("-inf"))
    scores = start_logits.unsqueeze(2) + padded.unfold(1, width, 1)  # (B, P, L)
    flat = scores.flatten(1)  # (B, P * L)
    best, index = flat.topk(min(n, flat.size(1)), dim=1)  # (B, n')
    start = torch.div(index, width, rounding_mode="floor")
    return start, start + index % width, best
