"""Seq2Seq: output shapes, embedding sharing / tying, teacher forcing == step-by-step decoding."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from encdec.models import BahdanauAttention, LuongAttention, Seq2Seq

VOCAB = 25
ATTENTIONS = {
    "none": None,
    "bahdanau": BahdanauAttention,
    "luong_general": partial(LuongAttention, score="general"),
    "luong_concat": partial(LuongAttention, score="concat"),
    "luong_dot": partial(LuongAttention, score="dot"),
}


def make_model(rnn_type: str = "lstm", attention: str = "bahdanau", seed: int = 0, **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    settings = dict(
        vocab_size=VOCAB,
        embedding_dim=8,
        hidden_dim=16,
        bidirectional=True,
        rnn_type=rnn_type,
        attention=ATTENTIONS[attention],
        dropout=0.3,
    )
    settings.update(kw)
    return Seq2Seq(**settings)


def toy_batch(src_lengths: list[int], tgt_len: int, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    src = torch.zeros(len(src_lengths), max(src_lengths), dtype=torch.long)
    for i, n in enumerate(src_lengths):
        src[i, :n] = torch.randint(4, VOCAB, (n,), generator=gen)
    tgt_in = torch.randint(4, VOCAB, (len(src_lengths), tgt_len), generator=gen)
    tgt_in[:, 0] = 2  # BOS
    return src, torch.tensor(src_lengths), tgt_in


@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("attention", list(ATTENTIONS))
def test_forward_shapes(rnn_type: str, attention: str) -> None:
    model = make_model(rnn_type, attention).eval()
    src, lens, tgt_in = toy_batch([5, 3, 6], tgt_len=4)
    logits, attn = model(src, lens, tgt_in)
    assert logits.shape == (3, 4, VOCAB)
    assert torch.isfinite(logits).all()
    if attention == "none":
        assert attn is None
    else:
        assert attn.shape == (3, 4, 6)
        torch.testing.assert_close(attn.sum(-1), torch.ones(3, 4))
        assert torch.all(attn[1, :, 3:] == 0)  # sentence 1 has 3 real tokens


@pytest.mark.parametrize("decoder_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_and_direction_options(decoder_layers: int, bidirectional: bool) -> None:
    model = make_model(
        "lstm",
        "bahdanau",
        encoder_layers=2,
        decoder_layers=decoder_layers,
        bidirectional=bidirectional,
    ).eval()
    src, lens, tgt_in = toy_batch([4, 2], tgt_len=3)
    logits, attn = model(src, lens, tgt_in)
    assert logits.shape == (2, 3, VOCAB) and attn.shape == (2, 3, 4)
    assert model.encoder.output_dim == 16


def test_tie_embeddings_shares_the_tensor() -> None:
    model = make_model(tie_embeddings=True)
    dec = model.decoder
    assert dec.output.weight is dec.embedding.weight
    assert dec.output.weight.data_ptr() == dec.embedding.weight.data_ptr()
    # Counted once among the parameters, and a change to one is a change to the other.
    assert sum(p is dec.embedding.weight for p in model.parameters()) == 1
    with torch.no_grad():
        dec.embedding.weight[5, 0] = 42.0
    assert dec.output.weight[5, 0] == 42.0
    src, lens, tgt_in = toy_batch([3, 2], tgt_len=2)
    assert model.eval()(src, lens, tgt_in)[0].shape == (2, 2, VOCAB)


def test_untied_by_default() -> None:
    model = make_model()
    assert model.decoder.output.weight is not model.decoder.embedding.weight
    assert model.encoder.embedding is not model.decoder.embedding


def test_share_embeddings_shares_the_module() -> None:
    model = make_model(share_embeddings=True)
    assert model.encoder.embedding is model.decoder.embedding
    both = make_model(share_embeddings=True, tie_embeddings=True)
    assert both.encoder.embedding.weight is both.decoder.output.weight


@pytest.mark.parametrize(
    ("rnn_type", "attention", "kw"),
    [
        ("lstm", "bahdanau", {}),
        ("gru", "luong_general", {}),
        ("rnn", "luong_concat", {}),
        ("lstm", "luong_dot", {"decoder_layers": 2, "encoder_layers": 2}),
        ("lstm", "none", {}),
        ("gru", "bahdanau", {"input_feeding": False, "bridge": False}),
        ("lstm", "bahdanau", {"tie_embeddings": True, "share_embeddings": True}),
    ],
)
def test_teacher_forcing_equals_step_by_step(rnn_type: str, attention: str, kw: dict) -> None:
    model = make_model(rnn_type, attention, **kw).eval()  # eval: dropout 0.3 must be off
    src, lens, tgt_in = toy_batch([5, 2, 7], tgt_len=6)
    with torch.no_grad():
        logits, attn = model(src, lens, tgt_in)
        memory, state = model.encode(src, lens)
        step_logits, step_attn = [], []
        for t in range(tgt_in.size(1)):
            out, weights, state = model.decoder.step(tgt_in[:, t], memory, state)
            step_logits.append(out)
            step_attn.append(weights)
        torch.testing.assert_close(torch.stack(step_logits, 1), logits, atol=1e-5, rtol=0)
        if attention == "none":
            assert attn is None and all(w is None for w in step_attn)
        else:
            torch.testing.assert_close(torch.stack(step_attn, 1), attn, atol=1e-6, rtol=0)
        # Seq2Seq.step is the same step, normalised to log-probabilities.
        memory, state = model.encode(src, lens)
        log_probs, _, _ = model.step(tgt_in[:, 0], memory, state)
        torch.testing.assert_close(
            log_probs, torch.log_softmax(logits[:, 0], -1), atol=1e-5, rtol=0
        )


def test_dropout_active_in_train_mode() -> None:
    """The eval-mode equality above is not vacuous: in train mode dropout changes the output."""
    model = make_model()
    src, lens, tgt_in = toy_batch([4, 3], tgt_len=3)
    model.train()
    torch.manual_seed(1)
    a = model(src, lens, tgt_in)[0]
    torch.manual_seed(2)
    b = model(src, lens, tgt_in)[0]
    assert not torch.allclose(a, b)
    model.eval()
    torch.testing.assert_close(model(src, lens, tgt_in)[0], model(src, lens, tgt_in)[0])


def test_source_padding_does_not_change_logits() -> None:
    model = make_model("gru", "luong_general").eval()
    src, lens, tgt_in = toy_batch([5, 2, 3], tgt_len=4)
    with torch.no_grad():
        logits, _ = model(src, lens, tgt_in)
        for i, n in enumerate(lens.tolist()):
            alone, _ = model(src[i : i + 1, :n], lens[i : i + 1], tgt_in[i : i + 1])
            torch.testing.assert_close(alone[0], logits[i], atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", ["rnn", "transformer"])
@pytest.mark.parametrize("tie", [False, True])
def test_output_layer_equals_nn_linear(family: str, tie: bool) -> None:
    """The output layer adds the bias after the product (faster on CPU): nn.Linear's values and
    gradients, in both model families."""
    import torch.nn.functional as F

    from encdec.models import TransformerSeq2Seq
    from encdec.models.decoder import Decoder

    torch.manual_seed(0)
    if family == "rnn":
        layer = Decoder(50, 8, 12, 12, tie_embeddings=tie).output
    else:
        layer = TransformerSeq2Seq(
            50,
            embedding_dim=8,
            hidden_dim=8,
            encoder_layers=1,
            decoder_layers=1,
            num_heads=2,
            ff_dim=16,
            tie_embeddings=tie,
        ).output
    assert (layer.bias is None) == tie
    x = torch.randn(7, layer.in_features)
    params = list(layer.parameters())
    logits = layer(x)
    expected = F.linear(x, layer.weight, layer.bias)  # what nn.Linear computes
    torch.testing.assert_close(logits, expected)
    grads = torch.autograd.grad(logits.square().sum(), params)
    expected_grads = torch.autograd.grad(expected.square().sum(), params)
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b)
