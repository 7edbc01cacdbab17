"""The sentence encoder: word embeddings -> multi-layer RNN -> per-token states and final state.

This is the founding document's encoder (nn.Embedding -> nn.LSTM(batch_first=True) -> hidden, cell),
generalised to GRU / vanilla tanh RNN cells, bidirectionality, dropout and packed sequences so that
padding never changes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from encdec.models.padded_rnn import run_padded
from encdec.models.word_dropout import WordDropout

RnnClass = type[nn.LSTM] | type[nn.GRU] | type[nn.RNN]
RNN_CELLS: dict[str, RnnClass] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def rnn_class(rnn_type: str) -> RnnClass:
    """Map a config name to the torch class, with a message that lists the valid names."""
    try:
        return RNN_CELLS[rnn_type]
    except KeyError:
        hint = " (the Transformer is a model of its own: model=transformer)"
        raise ValueError(
            f"Unknown rnn type {rnn_type!r}; choose one of {sorted(RNN_CELLS)} (e.g. rnn=lstm)"
            f"{hint if rnn_type == 'transformer' else ''}."
        ) from None


@dataclass
class EncoderOutput:
    """What the encoder hands to a decoder or a reader head.

    states: (B, S, D*H) top-layer states of every token (zeros at padding), the keys for attention.
    hidden: (L*D, B, H) final hidden state of every layer and direction: the sentence vector.
    cell:   (L*D, B, H) final LSTM cell state, None for GRU / RNN.
    mask:   (B, S) True at real tokens.
    """

    states: torch.Tensor
    hidden: torch.Tensor
    cell: torch.Tensor | None
    mask: torch.Tensor

    def index_select(self, index: torch.Tensor) -> EncoderOutput:
        """Reorder / repeat examples along the batch (used to expand beams)."""
        return EncoderOutput(
            states=self.states.index_select(0, index),
            hidden=self.hidden.index_select(1, index),
            cell=None if self.cell is None else self.cell.index_select(1, index),
            mask=self.mask.index_select(0, index),
        )


class Encoder(nn.Module):
    """Embedding + multi-layer (bi)RNN over batch-first token ids.

    `Encoder(vocab_size, embedding_dim, hidden_dim, num_layers)` keeps the founding document's
    signature; with rnn_type="lstm", one direction and no dropout it computes exactly its
    `hidden, cell`.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        num_layers: int = 1,
        rnn_type: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        padding_idx: int = 0,
        embedding: nn.Embedding | None = None,
        num_features: int = 0,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.rnn_type = rnn_type
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.padding_idx = padding_idx
        # A shared embedding (e.g. with the decoder) may be passed in; otherwise own one.
        self.embedding = embedding or nn.Embedding(
            vocab_size, embedding_dim, padding_idx=padding_idx
        )
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = WordDropout(word_dropout)
        self.rnn = rnn_class(rnn_type)(
            self.embedding.embedding_dim + num_features,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    @property
    def output_dim(self) -> int:
        """Size of each per-token state (both directions concatenated)."""
        return self.hidden_dim * self.num_directions

    def forward(
        self,
        src: torch.Tensor,
        lengths: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> EncoderOutput:
        """src: (B, S) token ids; lengths: (B,) real lengths, or None when nothing is padded.

        features: (B, S, num_features) extra per-token inputs joined to the embeddings (the QA
        reader's exact-match flags and question-aligned embeddings).
        """
        if lengths is None:
            mask = torch.ones_like(src, dtype=torch.bool)
        else:
            mask = torch.arange(src.size(1), device=src.device)[None, :] < lengths[:, None]
        embedded = self.dropout(self.word_dropout(self.embedding(src)))  # (B, S, E)
        if features is not None:
            embedded = torch.cat([embedded, features], dim=-1)  # (B, S, E + F)
        if lengths is None:
            states, final = self.rnn(embedded)
        elif not embedded.is_cuda:
            # Packing's results (each sentence's states as if alone, unpadded) with fused kernels.
            states, final = run_padded(self.rnn, embedded, lengths)
        else:
            # Packing makes the RNN stop at each sentence's last real token, so the final state
            # and the states are the same as for that sentence alone; cuDNN runs it natively.
            packed = pack_padded_sequence(
                embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            packed_states, final = self.rnn(packed)
            states, _ = pad_packed_sequence(
                packed_states, batch_first=True, total_length=src.size(1)
            )
        hidden, cell = final if isinstance(final, tuple) else (final, None)
        return EncoderOutput(states=self.dropout(states), hidden=hidden, cell=cell, mask=mask)

    def final_states(self, output: EncoderOutput) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Top layer's final hidden (and cell), directions concatenated: (B, D*H) each."""

        def top(x: torch.Tensor) -> torch.Tensor:
            x = x.view(self.num_layers, self.num_directions, x.size(1), self.hidden_dim)[-1]
            return x.transpose(0, 1).reshape(x.size(1), -1)  # (B, D*H)

        return top(output.hidden), None if output.cell is None else top(output.cell)
