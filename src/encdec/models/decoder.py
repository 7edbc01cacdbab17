"""The attentional RNN decoder (Luong-style attentional hidden state, with input feeding).

At every step t:
    x_t      = [embed(y_{t-1}); a_{t-1}]           (input feeding: the previous attentional vector)
    h_t      = RNN(x_t, h_{t-1})
    c_t, w_t = attention(query=h_t, keys=encoder states)
    a_t      = tanh(W_c [h_t; c_t])                 (the attentional hidden state)
    p(y_t)   = softmax(W_o a_t)
The output projection is applied once to all steps after the recurrent loop, and the attention keys
are projected once per batch, not once per step.

Two options turn it into See et al.'s (2017) pointer-generator for summarization:
- copy: p_gen = sigmoid(w^T [c_t; h_t; x_t] + b) mixes generating and copying,
      P(w) = p_gen P_vocab(w) + (1 - p_gen) sum_{i: src_i = w} w_{t,i},
  over an extended vocabulary (each example's source-only words get ids V, V+1, ...); the
  decoder then returns log-probabilities instead of logits.
- coverage: cov_t = sum_{t' < t} w_{t'} is fed to the attention score, and the task adds the
  coverage loss sum_i min(w_{t,i}, cov_{t,i}) (computed from the returned weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from encdec.models.attention import Attention
from encdec.models.encoder import EncoderOutput, rnn_class
from encdec.models.word_dropout import WordDropout


class OutputLayer(nn.Linear):
    """The vocabulary projection: nn.Linear with its bias added after the product.

    nn.Linear's addmm first copies the bias into the whole (N, V) result, then reads it back
    inside the GEMM; the output projection is the model's largest matmul (92 vs 81 ms forward
    for the reference model's 4k x 8k logits on 2 CPU threads). Same values and parameters.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = F.linear(x, self.weight)  # (..., V)
        return logits if self.bias is None else logits.add_(self.bias)


@dataclass
class Memory:
    """The encoder side as the decoder reads it: keys (B, S, K), mask (B, S), proj_keys (B, S, A).

    For copying: src_ext (B, S) source ids in the extended vocabulary, and ext_size, the size of
    that vocabulary for the batch (V + the most source-only words of any example).
    """

    keys: torch.Tensor
    mask: torch.Tensor
    proj_keys: torch.Tensor | None
    src_ext: torch.Tensor | None = None
    ext_size: int = 0

    def index_select(self, index: torch.Tensor) -> Memory:
        return Memory(
            keys=self.keys.index_select(0, index),
            mask=self.mask.index_select(0, index),
            proj_keys=None if self.proj_keys is None else self.proj_keys.index_select(0, index),
            src_ext=None if self.src_ext is None else self.src_ext.index_select(0, index),
            ext_size=self.ext_size,
        )


@dataclass
class DecoderState:
    """Recurrent state carried between steps: hidden/cell (L, B, H), input_feed (B, H) or None,
    coverage (B, S) (attention summed over the steps so far) or None."""

    hidden: torch.Tensor
    cell: torch.Tensor | None
    input_feed: torch.Tensor | None
    coverage: torch.Tensor | None = None

    def index_select(self, index: torch.Tensor) -> DecoderState:
        return DecoderState(
            hidden=self.hidden.index_select(1, index),
            cell=None if self.cell is None else self.cell.index_select(1, index),
            input_feed=None if self.input_feed is None else self.input_feed.index_select(0, index),
            coverage=None if self.coverage is None else self.coverage.index_select(0, index),
        )


def copy_distribution(
    logits: torch.Tensor,
    weights: torch.Tensor,
    p_gen: torch.Tensor,
    src_ext: torch.Tensor,
    ext_size: int,
) -> torch.Tensor:
    """Pointer-generator mixture -> log-probabilities (..., ext_size).

    logits (..., V), weights (..., S) attention, p_gen (..., 1), src_ext (..., S) extended ids.
    Attention on repeated source words adds up (scatter_add); padding has weight 0.
    """
    vocab = torch.softmax(logits.float(), dim=-1) * p_gen  # (..., V)
    dist = F.pad(vocab, (0, ext_size - vocab.size(-1)))  # (..., V_ext)
    dist = dist.scatter_add(-1, src_ext, (1.0 - p_gen) * weights.float())
    return torch.log(dist.clamp_min(1e-12))


class Decoder(nn.Module):
    """RNN decoder with optional attention, input feeding, bridge and tied output embeddings."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        encoder_dim: int,
        num_layers: int = 1,
        rnn_type: str = "lstm",
        attention: Callable[..., Attention] | None = None,
        input_feeding: bool = True,
        bridge: bool = True,
        dropout: float = 0.0,
        padding_idx: int = 0,
        embedding: nn.Embedding | None = None,
        tie_embeddings: bool = False,
        copy: bool = False,
        coverage: bool = False,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if (copy or coverage) and attention is None:
            raise ValueError(
                "model.copy and model.coverage need attention (they act on its weights); "
                "choose e.g. attention=bahdanau, or set model.copy=false model.coverage=false."
            )
        self.rnn_type = rnn_type
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.copy, self.coverage = copy, coverage
        self.embedding = embedding or nn.Embedding(
            vocab_size, embedding_dim, padding_idx=padding_idx
        )
        extra = {"coverage": True} if coverage else {}
        self.attention = (
            attention(query_dim=hidden_dim, key_dim=encoder_dim, **extra) if attention else None
        )
        self.input_feeding = input_feeding and self.attention is not None
        rnn_input = self.embedding.embedding_dim + (hidden_dim if self.input_feeding else 0)
        self.rnn = rnn_class(rnn_type)(
            rnn_input,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = WordDropout(word_dropout)
        if self.attention is not None:
            self.combine = nn.Linear(hidden_dim + encoder_dim, hidden_dim)  # W_c
        # p_gen from [context; RNN output; input embedding].
        gen_input = encoder_dim + hidden_dim + self.embedding.embedding_dim
        self.generate_gate = nn.Linear(gen_input, 1) if copy else None
        # Bridge: the encoder's final state (both directions) initialises every decoder layer.
        self.bridge_hidden = nn.Linear(encoder_dim, hidden_dim) if bridge else None
        self.bridge_cell = (
            nn.Linear(encoder_dim, hidden_dim) if bridge and rnn_type == "lstm" else None
        )
        if tie_embeddings:
            # Project to the embedding size, then score with the embedding matrix itself.
            self.pre_output: nn.Linear | None = nn.Linear(
                hidden_dim, self.embedding.embedding_dim, bias=False
            )
            self.output = OutputLayer(self.embedding.embedding_dim, vocab_size, bias=False)
            self.output.weight = self.embedding.weight
        else:
            self.pre_output = None
            self.output = OutputLayer(hidden_dim, vocab_size)

    def init_state(
        self,
        enc: EncoderOutput,
        final_hidden: torch.Tensor,
        final_cell: torch.Tensor | None,
        src_ext: torch.Tensor | None = None,
    ) -> tuple[Memory, DecoderState]:
        """Build the memory (keys projected once) and the initial state from the encoder.

        final_hidden / final_cell: (B, K) top encoder layer's final state, directions concatenated.
        src_ext: (B, S) source ids in the extended vocabulary (copy only).
        """
        batch = enc.states.size(0)
        proj_keys = self.attention.precompute_keys(enc.states) if self.attention else None
        memory = Memory(keys=enc.states, mask=enc.mask, proj_keys=proj_keys)
        if self.copy:
            vocab = self.output.out_features
            memory.src_ext = (
                src_ext
                if src_ext is not None
                else enc.mask.new_zeros(enc.mask.shape, dtype=torch.long)
            )
            memory.ext_size = max(
                vocab, int(memory.src_ext.max()) + 1 if memory.src_ext.numel() else 0
            )

        def bridged(layer: nn.Linear | None, final: torch.Tensor | None) -> torch.Tensor:
            if layer is None or final is None:
                return final_hidden.new_zeros(self.num_layers, batch, self.hidden_dim)
            h = torch.tanh(layer(final))  # (B, H)
            return h.unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()  # (L, B, H)

        hidden = bridged(self.bridge_hidden, final_hidden)
        cell = bridged(self.bridge_cell, final_cell) if self.rnn_type == "lstm" else None
        input_feed = final_hidden.new_zeros(batch, self.hidden_dim) if self.input_feeding else None
        coverage = (
            enc.mask.new_zeros(enc.mask.shape, dtype=enc.states.dtype) if self.coverage else None
        )
        return memory, DecoderState(
            hidden=hidden, cell=cell, input_feed=input_feed, coverage=coverage
        )

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, ...) -> their input embeddings (B, ..., E), both dropouts applied."""
        return self.dropout(self.word_dropout(self.embedding(tokens)))

    def _step(
        self, embedded: torch.Tensor, memory: Memory, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor | None, DecoderState, torch.Tensor | None]:
        """One recurrent step on embedded inputs (B, E).

        -> attentional vector (B, H), weights (B, S), new state, p_gen (B, 1) or None.
        """
        x = (
            embedded
            if state.input_feed is None
            else torch.cat([embedded, state.input_feed], dim=-1)
        )
        rnn_state = state.hidden if state.cell is None else (state.hidden, state.cell)
        out, new_rnn_state = self.rnn(x.unsqueeze(1), rnn_state)  # out: (B, 1, H)
        hidden, cell = new_rnn_state if state.cell is not None else (new_rnn_state, None)
        query = out.squeeze(1)  # (B, H)
        weights, p_gen, coverage = None, None, None
        if self.attention is not None:
            context, weights = self.attention(
                out, memory.keys, memory.mask, proj_keys=memory.proj_keys, coverage=state.coverage
            )  # (B, 1, K), (B, 1, S)
            context, weights = context.squeeze(1), weights.squeeze(1)
            if self.generate_gate is not None:
                gate_in = torch.cat([context, query, embedded], dim=-1)
                p_gen = torch.sigmoid(self.generate_gate(gate_in))  # (B, 1)
            query = torch.tanh(self.combine(torch.cat([query, context], dim=-1)))
            if state.coverage is not None:
                coverage = state.coverage + weights
        new_state = DecoderState(
            hidden=hidden,
            cell=cell,
            input_feed=query if self.input_feeding else None,
            coverage=coverage,
        )
        return query, weights, new_state, p_gen

    def logits(self, attentional: torch.Tensor) -> torch.Tensor:
        """(..., H) attentional vectors -> (..., V) unnormalised scores."""
        x = self.dropout(attentional)
        if self.pre_output is not None:
            x = self.pre_output(x)
        return self.output(x)

    def forward(
        self,
        tgt_in: torch.Tensor,
        memory: Memory,
        state: DecoderState,
        positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing over tgt_in (B, T) -> logits (B, T, V), attention weights (B, T, S).

        positions: optional (B, T) bool mask; logits are then computed only there, as (N, V).
        Training passes the real (non-pad) target positions, so the largest matmul of the model
        (the output projection) and the softmax skip padding.
        With copy, the first output is log-probabilities over the extended vocabulary instead.
        """
        embedded = self._embed(tgt_in)  # (B, T, E)
        vectors: list[torch.Tensor] = []
        all_weights: list[torch.Tensor] = []  # with attention
        p_gens: list[torch.Tensor] = []  # with copy
        for t in range(tgt_in.size(1)):
            vector, weights, state, p_gen = self._step(embedded[:, t], memory, state)
            vectors.append(vector)
            if weights is not None:
                all_weights.append(weights)
            if p_gen is not None:
                p_gens.append(p_gen)
        attentional = torch.stack(vectors, dim=1)  # (B, T, H)
        weights = torch.stack(all_weights, dim=1) if self.attention is not None else None
        if not self.copy:
            if positions is not None:
                attentional = attentional[positions]  # (N, H)
            return self.logits(attentional), weights
        assert weights is not None and memory.src_ext is not None  # copying attends to src_ext
        p_gen = torch.stack(p_gens, dim=1)  # (B, T, 1)
        src_ext = memory.src_ext.unsqueeze(1).expand(-1, tgt_in.size(1), -1)  # (B, T, S)
        w = weights
        if positions is not None:
            attentional, w, p_gen, src_ext = (
                x[positions] for x in (attentional, w, p_gen, src_ext)
            )
        return copy_distribution(
            self.logits(attentional), w, p_gen, src_ext, memory.ext_size
        ), weights

    def copy_gates(self, tgt_in: torch.Tensor, memory: Memory, state: DecoderState) -> torch.Tensor:
        """Teacher forcing over tgt_in (B, T) -> p_gen (B, T): at each step, the probability of
        generating from the vocabulary rather than copying a source word (copy networks only)."""
        if self.generate_gate is None:
            raise ValueError("copy_gates needs a copying decoder (model.copy=true).")
        embedded = self._embed(tgt_in)  # (B, T, E)
        gates: list[torch.Tensor] = []
        for t in range(tgt_in.size(1)):
            _, _, state, p_gen = self._step(embedded[:, t], memory, state)
            assert p_gen is not None  # a copying decoder's
            gates.append(p_gen)
        return torch.cat(gates, dim=1)  # (B, T)

    def step(
        self, tokens: torch.Tensor, memory: Memory, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor | None, DecoderState]:
        """One decoding step from the previous tokens (B,) -> logits (B, V), weights (B, S), state.

        With copy: log-probabilities (B, V_ext); `tokens` must already be in-vocabulary ids.
        """
        vector, weights, state, p_gen = self._step(self._embed(tokens), memory, state)
        logits = self.logits(vector)
        if self.copy:
            assert weights is not None and p_gen is not None and memory.src_ext is not None
            logits = copy_distribution(logits, weights, p_gen, memory.src_ext, memory.ext_size)
        return logits, weights, state
