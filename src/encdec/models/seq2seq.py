"""The encoder-decoder network: Encoder + attentional Decoder, built from plain hyper-parameters."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from encdec.models.attention import Attention
from encdec.models.decoder import Decoder, DecoderState, Memory
from encdec.models.embedding import set_frozen
from encdec.models.encoder import Encoder
from encdec.models.options import check_dropout, check_sizes
from encdec.models.pooling import RNN_POOLINGS, pool_rnn
from encdec.models.protocols import check_side


class Seq2Seq(nn.Module):
    """Sequence-to-sequence model for translation and summarization.

    `attention` is a factory `(query_dim, key_dim) -> Attention` (a `functools.partial`, as Hydra's
    `_partial_: true` makes it), or None for a decoder that only sees the encoder's final state.
    `freeze_embeddings` keeps the embeddings (and a tied output layer) fixed, e.g. pretrained
    vectors, which `encdec.build` loads before training (it knows the tokenizer's vocabulary).
    """

    #: No position table: sources and outputs of any length (protocols.Seq2SeqNetwork).
    max_positions: int | None = None
    #: Sentence vectors from the source encoder (protocols.SentenceEncoder).
    poolings = RNN_POOLINGS
    default_pooling = "last"
    text_sides = ("source",)

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        embedding_dim: int = 256,
        hidden_dim: int = 512,
        encoder_hidden_dim: int | None = None,
        encoder_layers: int = 1,
        decoder_layers: int = 1,
        bidirectional: bool = True,
        rnn_type: str = "lstm",
        attention: Callable[..., Attention] | None = None,
        input_feeding: bool = True,
        bridge: bool = True,
        dropout: float = 0.3,
        word_dropout: float = 0.0,
        share_embeddings: bool = False,
        tie_embeddings: bool = False,
        copy: bool = False,
        coverage: bool = False,
        unk_id: int = 1,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        check_sizes(
            ("encoder_hidden_dim",),
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            encoder_hidden_dim=encoder_hidden_dim,
            encoder_layers=encoder_layers,
            decoder_layers=decoder_layers,
        )
        check_dropout(dropout)
        #: With copy the network outputs log-probabilities over an extended vocabulary, not logits.
        self.copy, self.coverage = copy, coverage
        self.vocab_size, self.unk_id = vocab_size, unk_id
        directions = 2 if bidirectional else 1
        self.encoder = Encoder(
            vocab_size,
            embedding_dim,
            encoder_hidden_dim or hidden_dim // directions,
            num_layers=encoder_layers,
            rnn_type=rnn_type,
            bidirectional=bidirectional,
            dropout=dropout,
            padding_idx=pad_id,
            word_dropout=word_dropout,
        )
        self.decoder = Decoder(
            vocab_size,
            embedding_dim,
            hidden_dim,
            encoder_dim=self.encoder.output_dim,
            num_layers=decoder_layers,
            rnn_type=rnn_type,
            attention=attention,
            input_feeding=input_feeding,
            bridge=bridge,
            dropout=dropout,
            padding_idx=pad_id,
            embedding=self.encoder.embedding if share_embeddings else None,
            tie_embeddings=tie_embeddings,
            copy=copy,
            coverage=coverage,
            word_dropout=word_dropout,
        )
        set_frozen(self.embeddings(), freeze_embeddings)

    def embeddings(self) -> list[nn.Embedding]:
        """The token embedding matrices (one when shared)."""
        return list(dict.fromkeys([self.encoder.embedding, self.decoder.embedding]))

    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor, src_ext: torch.Tensor | None = None
    ) -> tuple[Memory, DecoderState]:
        """src (B, S) -> the decoder's memory and initial state.

        src_ext (B, S): the source in the extended vocabulary, for copying (default: src).
        """
        enc = self.encoder(src, src_lengths)
        final_hidden, final_cell = self.encoder.final_states(enc)
        return self.decoder.init_state(
            enc, final_hidden, final_cell, src if src_ext is None else src_ext
        )

    def encode_texts(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        pooling: str = "last",
        side: str = "source",
    ) -> torch.Tensor:
        """tokens (B, S), lengths (B,) -> (B, D*H) sentence vectors of the source encoder."""
        check_side(side, self.text_sides)
        return pool_rnn(self.encoder, self.encoder(tokens, lengths), pooling)

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        positions: torch.Tensor | None = None,
        src_ext: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced pass: logits (B, T, V) and attention weights (B, T, S) or None.

        With a (B, T) bool `positions` mask the logits are computed only there: (N, V).
        With copy: log-probabilities over the extended vocabulary (V_ext) instead of logits.
        """
        memory, state = self.encode(src, src_lengths, src_ext)
        return self.decoder(tgt_in, memory, state, positions)

    def copy_gates(
        self, src_ext: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor:
        """p_gen (B, T) of a copying network teacher-forced on tgt_in (B, T) (BOS + output ids):
        1 - p_gen is the copy probability. Source (B, S) and tgt_in may hold extended ids (copied
        words); they are read as <unk>, as in decoding."""
        src = src_ext.masked_fill(src_ext >= self.vocab_size, self.unk_id)
        memory, state = self.encode(src, src_lengths, src_ext)
        tgt_in = tgt_in.masked_fill(tgt_in >= self.vocab_size, self.unk_id)
        return self.decoder.copy_gates(tgt_in, memory, state)

    def step(
        self, tokens: torch.Tensor, memory: Memory, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor | None, DecoderState]:
        """One decoding step: log-probabilities (B, V), attention (B, S), new state.

        With copy, `tokens` may be extended ids (copied words): they are fed back as <unk>, and
        the log-probabilities cover the extended vocabulary (B, V_ext).
        """
        if self.copy:
            tokens = tokens.masked_fill(tokens >= self.vocab_size, self.unk_id)
            log_probs, weights, state = self.decoder.step(tokens, memory, state)
            return log_probs, weights, state
        logits, weights, state = self.decoder.step(tokens, memory, state)
        return torch.log_softmax(logits.float(), dim=-1), weights, state
