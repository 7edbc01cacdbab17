"""The dual encoder for retrieval: a question encoder and a passage encoder -> comparable vectors.

Both are encdec's `Encoder` (embedding -> multi-layer (bi)RNN) with a named pooling
(`encdec.models.pooling`), so any encoder trained on another task can start either side. The score
of a passage for a question is the dot product of their vectors; with `normalize` the vectors have
unit length and the score is their cosine.

`share` says what the two sides have in common:
- `encoder`: one encoder (embedding included) reads both, as in sentence-transformers' bi-encoders;
- `embedding`: one word embedding, two RNNs (questions and passages are worded differently);
- `none`: two independent encoders, as DPR's two BERTs.

Training (Karpukhin et al., 2020, DPR): every other passage of the batch is a negative for a
question ("in-batch negatives"), optionally with extra hard negatives (e.g. BM25's best wrong
passages) appended as columns; the loss is the cross-entropy of the right passage over each
question's row of the similarity matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from encdec.errors import ConfigError
from encdec.models.embedding import set_frozen
from encdec.models.encoder import Encoder
from encdec.models.options import check_dropout, check_sizes
from encdec.models.pooling import RNN_POOLINGS, check_pooling, pool_rnn
from encdec.models.protocols import check_side

SHARING = ("encoder", "embedding", "none")
#: The encoders of `DualEncoder.encode_texts`, passages first (the default: a collection).
SIDES = ("passage", "question")


class RetrieverOutput(NamedTuple):
    """questions (B, D) and passages (P, D) vectors (unit length with `normalize`)."""

    questions: torch.Tensor
    passages: torch.Tensor


class DualEncoder(nn.Module):
    """Question and passage token ids -> one vector each, scored by dot product."""

    #: protocols.SentenceEncoder: either side reads a text; the trained pooling is the default.
    poolings: tuple[str, ...] = RNN_POOLINGS
    text_sides: tuple[str, ...] = SIDES
    default_pooling: str

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        embedding_dim: int = 128,
        hidden_dim: int = 128,
        num_layers: int = 1,
        rnn_type: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.1,
        share: str = "encoder",
        pooling: str = "last",
        normalize: bool = True,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        check_sizes(embedding_dim=embedding_dim, hidden_dim=hidden_dim, num_layers=num_layers)
        check_dropout(dropout)
        if share not in SHARING:
            raise ConfigError(
                f"model.share={share!r} is not one of {list(SHARING)}: 'encoder' (one encoder "
                f"for both), 'embedding' (one embedding, two RNNs) or 'none'; e.g. "
                f"model.share=encoder."
            )
        self.pooling = check_pooling(pooling, RNN_POOLINGS, option="model.pooling")
        self.default_pooling = self.pooling
        self.share, self.normalize = share, normalize

        def encoder(embedding: nn.Embedding | None = None) -> Encoder:
            return Encoder(
                vocab_size,
                embedding_dim,
                hidden_dim,
                num_layers,
                rnn_type=rnn_type,
                bidirectional=bidirectional,
                dropout=dropout,
                padding_idx=pad_id,
                embedding=embedding,
            )

        self.question_encoder = encoder()
        if share == "encoder":
            self.passage_encoder = self.question_encoder  # one module, registered under both names
        elif share == "embedding":
            self.passage_encoder = encoder(self.question_encoder.embedding)
        else:
            self.passage_encoder = encoder()
        set_frozen(self.embeddings(), freeze_embeddings)

    @property
    def dim(self) -> int:
        """Size of every vector (both directions joined, for either pooling)."""
        return self.question_encoder.output_dim

    def embeddings(self) -> list[nn.Embedding]:
        """The word embedding matrices (one unless share='none')."""
        pair = [self.question_encoder.embedding, self.passage_encoder.embedding]
        return list(dict.fromkeys(pair))

    def _vectors(
        self, encoder: Encoder, tokens: torch.Tensor, lengths: torch.Tensor, pooling: str = ""
    ) -> torch.Tensor:
        vectors = pool_rnn(encoder, encoder(tokens, lengths), pooling or self.pooling)  # (B, D)
        return F.normalize(vectors, dim=-1) if self.normalize else vectors

    def encode_texts(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        pooling: str = "",
        side: str = "passage",
    ) -> torch.Tensor:
        """tokens (B, S), lengths (B,) -> (B, D) vectors of the `side` encoder (pooling: the
        model's own unless given; unit length with `normalize`, as in training)."""
        check_side(side, self.text_sides)
        encoder = self.passage_encoder if side == "passage" else self.question_encoder
        return self._vectors(encoder, tokens, lengths, pooling)

    def encode_questions(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, Q) ids, lengths (B,) -> (B, D)."""
        return self._vectors(self.question_encoder, tokens, lengths)

    def encode_passages(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (P, T) ids, lengths (P,) -> (P, D)."""
        return self._vectors(self.passage_encoder, tokens, lengths)

    def forward(
        self,
        question: torch.Tensor,
        question_lengths: torch.Tensor,
        passage: torch.Tensor,
        passage_lengths: torch.Tensor,
    ) -> RetrieverOutput:
        """question (B, Q), passage (P, T) with P >= B: row i of passage answers question i; any
        rows past B are extra (hard) negatives."""
        return RetrieverOutput(
            self.encode_questions(question, question_lengths),
            self.encode_passages(passage, passage_lengths),
        )


def in_batch_negatives_loss(
    questions: torch.Tensor,
    passages: torch.Tensor,
    scale: float = 20.0,
    passage_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean cross-entropy of passage i for question i over the rows of scale * Q P^T.

    questions (B, D); passages (P, D), P >= B, row i the positive of question i, rows B.. extra
    negatives shared by every question. `scale` is the inverse temperature (20 suits unit vectors;
    1 suits raw dot products). passage_ids (P,): which passage each row is; another row holding a
    question's own passage (two questions of one paragraph in a batch) is not a negative and is
    masked out.
    """
    batch = questions.size(0)
    if passages.size(0) < batch:
        raise ValueError(f"{passages.size(0)} passages for {batch} questions: need one each.")
    logits = scale * questions @ passages.T  # (B, P)
    targets = torch.arange(batch, device=questions.device)
    if passage_ids is not None:
        same = passage_ids[:batch, None] == passage_ids[None, :]  # (B, P)
        same[targets, targets] = False
        logits = logits.masked_fill(same, float("-inf"))
    return F.cross_entropy(logits, targets)
