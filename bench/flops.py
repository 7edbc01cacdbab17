"""Model FLOPs of a teacher-forced training step, counted from the layer shapes.

Only real (non-pad) tokens count. A matmul of (m x k) by (k x n) is 2mkn FLOPs; the backward
pass costs twice the forward (gradients for inputs and for weights), so a training step is 3x
the forward. Elementwise work (gates, tanh, softmax) is not counted, as is customary for MFU.
"""

from __future__ import annotations

from torch import nn

from encdec.models import BahdanauAttention, LuongAttention, Seq2Seq

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def rnn_flops_per_token(rnn: nn.RNNBase) -> int:
    """Forward FLOPs of one time step of a (possibly multi-layer, bidirectional) RNN."""
    gates = GATES[type(rnn).__name__]
    directions = 2 if rnn.bidirectional else 1
    total, inputs = 0, rnn.input_size
    for _ in range(rnn.num_layers):
        total += directions * 2 * gates * rnn.hidden_size * (inputs + rnn.hidden_size)
        inputs = rnn.hidden_size * directions
    return total


def attention_flops(att: nn.Module | None, query_dim: int, key_dim: int) -> tuple[int, int, int]:
    """(per target token, per source token, per (target, source) pair) forward FLOPs."""
    if att is None:
        return 0, 0, 0
    pair = 2 * key_dim  # the context vector: weights (1 x S) times keys (S x K)
    if isinstance(att, BahdanauAttention) or getattr(att, "score_name", "") == "concat":
        a = att.additive.key_layer.out_features
        return 2 * query_dim * a, 2 * key_dim * a, pair + 2 * a
    if isinstance(att, LuongAttention) and att.score_name == "general":
        return 0, 2 * key_dim * query_dim, pair + 2 * query_dim
    return 0, 0, pair + 2 * key_dim  # dot


def training_flops(net: Seq2Seq, src_lengths: list[int], tgt_lengths: list[int]) -> int:
    """FLOPs (forward + backward) of one training step on sentences of these real lengths."""
    enc, dec = net.encoder, net.decoder
    h, k = dec.hidden_dim, enc.output_dim
    per_tgt, per_src, per_pair = attention_flops(dec.attention, h, k)
    per_tgt += rnn_flops_per_token(dec.rnn)
    if dec.attention is not None:
        per_tgt += 2 * (h + k) * h  # W_c [h_t; c_t]
    if dec.pre_output is not None:
        per_tgt += 2 * h * dec.pre_output.out_features
    per_tgt += 2 * dec.output.in_features * dec.output.out_features
    per_src += rnn_flops_per_token(enc.rnn)
    if dec.bridge_hidden is not None:  # once per sentence; tiny, counted for completeness
        per_sentence = sum(
            2 * m.in_features * m.out_features for m in (dec.bridge_hidden, dec.bridge_cell) if m
        )
    else:
        per_sentence = 0
    forward = sum(
        s * per_src + t * per_tgt + s * t * per_pair + per_sentence
        for s, t in zip(src_lengths, tgt_lengths, strict=True)
    )
    return 3 * forward
