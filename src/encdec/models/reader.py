"""The extractive QA reader (in the spirit of DrQA's document reader, Chen et al., 2017).

Question and passage share one word embedding and are encoded by the same kind of Encoder
(the configured `rnn`). Each passage token's RNN input is its embedding plus
- `num_features` features computed by the data (`data.features`: exact-match flags, the word
  occurs in the question as written / lower-cased, and optionally DrQA's lemma match and
  normalised term frequency), and
- a question-aligned embedding: the configured `attention` module, with the passage embedding as
  query and the question embeddings as keys and values, mixes the question words that this
  passage word resembles (soft alignment, e.g. "car" <-> "vehicle"). With `attention=none` there
  is no aligned embedding: the passage sees the question only through the exact-match flags
  (and the final bilinear scores).
With `word_chars` > 0, a character-level CNN (BiDAF) gives every passage and question word a
second vector from its spelling, joined to its embedding in both encoders: rare and unseen words
(names, numbers) are no longer only an <unk> embedding.
The question's token states are pooled into one vector by learned self-attention; bilinear forms
p_i^T W_s q and p_i^T W_e q score every passage token as the answer's start and end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from encdec.data.qa_features import NUM_CHARS
from encdec.models.attention import Attention
from encdec.models.char_encoder import CharCNNEncoder
from encdec.models.embedding import set_frozen
from encdec.models.encoder import Encoder
from encdec.models.options import check_dropout, check_sizes
from encdec.models.pooling import RNN_POOLINGS, pool_rnn
from encdec.models.protocols import check_side


class DocumentReader(nn.Module):
    """Passage + question -> start and end scores (B, P) over passage tokens (-inf at padding).

    `freeze_embeddings` keeps the word embedding fixed (pretrained vectors such as DrQA's GloVe
    are loaded by `encdec.build` before training, which knows the vocabulary). `word_chars`: the
    characters of each word the data gives (`data.word_chars`; 0: no character encoder), read by
    a CharCNNEncoder of `char_filters` filters `char_kernel_size` wide over `char_dim`-d
    character embeddings, one for both texts.
    """

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        embedding_dim: int = 128,
        hidden_dim: int = 128,
        num_layers: int = 2,
        rnn_type: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.3,
        num_features: int = 2,
        attention: Callable[..., Attention] | None = None,
        freeze_embeddings: bool = False,
        word_chars: int = 0,
        char_dim: int = 8,
        char_filters: int = 100,
        char_kernel_size: int = 5,
    ) -> None:
        super().__init__()
        check_sizes(embedding_dim=embedding_dim, hidden_dim=hidden_dim, num_layers=num_layers)
        check_dropout(dropout)
        if word_chars:
            check_sizes(word_chars=word_chars, char_dim=char_dim, char_filters=char_filters)
        self.word_chars = word_chars
        self.char_encoder = (
            CharCNNEncoder(NUM_CHARS, char_dim, char_filters, char_kernel_size, dropout)
            if word_chars
            else None
        )
        char_dim_out = char_filters if word_chars else 0
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.align = (
            attention(query_dim=embedding_dim, key_dim=embedding_dim) if attention else None
        )
        self.num_features = num_features
        shared: dict[str, Any] = dict(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            rnn_type=rnn_type,
            bidirectional=bidirectional,
            dropout=dropout,
            padding_idx=pad_id,
            embedding=self.embedding,
        )
        aligned_dim = embedding_dim if self.align is not None else 0
        self.passage_encoder = Encoder(
            **shared, num_features=num_features + aligned_dim + char_dim_out
        )
        self.question_encoder = Encoder(**shared, num_features=char_dim_out)
        dim = self.passage_encoder.output_dim
        self.question_pool = nn.Linear(dim, 1)  # self-attention score of each question token
        self.start_scorer = nn.Linear(dim, dim, bias=False)  # W_s of p_i^T W_s q
        self.end_scorer = nn.Linear(dim, dim, bias=False)  # W_e of p_i^T W_e q
        set_frozen(self.embeddings(), freeze_embeddings)

    #: Sentence vectors from the question encoder, the one that reads a text alone (the passage
    #: encoder also reads features that need a question) (protocols.SentenceEncoder).
    poolings: tuple[str, ...] = RNN_POOLINGS
    default_pooling = "last"
    text_sides: tuple[str, ...] = ("question",)

    def embeddings(self) -> list[nn.Embedding]:
        """The word embedding matrix (question and passage share it)."""
        return [self.embedding]

    def encode_texts(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        pooling: str = "last",
        side: str = "question",
        chars: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens (B, Q), lengths (B,), chars (B, Q, word_chars) when the reader reads
        characters -> (B, D*H) vectors of the question encoder."""
        check_side(side, self.text_sides)
        encoder = self.question_encoder
        return pool_rnn(encoder, encoder(tokens, lengths, self.spelling(tokens, chars)), pooling)

    def spelling(self, tokens: torch.Tensor, chars: torch.Tensor | None) -> torch.Tensor | None:
        """Each word's character-CNN vector (B, T, char_filters); None without a char encoder."""
        if self.char_encoder is None:
            return None
        if chars is None or chars.shape[:2] != tokens.shape or chars.size(2) != self.word_chars:
            got = "none" if chars is None else tuple(chars.shape)
            raise ValueError(
                f"This reader reads {self.word_chars} characters of each word: give chars of "
                f"shape {(*tokens.shape, self.word_chars)} (data.word_chars), not {got}."
            )
        return self.char_encoder(chars)

    def forward(
        self,
        passage: torch.Tensor,
        passage_lengths: torch.Tensor,
        question: torch.Tensor,
        question_lengths: torch.Tensor,
        features: torch.Tensor,
        passage_chars: torch.Tensor | None = None,
        question_chars: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """passage (B, P), question (B, Q) token ids; features (B, P, num_features); with a
        character encoder, passage_chars (B, P, word_chars) and question_chars (B, Q, word_chars).

        Returns start and end logits (B, P), -inf at padding.
        """
        inputs = [features]
        if self.align is not None:
            q_mask = (
                torch.arange(question.size(1), device=question.device) < question_lengths[:, None]
            )
            p_emb = self.dropout(self.embedding(passage))  # (B, P, E)
            q_emb = self.dropout(self.embedding(question))  # (B, Q, E)
            aligned, _ = self.align(query=p_emb, keys=q_emb, mask=q_mask)  # (B, P, E)
            inputs.append(aligned)
        p_chars = self.spelling(passage, passage_chars)
        if p_chars is not None:
            inputs.append(p_chars)
        p = self.passage_encoder(passage, passage_lengths, torch.cat(inputs, dim=-1))
        q = self.question_encoder(
            question, question_lengths, self.spelling(question, question_chars)
        )
        # Question vector: self-attention pooling over its token states.
        pool = self.question_pool(q.states).squeeze(-1).masked_fill(~q.mask, float("-inf"))
        q_vec = torch.bmm(torch.softmax(pool, dim=-1).unsqueeze(1), q.states).squeeze(1)  # (B, D)

        def bilinear(scorer: nn.Linear) -> torch.Tensor:
            logits = torch.bmm(p.states, scorer(q_vec).unsqueeze(2)).squeeze(2)  # (B, P)
            return logits.masked_fill(~p.mask, float("-inf"))

        return bilinear(self.start_scorer), bilinear(self.end_scorer)
