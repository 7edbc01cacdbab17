"""The encoder's fast padded RNN run computes exactly what packing computes: values and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from encdec.models.padded_rnn import reverse_within_lengths, run_padded

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def packed_reference(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    states, final = rnn(packed)
    states, _ = pad_packed_sequence(states, batch_first=True, total_length=x.size(1))
    return states, final


def flat(final) -> list[torch.Tensor]:
    return list(final) if isinstance(final, tuple) else [final]


def test_reverse_within_lengths_keeps_padding_in_place() -> None:
    x = torch.arange(12).view(2, 6)
    out = reverse_within_lengths(x, torch.tensor([6, 3]))
    assert out.tolist() == [[5, 4, 3, 2, 1, 0], [8, 7, 6, 9, 10, 11]]
    assert torch.equal(reverse_within_lengths(out, torch.tensor([6, 3])), x)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("lengths", [[7, 3, 1, 7, 5], [4, 4, 4, 4, 4]], ids=["ragged", "equal"])
def test_matches_packing(cell: str, bidirectional: bool, num_layers: int, lengths) -> None:
    torch.manual_seed(0)
    rnn = CELLS[cell](6, 5, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
    lengths = torch.tensor(lengths)
    x = torch.randn(len(lengths), int(lengths.max()), 6)
    x_ref, x_fast = x.clone().requires_grad_(), x.clone().requires_grad_()

    states_ref, final_ref = packed_reference(rnn, x_ref, lengths)
    states, final = run_padded(rnn, x_fast, lengths)

    torch.testing.assert_close(states, states_ref)
    mask = torch.arange(x.size(1))[None, :] >= lengths[:, None]
    assert not states[mask].any()  # zeros at padding
    for a, b in zip(flat(final), flat(final_ref), strict=True):
        torch.testing.assert_close(a, b)

    weights = torch.randn_like(states)  # any loss that reads every output
    loss_ref = (states_ref * weights).sum() + sum(f.sum() for f in flat(final_ref))
    loss = (states * weights).sum() + sum(f.sum() for f in flat(final))
    grads_ref = torch.autograd.grad(loss_ref, [x_ref, *rnn.parameters()])
    grads = torch.autograd.grad(loss, [x_fast, *rnn.parameters()])
    for a, b in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(a, b)


def test_refuses_an_rnn_it_cannot_run() -> None:
    rnn = nn.RNN(4, 3, batch_first=True, nonlinearity="relu")
    with pytest.raises(ValueError, match="LSTM/GRU/RNN"):
        run_padded(rnn, torch.randn(2, 3, 4), torch.tensor([3, 2]))
