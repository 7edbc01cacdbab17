"""Pooling: `last` is the founding document's `hidden[-1]`, `mean` averages real tokens only, and
a padded batch pools to the same vectors as each text alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from encdec.errors import ConfigError
from encdec.models.encoder import Encoder as EncdecEncoder
from encdec.models.pooling import check_pooling, mean_pool, pool_rnn, pool_states
from encdec.models.transformer import TransformerSeq2Seq

VOCAB, EMB, HID = 30, 8, 12


class Encoder(nn.Module):
    """The founding document's encoder, as it is written there."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, num_layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers, batch_first=True)

    def forward(self, x):
        embedded = self.embedding(x)
        outputs, (hidden, cell) = self.lstm(embedded)
        return hidden, cell


def padded_batch(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids in [4, VOCAB), padded with 0 after each length."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, n in enumerate(lengths):
        src[i, :n] = torch.randint(4, VOCAB, (n,), generator=gen)
    return src, torch.tensor(lengths)


def encdec_copy_of(document: Encoder, num_layers: int) -> EncdecEncoder:
    """An encdec Encoder (unidirectional LSTM) holding the document encoder's weights."""
    torch.manual_seed(123)  # another init than the document's: equality can only come from the copy
    enc = EncdecEncoder(VOCAB, EMB, HID, num_layers, rnn_type="lstm", bidirectional=False)
    with torch.no_grad():
        enc.embedding.weight.copy_(document.embedding.weight)
        theirs = dict(document.lstm.named_parameters())
        ours = dict(enc.rnn.named_parameters())
        assert ours.keys() == theirs.keys()
        for name, p in ours.items():
            p.copy_(theirs[name])
    return enc.eval()


@pytest.mark.parametrize("num_layers", [1, 2])
def test_last_pooling_is_the_founding_documents_hidden(num_layers: int) -> None:
    torch.manual_seed(0)
    document = Encoder(VOCAB, EMB, HID, num_layers).eval()
    enc = encdec_copy_of(document, num_layers)
    x, _ = padded_batch([7, 7, 7])
    with torch.no_grad():
        hidden, _ = document(x)
        vector = pool_rnn(enc, enc(x), "last")  # (B, H)
    assert vector.shape == (3, HID)
    assert torch.equal(vector, hidden[-1])  # the same computation, bit for bit
    # Not trivially equal: another sentence gives another vector.
    assert not torch.allclose(vector[0], vector[1])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_last_pooling_batched_with_padding_equals_document_one_by_one(num_layers: int) -> None:
    torch.manual_seed(0)
    document = Encoder(VOCAB, EMB, HID, num_layers).eval()
    enc = encdec_copy_of(document, num_layers)
    lengths = [5, 9, 1, 6]
    src, lens = padded_batch(lengths)
    src[lens[:, None] <= torch.arange(src.size(1))] = 7  # what fills the padding must not matter
    with torch.no_grad():
        batched = pool_rnn(enc, enc(src, lens), "last")
        for i, n in enumerate(lengths):
            alone_hidden, _ = document(src[i : i + 1, :n])  # the document has no padding: unpadded
            torch.testing.assert_close(batched[i], alone_hidden[-1, 0], atol=1e-6, rtol=0)
            alone = pool_rnn(enc, enc(src[i : i + 1, :n]), "last")
            assert torch.equal(alone[0], alone_hidden[-1, 0])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_rnn_pooling_batched_equals_one_by_one(bidirectional: bool, pooling: str) -> None:
    torch.manual_seed(0)
    enc = EncdecEncoder(VOCAB, EMB, HID, 2, rnn_type="gru", bidirectional=bidirectional).eval()
    lengths = [3, 8, 5]
    src, lens = padded_batch(lengths)
    with torch.no_grad():
        batched = pool_rnn(enc, enc(src, lens), pooling)
        assert batched.shape == (3, enc.output_dim)
        for i, n in enumerate(lengths):
            alone = pool_rnn(enc, enc(src[i : i + 1, :n]), pooling)
            torch.testing.assert_close(batched[i], alone[0], atol=1e-6, rtol=0)


def test_last_joins_both_directions_of_the_top_layer() -> None:
    torch.manual_seed(0)
    enc = EncdecEncoder(VOCAB, EMB, HID, 2, rnn_type="lstm", bidirectional=True).eval()
    src, lens = padded_batch([4, 6])
    with torch.no_grad():
        out = enc(src, lens)
    # torch orders hidden (layer0 fwd, layer0 bwd, layer1 fwd, layer1 bwd): the last two.
    expected = torch.cat([out.hidden[-2], out.hidden[-1]], dim=-1)
    assert torch.equal(pool_rnn(enc, out, "last"), expected)


def test_mean_pool_ignores_padding_states() -> None:
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 7.0], [9, 9], [9, 9]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert mean_pool(states, mask).tolist() == [[2.0, 3.0], [5.0, 7.0]]


def test_transformer_mean_pooling_batched_equals_one_by_one() -> None:
    torch.manual_seed(0)
    model = TransformerSeq2Seq(
        VOCAB, embedding_dim=16, hidden_dim=16, encoder_layers=2, decoder_layers=1,
        num_heads=2, ff_dim=32, dropout=0.0,
    ).eval()  # fmt: skip
    lengths = [4, 7, 2]
    src, lens = padded_batch(lengths)
    with torch.no_grad():
        memory, _ = model.encode(src, lens)
        batched = pool_states(memory.keys, memory.mask)
        assert batched.shape == (3, 16)
        for i, n in enumerate(lengths):
            alone, _ = model.encode(src[i : i + 1, :n], torch.tensor([n]))
            torch.testing.assert_close(
                batched[i], pool_states(alone.keys, alone.mask)[0], atol=1e-5, rtol=0
            )


def test_unavailable_pooling_is_one_line_naming_the_option() -> None:
    with pytest.raises(ConfigError, match=r"pooling='last' is not available.*\['mean'\]"):
        pool_states(torch.zeros(1, 2, 3), torch.ones(1, 2, dtype=torch.bool), "last")
    with pytest.raises(ConfigError, match=r"known: \['last', 'mean'\]"):
        check_pooling("cls", ("last", "mean"), option="model.pooling")
    assert check_pooling("mean", ("last", "mean")) == "mean"
