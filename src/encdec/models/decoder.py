"""The attentional RNN decoder (Luong-style attentional hidden state, with input feeding).

At every step t:
    x_t      = [embed(y_{t-1}); a_{t-1}]           (input feeding: the previous attentional vector)
    h_t      = RNN(x_t, h_{t-1})
    c_t, w_t = attention(query=h_t, keys=encoder states)
    a_t      = tanh(W_c [h_t; c_t])                 (the attentional hidden state)
    p(y_t)   = softmax(W_o a_t)
The output projection is applied once to all steps after the recurrent loop, and the attention keys
are projected once per batch, not once per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from encdec.models.attention import Attention
from encdec.models.encoder import EncoderOutput, rnn_class


@dataclass
class Memory:
    """The encoder side as the decoder reads it: keys (B, S, K), mask (B, S), proj_keys (B, S, A)."""

    keys: torch.Tensor
    mask: torch.Tensor
    proj_keys: torch.Tensor | None

    def index_select(self, index: torch.Tensor) -> Memory:
        return Memory(
            keys=self.keys.index_select(0, index),
            mask=self.mask.index_select(0, index),
            proj_keys=None if self.proj_keys is None else self.proj_keys.index_select(0, index),
        )


@dataclass
class DecoderState:
    """Recurrent state carried between steps: hidden/cell (L, B, H), input_feed (B, H) or None."""

    hidden: torch.Tensor
    cell: torch.Tensor | None
    input_feed: torch.Tensor | None

    def index_select(self, index: torch.Tensor) -> DecoderState:
        return DecoderState(
            hidden=self.hidden.index_select(1, index),
            cell=None if self.cell is None else self.cell.index_select(1, index),
            input_feed=None if self.input_feed is None else self.input_feed.index_select(0, index),
        )


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
    ) -> None:
        super().__init__()
        self.rnn_type = rnn_type
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.embedding = embedding or nn.Embedding(
            vocab_size, embedding_dim, padding_idx=padding_idx
        )
        self.attention = attention(query_dim=hidden_dim, key_dim=encoder_dim) if attention else None
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
        if self.attention is not None:
            self.combine = nn.Linear(hidden_dim + encoder_dim, hidden_dim)  # W_c
        # Bridge: the encoder's final state (both directions) initialises every decoder layer.
        self.bridge_hidden = nn.Linear(encoder_dim, hidden_dim) if bridge else None
        self.bridge_cell = (
            nn.Linear(encoder_dim, hidden_dim) if bridge and rnn_type == "lstm" else None
        )
        if tie_embeddings:
            # Project to the embedding size, then score with the embedding matrix itself.
            self.pre_output = nn.Linear(hidden_dim, self.embedding.embedding_dim, bias=False)
            self.output = nn.Linear(self.embedding.embedding_dim, vocab_size, bias=False)
            self.output.weight = self.embedding.weight
        else:
            self.pre_output = None
            self.output = nn.Linear(hidden_dim, vocab_size)

    def init_state(
        self, enc: EncoderOutput, final_hidden: torch.Tensor, final_cell: torch.Tensor | None
    ) -> tuple[Memory, DecoderState]:
        """Build the memory (keys projected once) and the initial state from the encoder.

        final_hidden / final_cell: (B, K) top encoder layer's final state, directions concatenated.
        """
        batch = enc.states.size(0)
        proj_keys = self.attention.precompute_keys(enc.states) if self.attention else None
        memory = Memory(keys=enc.states, mask=enc.mask, proj_keys=proj_keys)

        def bridged(layer: nn.Linear | None, final: torch.Tensor | None) -> torch.Tensor:
            if layer is None or final is None:
                return final_hidden.new_zeros(self.num_layers, batch, self.hidden_dim)
            h = torch.tanh(layer(final))  # (B, H)
            return h.unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()  # (L, B, H)

        hidden = bridged(self.bridge_hidden, final_hidden)
        cell = bridged(self.bridge_cell, final_cell) if self.rnn_type == "lstm" else None
        input_feed = final_hidden.new_zeros(batch, self.hidden_dim) if self.input_feeding else None
        return memory, DecoderState(hidden=hidden, cell=cell, input_feed=input_feed)

    def _step(
        self, embedded: torch.Tensor, memory: Memory, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor | None, DecoderState]:
        """One recurrent step on embedded inputs (B, E) -> attentional vector (B, H), weights (B, S)."""
        x = (
            embedded
            if state.input_feed is None
            else torch.cat([embedded, state.input_feed], dim=-1)
        )
        rnn_state = state.hidden if state.cell is None else (state.hidden, state.cell)
        out, new_rnn_state = self.rnn(x.unsqueeze(1), rnn_state)  # out: (B, 1, H)
        hidden, cell = new_rnn_state if state.cell is not None else (new_rnn_state, None)
        query = out.squeeze(1)  # (B, H)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(
                out, memory.keys, memory.mask, proj_keys=memory.proj_keys
            )  # (B, 1, K), (B, 1, S)
            query = torch.tanh(self.combine(torch.cat([query, context.squeeze(1)], dim=-1)))
            weights = weights.squeeze(1)
        new_state = DecoderState(
            hidden=hidden, cell=cell, input_feed=query if self.input_feeding else None
        )
        return query, weights, new_state

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
        """
        embedded = self.dropout(self.embedding(tgt_in))  # (B, T, E)
        vectors, all_weights = [], []
        for t in range(tgt_in.size(1)):
            vector, weights, state = self._step(embedded[:, t], memory, state)
            vectors.append(vector)
            all_weights.append(weights)
        attentional = torch.stack(vectors, dim=1)  # (B, T, H)
        weights = torch.stack(all_weights, dim=1) if self.attention is not None else None
        if positions is not None:
            attentional = attentional[positions]  # (N, H)
        return self.logits(attentional), weights

    def step(
        self, tokens: torch.Tensor, memory: Memory, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor | None, DecoderState]:
        """One decoding step from the previous tokens (B,) -> logits (B, V), weights (B, S), state."""
        vector, weights, state = self._step(self.dropout(self.embedding(tokens)), memory, state)
        return self.logits(vector), weights, state
