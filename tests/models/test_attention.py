"""Attention: shapes, normalisation, exact masking of padding, and the additive score by hand."""

from __future__ import annotations

import pytest
import torch

from encdec.models import BahdanauAttention, LuongAttention

B, T, S, DQ, DK = 3, 4, 6, 10, 8
LENGTHS = torch.tensor([6, 2, 4])


def make(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "bahdanau":
        return BahdanauAttention(DQ, DK, attention_dim=7)
    if kind == "dot":
        return LuongAttention(DK, DK, score="dot")  # dot needs equal sizes
    return LuongAttention(DQ, DK, score=kind)


def inputs(kind: str, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    dq = DK if kind == "dot" else DQ
    query = torch.randn(B, T, dq, generator=gen)
    keys = torch.randn(B, S, DK, generator=gen)
    mask = torch.arange(S)[None, :] < LENGTHS[:, None]
    return query, keys, mask


KINDS = ["bahdanau", "dot", "general", "concat"]


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_normalisation_and_mask(kind: str) -> None:
    attn = make(kind)
    query, keys, mask = inputs(kind)
    context, weights = attn(query, keys, mask)
    assert context.shape == (B, T, DK)
    assert weights.shape == (B, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, T))
    assert torch.all(weights[~mask.unsqueeze(1).expand(B, T, S)] == 0)
    assert torch.all(weights[mask.unsqueeze(1).expand(B, T, S)] > 0)
    # The context is the weighted mix of the keys.
    torch.testing.assert_close(context, torch.einsum("bts,bsk->btk", weights, keys))
    # Precomputed keys give the same result (the decoder's per-step path).
    context2, weights2 = attn(query, keys, mask, proj_keys=attn.precompute_keys(keys))
    torch.testing.assert_close(context2, context, atol=0, rtol=0)
    torch.testing.assert_close(weights2, weights, atol=0, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_padded_key_values_do_not_matter(kind: str) -> None:
    attn = make(kind)
    query, keys, mask = inputs(kind)
    context, weights = attn(query, keys, mask)
    changed = keys.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), DK) * 100.0
    assert not torch.equal(changed, keys)
    context2, weights2 = attn(query, changed, mask)
    torch.testing.assert_close(weights2, weights, atol=0, rtol=0)
    torch.testing.assert_close(context2, context, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_scores_depend_on_query(kind: str) -> None:
    """A sanity check that the weights are not trivially uniform."""
    attn = make(kind)
    query, keys, mask = inputs(kind)
    _, weights = attn(query, keys, mask)
    uniform = mask.float() / mask.sum(-1, keepdim=True)
    assert not torch.allclose(weights[0], uniform[0].expand(T, S), atol=1e-3)
    assert not torch.allclose(weights[0, 0], weights[0, 1], atol=1e-4)


def test_luong_dot_needs_equal_sizes() -> None:
    with pytest.raises(ValueError, match="luong_dot"):
        LuongAttention(DQ, DK, score="dot")


def test_luong_unknown_score() -> None:
    with pytest.raises(ValueError, match="bilinear"):
        LuongAttention(DQ, DK, score="bilinear")


def test_bahdanau_matches_hand_computation() -> None:
    attn = BahdanauAttention(query_dim=2, key_dim=3, attention_dim=2)
    w_q = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
    b = torch.tensor([0.1, -0.2])
    w_k = torch.tensor([[1.0, 0.0, -0.5], [0.3, 0.7, 0.2]])
    v = torch.tensor([1.5, -2.0])
    with torch.no_grad():
        attn.additive.query_layer.weight.copy_(w_q)
        attn.additive.query_layer.bias.copy_(b)
        attn.additive.key_layer.weight.copy_(w_k)
        attn.additive.energy_layer.weight.copy_(v[None, :])

    q = torch.tensor([0.4, -0.3])
    keys = [
        torch.tensor([1.0, 2.0, 0.0]),
        torch.tensor([-1.0, 0.5, 1.0]),
        torch.tensor([0.2, 0.2, -2.0]),
        torch.tensor([9.0, 9.0, 9.0]),  # padding
    ]
    energies = [float(v @ torch.tanh(w_q @ q + w_k @ k + b)) for k in keys[:3]]
    exps = [torch.tensor(e).exp() for e in energies]
    expected_w = torch.stack([e / sum(exps) for e in exps] + [torch.tensor(0.0)])
    expected_c = sum(w * k for w, k in zip(expected_w, keys, strict=True))

    key_t = torch.stack(keys)[None]  # (1, 4, 3)
    mask = torch.tensor([[True, True, True, False]])
    context, weights = attn(q[None, None], key_t, mask)
    torch.testing.assert_close(weights[0, 0], expected_w, atol=1e-6, rtol=0)
    torch.testing.assert_close(context[0, 0], expected_c, atol=1e-6, rtol=0)
