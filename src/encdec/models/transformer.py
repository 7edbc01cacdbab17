"""A Transformer encoder-decoder (Vaswani et al., 2017) with the interface of `Seq2Seq`.

`encode` / `forward` (teacher forcing) / `step` (one decoding step with a state that beam search
reorders by `index_select`) behave as in the RNN model, so greedy and beam search, the task and
its metrics work unchanged.

Layers are torch's `nn.TransformerEncoder` and `nn.TransformerDecoder`. The encoder runs as torch
runs it. The decoder's layers are applied by `_decoder_layer`, which uses each layer's own
sub-modules in torch's order, for two reasons torch's `forward` does not serve:
- incremental decoding: each step feeds only the newest position through every layer. A layer's
  self-attention needs the keys/values of all earlier positions, which are that layer's
  (normalised) inputs; they are cached in `TransformerState`, so a step costs one call per layer
  instead of re-running the whole prefix;
- the cross-attention weights of the last layer (averaged over heads) are returned for the same
  attention plots as the RNN model.
A test checks that `_decoder_layer` computes exactly what `nn.TransformerDecoder` does.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from encdec.models.decoder import Memory, OutputLayer
from encdec.models.embedding import set_frozen
from encdec.models.options import check_dropout, check_sizes
from encdec.models.pooling import TRANSFORMER_POOLINGS, pool_states
from encdec.models.protocols import check_side

log = logging.getLogger(__name__)

POSITIONS = ("sinusoidal", "learned")


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """(length, dim) table: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(same)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return table


class Positions(nn.Module):
    """Position vectors, fixed sinusoids or learned, for positions start .. start + length - 1."""

    def __init__(self, dim: int, max_positions: int, kind: str = "sinusoidal") -> None:
        super().__init__()
        if kind not in POSITIONS:
            raise ValueError(f"model.positions must be one of {POSITIONS}, got {kind!r}.")
        self.max_positions = max_positions
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_positions, dim) * dim**-0.5)
        else:  # recomputed, not saved: a checkpoint does not depend on max_positions
            self.register_buffer("table", sinusoids(max_positions, dim), persistent=False)

    def forward(self, start: int, length: int) -> torch.Tensor:
        if start + length > self.max_positions:
            raise ValueError(
                f"Sequence of {start + length} tokens is longer than model.max_positions="
                f"{self.max_positions}; raise it (or lower data.max_len / task.decoding.max_len_cap)."
            )
        return self.table[start : start + length]  # (length, D)


@dataclass
class TransformerState:
    """Decoder cache: per layer, the self-attention keys/values of every position so far.

    layers[l]: (B, t, D), the inputs of decoder layer l (after its first LayerNorm when the layers
    normalise first), i.e. what the newest position attends to.
    """

    layers: list[torch.Tensor]

    @property
    def length(self) -> int:
        return self.layers[0].size(1)

    def index_select(self, index: torch.Tensor) -> TransformerState:
        return TransformerState(layers=[x.index_select(0, index) for x in self.layers])


class TransformerSeq2Seq(nn.Module):
    """Transformer encoder-decoder with shared / tied embeddings and pretrained-vector support.

    `hidden_dim` is d_model. Embeddings of `embedding_dim` are projected to d_model when the two
    differ (e.g. 300-d GloVe vectors with d_model 256). Every layer has multi-head scaled
    dot-product attention, so there is no `rnn` or `attention` option (conf/model/transformer.yaml).
    """

    #: Abilities (encdec.models.protocols.Seq2SeqNetwork): it neither copies nor keeps coverage.
    copy = False
    coverage = False

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        embedding_dim: int = 256,
        hidden_dim: int = 256,
        encoder_layers: int = 3,
        decoder_layers: int = 3,
        num_heads: int = 4,
        ff_dim: int = 1024,
        dropout: float = 0.1,
        positions: str = "sinusoidal",
        max_positions: int = 512,
        norm_first: bool = True,
        share_embeddings: bool = False,
        tie_embeddings: bool = False,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        check_sizes(
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            encoder_layers=encoder_layers,
            decoder_layers=decoder_layers,
            num_heads=num_heads,
            ff_dim=ff_dim,
            max_positions=max_positions,
        )
        check_dropout(dropout)
        if hidden_dim % num_heads:
            raise ValueError(
                f"model.hidden_dim={hidden_dim} (d_model) must be a multiple of "
                f"model.num_heads={num_heads}."
            )
        self.hidden_dim = hidden_dim
        self.vocab_size = vocab_size

        def embed() -> nn.Embedding:
            emb = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
            nn.init.normal_(emb.weight, std=embedding_dim**-0.5)  # x sqrt(E) below: unit scale
            with torch.no_grad():
                emb.weight[pad_id].zero_()
            return emb

        def to_model() -> nn.Module:
            same = embedding_dim == hidden_dim
            return nn.Identity() if same else nn.Linear(embedding_dim, hidden_dim, bias=False)

        self.src_embedding = embed()
        self.tgt_embedding = self.src_embedding if share_embeddings else embed()
        self.embed_scale = math.sqrt(embedding_dim)
        self.src_proj, self.tgt_proj = to_model(), to_model()
        self.positions = Positions(hidden_dim, max_positions, positions)
        self.dropout = nn.Dropout(dropout)

        def norm() -> nn.LayerNorm | None:  # pre-norm layers leave the last output unnormalised
            return nn.LayerNorm(hidden_dim) if norm_first else None

        layer_args: dict[str, Any] = dict(
            d_model=hidden_dim,
            nhead=num_heads,
            dim_feedforward=ff_dim,
            dropout=dropout,
            batch_first=True,
            norm_first=norm_first,
        )
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**layer_args),
            encoder_layers,
            norm=norm(),
            enable_nested_tensor=False,
        )
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(**layer_args), decoder_layers, norm=norm()
        )
        if tie_embeddings:
            same = embedding_dim == hidden_dim
            self.pre_output = None if same else nn.Linear(hidden_dim, embedding_dim, bias=False)
            self.output = OutputLayer(embedding_dim, vocab_size, bias=False)
            self.output.weight = self.tgt_embedding.weight
        else:
            self.pre_output = None
            self.output = OutputLayer(hidden_dim, vocab_size)
        set_frozen(self.embeddings(), freeze_embeddings)

    @property
    def max_positions(self) -> int:
        """The longest source or output the position table covers."""
        return self.positions.max_positions

    def embeddings(self) -> list[nn.Embedding]:
        """The token embedding matrices (one when shared)."""
        return list(dict.fromkeys([self.src_embedding, self.tgt_embedding]))

    def _embed(
        self, tokens: torch.Tensor, embedding: nn.Embedding, proj: nn.Module, start: int = 0
    ) -> torch.Tensor:
        """(B, T) ids at positions start.. -> (B, T, D) scaled embeddings + positions."""
        x = proj(embedding(tokens) * self.embed_scale)
        return self.dropout(x + self.positions(start, tokens.size(1)))

    # -- encoder --------------------------------------------------------------------------------
    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor
    ) -> tuple[Memory, TransformerState]:
        """src (B, S) -> memory (encoder states (B, S, D), mask) and an empty decoder cache."""
        mask = torch.arange(src.size(1), device=src.device)[None, :] < src_lengths[:, None]
        x = self._embed(src, self.src_embedding, self.src_proj)
        states = self.encoder(x, src_key_padding_mask=~mask)  # (B, S, D)
        empty = states.new_zeros(src.size(0), 0, self.hidden_dim)
        return Memory(keys=states, mask=mask, proj_keys=None), TransformerState(
            layers=[empty] * len(self.decoder.layers)
        )

    #: Sentence vectors: the mean of the encoder's states (protocols.SentenceEncoder).
    poolings = TRANSFORMER_POOLINGS
    default_pooling = "mean"
    text_sides = ("source",)

    def encode_texts(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        pooling: str = "mean",
        side: str = "source",
    ) -> torch.Tensor:
        """tokens (B, S), lengths (B,) -> (B, D): the mean of the encoder's top-layer states."""
        check_side(side, self.text_sides)
        memory, _ = self.encode(tokens, lengths)
        return pool_states(memory.keys, memory.mask, pooling)

    # -- decoder --------------------------------------------------------------------------------
    @staticmethod
    def _decoder_layer(
        layer: nn.TransformerDecoderLayer,
        x: torch.Tensor,
        cache: torch.Tensor,
        memory: Memory,
        causal: torch.Tensor | None,
        need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """One decoder layer, as `nn.TransformerDecoderLayer.forward` computes it.

        x: (B, T, D) the layer's inputs at the new positions; cache: (B, t0, D) the self-attention
        keys/values of the earlier positions; causal: (T, t0 + T) True where attention is not
        allowed. Returns outputs (B, T, D), cross-attention (B, T, S), keys/values (B, t0 + T, D).
        """
        pre = layer.norm_first
        q = layer.norm1(x) if pre else x
        kv = torch.cat([cache, q], dim=1)
        h = layer.dropout1(layer.self_attn(q, kv, kv, attn_mask=causal, need_weights=False)[0])
        x = x + h if pre else layer.norm1(x + h)
        h, weights = layer.multihead_attn(
            layer.norm2(x) if pre else x,
            memory.keys,
            memory.keys,
            key_padding_mask=~memory.mask,
            need_weights=need_weights,
        )  # (B, T, D), (B, T, S) averaged over heads
        h = layer.dropout2(h)
        x = x + h if pre else layer.norm2(x + h)
        h = layer.norm3(x) if pre else x
        h = layer.dropout3(layer.linear2(layer.dropout(layer.activation(layer.linear1(h)))))
        x = x + h if pre else layer.norm3(x + h)
        return x, weights, kv

    def _decode(
        self, x: torch.Tensor, memory: Memory, state: TransformerState, causal: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, TransformerState]:
        """Run new positions x (B, T, D) through every layer, extending the cache."""
        caches, weights = [], None
        last = len(self.decoder.layers) - 1
        for i, layer in enumerate(self.decoder.layers):
            x, weights, kv = self._decoder_layer(
                layer, x, state.layers[i], memory, causal, need_weights=i == last
            )
            caches.append(kv)
        if self.decoder.norm is not None:
            x = self.decoder.norm(x)
        return x, weights, TransformerState(layers=caches)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) decoder outputs -> (..., V) unnormalised scores."""
        if self.pre_output is not None:
            x = self.pre_output(x)
        return self.output(x)

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced pass: logits (B, T, V) and last-layer cross-attention (B, T, S).

        With a (B, T) bool `positions` mask the logits are computed only there: (N, V).
        """
        memory, state = self.encode(src, src_lengths)
        t = tgt_in.size(1)
        causal = torch.ones(t, t, dtype=torch.bool, device=src.device).triu(1)
        x = self._embed(tgt_in, self.tgt_embedding, self.tgt_proj)
        out, weights, _ = self._decode(x, memory, state, causal)  # (B, T, D)
        assert weights is not None  # the last layer's, always asked for
        if positions is not None:
            out = out[positions]  # (N, D)
        return self.logits(out), weights

    def step(
        self, tokens: torch.Tensor, memory: Memory, state: TransformerState
    ) -> tuple[torch.Tensor, torch.Tensor, TransformerState]:
        """One decoding step from the previous tokens (B,): log-probs (B, V), attention (B, S)."""
        x = self._embed(tokens[:, None], self.tgt_embedding, self.tgt_proj, start=state.length)
        out, weights, state = self._decode(x, memory, state, causal=None)
        assert weights is not None  # the last layer's, always asked for
        log_probs = torch.log_softmax(self.logits(out[:, 0]).float(), dim=-1)
        return log_probs, weights[:, 0], state
