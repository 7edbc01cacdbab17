"""Fine-tuning the top-k question words only: after an optimizer step, the other rows stand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from encdec.models.partial_tuning import most_frequent_ids, tune_only_rows


def test_most_frequent_ids_ranks_by_count_and_skips_excluded() -> None:
    questions = [[5, 3, 0, 0], [3, 7, 5, 3], [9, 1, 0]]
    assert most_frequent_ids(questions, k=2, exclude={0, 1}).tolist() == [3, 5]
    assert most_frequent_ids(questions, k=10, exclude={0, 1}).tolist() == [3, 5, 7, 9]
    assert most_frequent_ids(questions, k=0).tolist() == []


@pytest.mark.parametrize("optimizer", [torch.optim.Adam, torch.optim.SGD, torch.optim.Adamax])
def test_only_the_top_k_rows_change_after_a_step(optimizer) -> None:
    torch.manual_seed(0)
    embedding = nn.Embedding(20, 4, padding_idx=0)
    questions = [[2, 3, 4, 2], [3, 2, 5], [6, 2, 3]]
    rows = most_frequent_ids(questions, k=2, exclude={0})  # 2 and 3
    tune_only_rows(embedding, rows)
    before = embedding.weight.detach().clone()
    opt = optimizer(embedding.parameters(), lr=0.1, weight_decay=0.0)
    tokens = torch.tensor([[2, 3, 4, 5, 6, 7, 8, 9]])  # (1, 8): fixed rows get gradient too
    for _ in range(2):
        opt.zero_grad()
        embedding(tokens).pow(2).sum().backward()
        opt.step()
    changed = (embedding.weight.detach() != before).any(dim=1)  # (V,)
    assert changed.nonzero().flatten().tolist() == [2, 3]


def test_removing_the_hook_tunes_every_row_again() -> None:
    embedding = nn.Embedding(6, 3)
    handle = tune_only_rows(embedding, torch.tensor([1]))
    embedding(torch.tensor([1, 4])).sum().backward()
    assert embedding.weight.grad[4].abs().sum() == 0 and embedding.weight.grad[1].abs().sum() > 0
    handle.remove()
    embedding.zero_grad()
    embedding(torch.tensor([1, 4])).sum().backward()
    assert embedding.weight.grad[4].abs().sum() > 0


def test_refuses_rows_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        tune_only_rows(nn.Embedding(6, 3), torch.tensor([2, 6]))
