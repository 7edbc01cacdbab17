"""Encoder: output shapes, equality with the founding document's encoder, padding invariance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from encdec.models import Encoder

VOCAB, EMB, HID = 20, 8, 12
RNN_TYPES = ["lstm", "gru", "rnn"]


def make_encoder(rnn_type: str, bidirectional: bool, num_layers: int = 1, seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    enc = Encoder(
        VOCAB, EMB, HID, num_layers=num_layers, rnn_type=rnn_type, bidirectional=bidirectional
    )
    return enc.eval()


def padded_batch(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids in [4, VOCAB) with 0-padding after each length."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, n in enumerate(lengths):
        src[i, :n] = torch.randint(4, VOCAB, (n,), generator=gen)
    return src, torch.tensor(lengths)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_output_shapes(rnn_type: str, bidirectional: bool, num_layers: int) -> None:
    enc = make_encoder(rnn_type, bidirectional, num_layers)
    src, lengths = padded_batch([5, 3, 7])
    out = enc(src, lengths)
    d = 2 if bidirectional else 1
    assert enc.output_dim == d * HID
    assert out.states.shape == (3, 7, d * HID)
    assert out.hidden.shape == (num_layers * d, 3, HID)
    if rnn_type == "lstm":
        assert out.cell is not None and out.cell.shape == (num_layers * d, 3, HID)
    else:
        assert out.cell is None
    assert out.mask.dtype == torch.bool and out.mask.shape == (3, 7)
    assert out.mask.tolist() == [[j < n for j in range(7)] for n in (5, 3, 7)]
    # Without lengths nothing is padding.
    assert enc(src).mask.all()


def test_unknown_rnn_type_lists_choices() -> None:
    with pytest.raises(ValueError, match="lstm"):
        Encoder(VOCAB, EMB, HID, rnn_type="transformer")


@pytest.mark.parametrize("num_layers", [1, 2])
def test_matches_founding_reference_encoder(num_layers: int) -> None:
    class ReferenceEncoder(nn.Module):
        def __init__(self, vocab_size, embedding_dim, hidden_dim, num_layers):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers, batch_first=True)

        def forward(self, x):
            outputs, (hidden, cell) = self.lstm(self.embedding(x))
            return hidden, cell

    torch.manual_seed(0)
    ref = ReferenceEncoder(VOCAB, EMB, HID, num_layers)
    torch.manual_seed(123)  # different init, so equality can only come from the copy
    enc = Encoder(VOCAB, EMB, HID, num_layers)
    assert enc.rnn_type == "lstm" and enc.num_directions == 1
    with torch.no_grad():
        enc.embedding.weight.copy_(ref.embedding.weight)
        ref_params = dict(ref.lstm.named_parameters())
        enc_params = dict(enc.rnn.named_parameters())
        assert enc_params.keys() == ref_params.keys()
        for name, p in enc_params.items():
            p.copy_(ref_params[name])

    x, _ = padded_batch([6, 6, 6, 6])
    x[1, 2] = 0  # the padding id is an ordinary token when lengths=None
    ref_hidden, ref_cell = ref(x)
    out = enc(x, None)
    torch.testing.assert_close(out.hidden, ref_hidden, atol=1e-6, rtol=0)
    torch.testing.assert_close(out.cell, ref_cell, atol=1e-6, rtol=0)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_equals_each_sentence_alone(rnn_type: str, bidirectional: bool) -> None:
    enc = make_encoder(rnn_type, bidirectional, num_layers=2)
    lengths = [4, 7, 1, 5]
    src, lens = padded_batch(lengths)
    src[lens[:, None] <= torch.arange(src.size(1))] = 5  # padding content must not matter
    batch_out = enc(src, lens)
    for i, n in enumerate(lengths):
        alone = enc(src[i : i + 1, :n], None)
        torch.testing.assert_close(batch_out.states[i, :n], alone.states[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(batch_out.hidden[:, i], alone.hidden[:, 0], atol=1e-5, rtol=0)
        if rnn_type == "lstm":
            torch.testing.assert_close(batch_out.cell[:, i], alone.cell[:, 0], atol=1e-5, rtol=0)
        assert torch.all(batch_out.states[i, n:] == 0)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_final_states_are_top_layer_directions_concatenated(
    rnn_type: str, bidirectional: bool, num_layers: int
) -> None:
    enc = make_encoder(rnn_type, bidirectional, num_layers)
    lengths = [3, 6, 2]
    src, lens = padded_batch(lengths)
    out = enc(src, lens)
    final_hidden, final_cell = enc.final_states(out)
    d = 2 if bidirectional else 1
    assert final_hidden.shape == (3, d * HID)
    # torch orders hidden as (layer0 fwd, layer0 bwd, layer1 fwd, ...): the top layer is last.
    top = out.hidden[-d:]
    expected = top[0] if d == 1 else torch.cat([top[0], top[1]], dim=-1)
    torch.testing.assert_close(final_hidden, expected, atol=0, rtol=0)
    # Cross-check against the per-token states: forward final = state at the last real token,
    # backward final = backward half of the state at position 0.
    for i, n in enumerate(lengths):
        torch.testing.assert_close(
            final_hidden[i, :HID], out.states[i, n - 1, :HID], atol=1e-6, rtol=0
        )
        if bidirectional:
            torch.testing.assert_close(
                final_hidden[i, HID:], out.states[i, 0, HID:], atol=1e-6, rtol=0
            )
    if rnn_type == "lstm":
        top_c = out.cell[-d:]
        expected_c = top_c[0] if d == 1 else torch.cat([top_c[0], top_c[1]], dim=-1)
        torch.testing.assert_close(final_cell, expected_c, atol=0, rtol=0)
    else:
        assert final_cell is None
