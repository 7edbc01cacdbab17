"""Question in, passages out: a trained dual encoder (RetrievalTask) for `encdec.load`.

`Retriever.encode_questions` / `encode_passages` give one vector per text (the model's own
pooling; unit length when trained with `model.normalize=true`), `index(passages)` an exact
`VectorIndex` stamped with the weights' hash and pooling, and `search(question, passages or
index, k)` the k best passages of each question. Texts are tokenized as in training and cut to
the trained `data.max_question_len` / `data.max_passage_len`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from encdec.data.retrieval import encode_texts, pad
from encdec.data.tokenization import special_ids
from encdec.inference.encoding import Encoding, api_encode
from encdec.inference.inputs import OptionError
from encdec.inference.kinds import TaskKind
from encdec.inference.predictor import Predicted, PredictOptions, Warn
from encdec.models.retriever import DualEncoder
from encdec.retrieval.index import IndexInfo, VectorIndex, weights_hash
from encdec.retrieval.ranking import Ranking
from encdec.tasks.retrieval import RetrievalTask

#: The lengths a retriever saved without them in its config is read with (the data defaults).
DEFAULT_LIMITS = {"max_question_len": 48, "max_passage_len": 200}
NOT_LINES = (
    "a retrieval model searches a collection of passages: use encdec.load(path).search(question, "
    "passages, k) (or bench/retrieval.py --encoder for SQuAD); predict.py does not take it."
)


class Hit(NamedTuple):
    """One found passage: its number in the collection, its score (higher is better) and its
    text (None when searched in an index, which holds vectors only)."""

    number: int
    score: float
    text: str | None


class Retriever:
    """A trained RetrievalTask, ready to encode and search (see the module docstring)."""

    kind: TaskKind = "retrieval"

    def __init__(self, task: RetrievalTask, batch_size: int = 64) -> None:
        self.task = task.eval()
        self.net: DualEncoder = task.net
        self.batch_size = batch_size
        self._hash: str | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config the model was built from."""
        saved = self.task.checkpoint_extras
        assert saved is not None, "a loaded task carries its saved config"
        return saved.config

    def _limit(self, name: str) -> int:
        value = (self.config.get("data") or {}).get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return DEFAULT_LIMITS[name]

    @property
    def model_hash(self) -> str:
        """SHA-256 of the weights: what an index built with this model records."""
        if self._hash is None:
            self._hash = weights_hash(self.net)
        return self._hash

    @property
    def pooling(self) -> str:
        return self.net.pooling

    @torch.no_grad()
    def _encode(self, given: str | Sequence[str], passages: bool) -> np.ndarray:
        texts = [given] if isinstance(given, str) else list(given)
        net, tok = self.net, self.task.tokenizer
        ids = special_ids(tok)
        limit = self._limit("max_passage_len" if passages else "max_question_len")
        encode = net.encode_passages if passages else net.encode_questions
        device = next(net.parameters()).device
        out = np.zeros((len(texts), net.dim), np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = encode_texts(tok, texts[start : start + self.batch_size], limit, ids["unk"])
            tokens, lengths = pad(rows, ids["pad"])
            vectors = encode(tokens.to(device), lengths)  # (b, D)
            out[start : start + len(rows)] = vectors.float().cpu().numpy()
        return out

    def encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32: one vector per question, from the question encoder."""
        return self._encode(texts, passages=False)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32: one vector per passage, from the passage encoder."""
        return self._encode(texts, passages=True)

    def index(self, passages: Sequence[str], backend: str = "auto") -> VectorIndex:
        """An exact vector index of `passages` (faiss where installed), stamped with this
        model's hash and pooling, so another model's questions are refused on loading it."""
        vectors = self.encode_passages(passages)
        info = IndexInfo(
            self.model_hash, self.pooling, self.net.dim, len(vectors), self.net.normalize
        )
        return VectorIndex(vectors, info, backend=backend)

    def search(
        self, question: str | Sequence[str], passages: Sequence[str] | VectorIndex, k: int = 5
    ) -> list[Hit] | list[list[Hit]]:
        """The `k` best passages of a question (a list of Hits, best first), or of each of a
        list of questions; `passages` are texts (encoded now) or an index built with this
        model (`index`; loaded with `VectorIndex.load(folder, model_hash=...)`)."""
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise ValueError(f"k={k!r}: give a positive whole number of passages.")
        one = isinstance(question, str)
        questions: list[str] = [question] if isinstance(question, str) else list(question)
        texts = None if isinstance(passages, VectorIndex) else list(passages)
        if texts is not None and not texts:
            raise ValueError("passages is empty: give at least one passage to search.")
        index = self.index(texts) if texts is not None else passages
        assert isinstance(index, VectorIndex)
        ranking = self.rank(questions, index, k)
        found = [
            [
                Hit(int(n), float(s), texts[int(n)] if texts is not None else None)
                for n, s in zip(ids, scores, strict=True)
            ]
            for ids, scores in zip(ranking.ids, ranking.scores, strict=True)
        ]
        return found[0] if one else found

    def rank(self, questions: Sequence[str], index: VectorIndex, k: int) -> Ranking:
        """The `k` best passage numbers of each question in an index this model built."""
        if index.info.model_hash != self.model_hash:
            raise ValueError(
                "the index was built by another model (its model_hash differs): build it again "
                "with this model's index(passages)."
            )
        return index.search(self.encode_questions(questions), min(k, len(index)))

    def to(self, device: str | torch.device) -> Retriever:
        self.task.to(device)
        return self

    @property
    def encoding(self) -> Encoding:
        """Texts as the dual encoder reads them (side "passage" by default, or "question"), cut
        to the trained passage length."""
        pad_id = special_ids(self.task.tokenizer)["pad"]
        return Encoding(self.net, self.task.tokenizer, pad_id, self._limit("max_passage_len"))

    def encode(
        self,
        texts: str | list[str],
        pooling: str | None = None,
        batch_size: int = 64,
        side: str | None = None,
    ) -> torch.Tensor:
        """One vector per text, (N, D) float32, as every predictor gives
        (`encdec.inference.encoding`); `side="question"` for the question encoder."""
        return api_encode(self.encoding, texts, pooling, side, batch_size)

    # -- the Predictor interface (predict.py, the server) -----------------------------------
    def check(self, options: PredictOptions) -> None:
        raise OptionError(NOT_LINES)

    def predict_lines(
        self, numbered: list[tuple[int, bytes]], options: PredictOptions, warn: Warn
    ) -> Predicted:
        raise OptionError(NOT_LINES)

    def command_line(
        self, fields: Mapping[str, Any], options: PredictOptions, note: Callable[[str], None]
    ) -> str | None:
        raise OptionError(NOT_LINES)

    def describe(self) -> dict[str, Any]:
        return {"pooling": self.pooling, "dim": self.net.dim, "share": self.net.share}
