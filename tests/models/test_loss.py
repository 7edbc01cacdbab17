"""The fused cross-entropy equals torch's, values and gradients; masked logits equal full ones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from encdec.models.loss import smoothed_cross_entropy
from tests.models.test_seq2seq import VOCAB, make_model, toy_batch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_fused_cross_entropy_equals_torch(eps: float, device: str) -> None:
    """On the GPU too: its hand-written backward once built a tensor on the CPU there."""
    torch.manual_seed(0)
    logits = (3 * torch.randn(50, 40, device=device)).requires_grad_()
    target = torch.randint(0, 40, (50,), device=device)
    expected = F.cross_entropy(logits, target, label_smoothing=eps, reduction="sum")
    (expected_grad,) = torch.autograd.grad(expected, logits)
    loss = smoothed_cross_entropy(logits, target, eps)
    (grad,) = torch.autograd.grad(2.0 * loss, logits)  # a non-unit upstream gradient too
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(grad, 2.0 * expected_grad)


def test_loss_over_real_positions_equals_ignore_index_loss() -> None:
    """Training's path (logits only at real tokens) == the straightforward padded path."""
    model = make_model("lstm", "bahdanau", dropout=0.0)
    src, lens, tgt_in = toy_batch([5, 3, 6], tgt_len=5)
    tgt_out = torch.randint(4, VOCAB, tgt_in.shape)
    tgt_out[1, 3:] = 0  # padding
    real = tgt_out != 0

    full, _ = model(src, lens, tgt_in)  # (B, T, V)
    expected = F.cross_entropy(
        full.flatten(0, 1), tgt_out.flatten(), ignore_index=0, label_smoothing=0.1, reduction="sum"
    )
    expected_grads = torch.autograd.grad(expected, list(model.parameters()))

    logits, _ = model(src, lens, tgt_in, positions=real)  # (N, V)
    assert logits.shape == (int(real.sum()), VOCAB)
    torch.testing.assert_close(logits, full[real])
    loss = smoothed_cross_entropy(logits, tgt_out[real], 0.1)
    torch.testing.assert_close(loss, expected)
    for g, e in zip(
        torch.autograd.grad(loss, list(model.parameters())), expected_grads, strict=True
    ):
        torch.testing.assert_close(g, e)
