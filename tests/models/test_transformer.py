"""TransformerSeq2Seq: shapes, torch's own decoder reproduced, incremental decoding == teacher
forcing, padding invariance, positions and sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from encdec.models import TransformerSeq2Seq
from tests.models.test_seq2seq import VOCAB, toy_batch


def make_model(seed: int = 0, **kw) -> TransformerSeq2Seq:
    torch.manual_seed(seed)
    settings = dict(
        vocab_size=VOCAB,
        embedding_dim=16,
        hidden_dim=16,
        encoder_layers=2,
        decoder_layers=2,
        num_heads=2,
        ff_dim=32,
        dropout=0.3,
    )
    settings.update(kw)
    return TransformerSeq2Seq(**settings)


VARIANTS = {
    "pre-norm": {},
    "post-norm": {"norm_first": False},
    "learned positions": {"positions": "learned"},
    "embedding 12 -> d_model 16, tied": {"embedding_dim": 12, "tie_embeddings": True},
    "shared + tied": {"share_embeddings": True, "tie_embeddings": True},
    "1 layer each": {"encoder_layers": 1, "decoder_layers": 1},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_forward_shapes_and_attention(variant: str) -> None:
    model = make_model(**VARIANTS[variant]).eval()
    src, lens, tgt_in = toy_batch([5, 3, 6], tgt_len=4)
    logits, attn = model(src, lens, tgt_in)
    assert logits.shape == (3, 4, VOCAB) and torch.isfinite(logits).all()
    assert attn.shape == (3, 4, 6)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 4))
    assert torch.all(attn[1, :, 3:] == 0)  # sentence 1 has 3 real tokens


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layers_compute_what_torch_computes(norm_first: bool) -> None:
    """The hand-applied decoder layers (needed for the cache and the weights) == nn.TransformerDecoder."""
    model = make_model(norm_first=norm_first).eval()
    src, lens, tgt_in = toy_batch([5, 2, 7], tgt_len=6)
    with torch.no_grad():
        logits, _ = model(src, lens, tgt_in)
        memory, _ = model.encode(src, lens)
        x = model._embed(tgt_in, model.tgt_embedding, model.tgt_proj)
        out = model.decoder(
            x,
            memory.keys,
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(6),
            tgt_is_causal=True,
            memory_key_padding_mask=~memory.mask,
        )
        torch.testing.assert_close(model.logits(out), logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_incremental_decoding_equals_teacher_forcing(variant: str) -> None:
    model = make_model(**VARIANTS[variant]).eval()  # eval: dropout 0.3 must be off
    src, lens, tgt_in = toy_batch([5, 2, 7], tgt_len=6)
    with torch.no_grad():
        logits, attn = model(src, lens, tgt_in)
        memory, state = model.encode(src, lens)
        step_lp, step_attn = [], []
        for t in range(tgt_in.size(1)):
            log_probs, weights, state = model.step(tgt_in[:, t], memory, state)
            # The cache holds every layer's keys/values for the t + 1 positions seen.
            assert [x.shape for x in state.layers] == [(3, t + 1, 16)] * len(model.decoder.layers)
            step_lp.append(log_probs)
            step_attn.append(weights)
    expected = torch.log_softmax(logits, dim=-1)
    torch.testing.assert_close(torch.stack(step_lp, 1), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.stack(step_attn, 1), attn, atol=1e-6, rtol=0)


def test_dropout_active_in_train_mode() -> None:
    model = make_model()
    src, lens, tgt_in = toy_batch([4, 3], tgt_len=3)
    torch.manual_seed(1)
    a = model(src, lens, tgt_in)[0]
    torch.manual_seed(2)
    b = model(src, lens, tgt_in)[0]
    assert not torch.allclose(a, b)


def test_source_padding_does_not_change_logits() -> None:
    model = make_model().eval()
    src, lens, tgt_in = toy_batch([5, 2, 3], tgt_len=4)
    with torch.no_grad():
        logits, _ = model(src, lens, tgt_in)
        for i, n in enumerate(lens.tolist()):
            alone, _ = model(src[i : i + 1, :n], lens[i : i + 1], tgt_in[i : i + 1])
            torch.testing.assert_close(alone[0], logits[i], atol=1e-5, rtol=0)


def test_future_target_tokens_do_not_change_earlier_logits() -> None:
    model = make_model().eval()
    src, lens, tgt_in = toy_batch([4, 3], tgt_len=5)
    changed = tgt_in.clone()
    changed[:, 3:] = (changed[:, 3:] + 1) % VOCAB
    with torch.no_grad():
        a, b = model(src, lens, tgt_in)[0], model(src, lens, changed)[0]
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_embedding_sharing_and_tying() -> None:
    untied = make_model()
    assert untied.src_embedding is not untied.tgt_embedding
    assert untied.output.weight is not untied.tgt_embedding.weight
    both = make_model(share_embeddings=True, tie_embeddings=True)
    assert both.src_embedding is both.tgt_embedding
    assert both.output.weight is both.src_embedding.weight
    assert both.embeddings() == [both.src_embedding]


def test_sinusoids_are_fixed_and_not_saved() -> None:
    model = make_model()
    assert not any("positions" in k for k in model.state_dict())
    table = model.positions.table
    assert table.shape == (512, 16)
    torch.testing.assert_close(table[3, 0], torch.sin(torch.tensor(3.0)))
    torch.testing.assert_close(table[3, 1], torch.cos(torch.tensor(3.0)))
    learned = make_model(positions="learned")
    assert "positions.table" in dict(learned.named_parameters())


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="multiple of model.num_heads=3"):
        make_model(num_heads=3)
    with pytest.raises(ValueError, match="sinusoidal"):
        make_model(positions="rotary")
    model = make_model(max_positions=4).eval()
    src, lens, tgt_in = toy_batch([3], tgt_len=5)
    with pytest.raises(ValueError, match="model.max_positions=4"):
        model(src, lens, tgt_in)


def test_logits_only_at_the_given_positions() -> None:
    """Training asks for logits at real target tokens only (N, V); they equal the full ones there."""
    model = make_model(tie_embeddings=True).eval()
    src, lens, tgt_in = toy_batch([5, 3], tgt_len=4)
    real = torch.tensor([[True, True, True, True], [True, True, False, False]])
    with torch.no_grad():
        full, _ = model(src, lens, tgt_in)
        some, _ = model(src, lens, tgt_in, positions=real)
    assert some.shape == (6, VOCAB)
    torch.testing.assert_close(some, full[real])
