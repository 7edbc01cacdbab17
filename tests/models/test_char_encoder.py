"""The character CNN word encoder: shapes, and a word's vector independent of padding."""

from __future__ import annotations

import pytest
import torch

from encdec.models.char_encoder import CharCNNEncoder


def encoder() -> CharCNNEncoder:
    torch.manual_seed(0)
    return CharCNNEncoder(num_chars=30, char_dim=8, num_filters=12, kernel_size=5).eval()


def test_one_vector_per_word() -> None:
    chars = torch.randint(1, 30, (3, 7, 10))  # (B, T, C)
    out = encoder()(chars)
    assert out.shape == (3, 7, 12)
    assert (out >= 0).all()


def test_a_words_vector_ignores_character_and_word_padding() -> None:
    enc = encoder()
    words = [[3, 4, 5], [7, 8, 9, 10, 11, 12], [2]]
    short = torch.zeros(1, 3, 6, dtype=torch.long)  # (1, 3, 6): padded to the longest word
    for i, w in enumerate(words):
        short[0, i, : len(w)] = torch.tensor(w)
    long = torch.zeros(2, 5, 16, dtype=torch.long)  # more char padding, more words, a batch
    long[1, :3, :6] = short[0]
    long[0] = torch.randint(1, 30, (5, 16))  # another example in the batch
    torch.testing.assert_close(enc(long)[1, :3], enc(short)[0])
    assert enc(long)[1, 3:].abs().sum() == 0  # padding words give zeros


def test_gradients_are_finite_with_padding_words() -> None:
    enc = encoder().train()
    chars = torch.tensor([[[3, 4, 0], [0, 0, 0]]])  # (1, 2, 3): the second word is padding
    enc(chars).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters())
    assert enc.embedding.weight.grad[0].abs().sum() == 0  # the padding row never trains


def test_refuses_an_even_kernel() -> None:
    with pytest.raises(ValueError, match="kernel_size=4"):
        CharCNNEncoder(num_chars=5, kernel_size=4)
