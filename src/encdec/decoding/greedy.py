"""Greedy decoding, batched."""

from __future__ import annotations

import torch

from encdec.decoding.types import Hypothesis, StepModel


@torch.no_grad()
def greedy_decode(
    model: StepModel,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_lengths: torch.Tensor,
    return_attention: bool = False,
) -> list[Hypothesis]:
    """Pick the most likely token at every step; a sentence stops at EOS or at its max length."""
    batch = src.size(0)
    memory, state = model.encode(src, src_lengths)
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    max_lengths = max_lengths.to(src.device)
    outputs, scores, attentions = [], torch.zeros(batch, device=src.device), []
    for t in range(int(max_lengths.max())):
        log_probs, weights, state = model.step(tokens, memory, state)
        best, tokens = log_probs.max(dim=-1)  # (B,), (B,)
        scores += best.masked_fill(finished, 0.0)
        outputs.append(tokens)
        if return_attention and weights is not None:
            attentions.append(weights)
        finished |= (tokens == eos_id) | (t + 1 >= max_lengths)
        if finished.all():
            break
    steps = torch.stack(outputs, dim=1).tolist()  # (B, T)
    attn = torch.stack(attentions, dim=1) if attentions else None  # (B, T, S)
    hyps = []
    for i, row in enumerate(steps):
        row = row[: int(max_lengths[i])]
        length = len(row)  # steps this sentence took: up to its budget...
        if eos_id in row:
            row = row[: row.index(eos_id)]
            length = len(row) + 1  # ...or up to and including EOS
        a = attn[i, :length, : int(src_lengths[i])].cpu() if attn is not None else None
        hyps.append(Hypothesis(tokens=row, score=float(scores[i]), attention=a))
    return hyps
