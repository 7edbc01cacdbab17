"""RetrievalTask: a dual encoder trained with in-batch negatives, evaluated by ranking a split's
whole paragraph collection for every question (recall@k and MRR)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from encdec.data.retrieval import RetrievalBatch, RetrievalDataModule
from encdec.errors import ConfigError
from encdec.metrics import RetrievalMetrics
from encdec.models.retriever import DualEncoder, in_batch_negatives_loss
from encdec.tasks.base import LRSchedule, Task

#: Characters of a passage shown in the sample table.
SNIPPET = 160


class Asked(NamedTuple):
    """One evaluated question: its vector (D,), its right paragraph, its tokens as text."""

    vector: np.ndarray
    gold: int
    text: str


class Passage(NamedTuple):
    """One evaluated paragraph: its number, its vector (D,) and the start of its tokens as text."""

    number: int
    vector: np.ndarray
    text: str


class RetrievalTask(Task):
    """Wraps a DualEncoder. Training: the cross-entropy of each question's paragraph over the
    batch's paragraphs (and hard negatives), `scale` times their scores (the inverse
    temperature: 20 suits the unit vectors of `model.normalize=true`, 1 raw dot products).

    Validation / test: every question and every paragraph of the split is encoded once (each
    rank its share; `Task.gather` merges them by number), each question ranks the whole
    collection by a matrix product, and `metric` reports recall@k and MRR (`val/recall_5`,
    `val/mrr`, ...). `samples`: questions with their right paragraph and their top passage.
    """

    metric: RetrievalMetrics
    net: DualEncoder

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: LRSchedule | None = None,
        compile: bool = False,
        metric: RetrievalMetrics | None = None,
        scale: float = 20.0,
    ) -> None:
        if not isinstance(net, DualEncoder):
            raise ConfigError(
                f"task=retrieval ranks passages with a dual encoder (model=retriever), not "
                f"{type(net).__name__}; use model=retriever with task=retrieval."
            )
        if not scale > 0:
            raise ConfigError(f"task.scale={scale}: must be positive (20 for unit vectors).")
        super().__init__(
            net, tokenizer, optimizer, scheduler, compile, metric or RetrievalMetrics()
        )
        self.save_hyperparameters(ignore=["net", "tokenizer", "optimizer", "scheduler", "metric"])
        self.scale = scale
        self._questions: dict[int, Asked] = {}
        self._passages: dict[int, Passage] = {}

    @classmethod
    def check_data(cls, datamodule: type) -> None:
        if not issubclass(datamodule, RetrievalDataModule):
            raise ConfigError(
                f"task=retrieval reads questions with their paragraphs as retrieval pairs, "
                f"which {datamodule.__name__} does not give: use data=squad_retrieval."
            )

    def loss(self, batch: RetrievalBatch) -> torch.Tensor:
        out = self.net(batch.question, batch.question_lengths, batch.passage, batch.passage_lengths)
        return in_batch_negatives_loss(
            out.questions.float(), out.passages.float(), self.scale, batch.passage_ids
        )

    def training_step(self, batch: RetrievalBatch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    # -- evaluation -----------------------------------------------------------------------------
    def _text(self, ids: torch.Tensor, length: int) -> str:
        return self.tokenizer.decode(ids[:length].tolist(), skip_special_tokens=True)

    def _eval_step(self, batch: RetrievalBatch) -> None:
        # Keyed by number: an item repeated to even out DDP ranks is counted once.
        if len(batch):
            vectors = self.net.encode_questions(batch.question, batch.question_lengths)
            for b, (i, gold) in enumerate(
                zip(batch.question_index.tolist(), batch.gold.tolist(), strict=True)
            ):
                text = self._text(batch.question[b], int(batch.question_lengths[b]))
                self._questions[i] = Asked(vectors[b].float().cpu().numpy(), gold, text)
        if batch.passage.size(0):
            vectors = self.net.encode_passages(batch.passage, batch.passage_lengths)
            for b, p in enumerate(batch.passage_ids.tolist()):
                text = self._text(batch.passage[b], int(batch.passage_lengths[b]))[:SNIPPET]
                self._passages[p] = Passage(p, vectors[b].float().cpu().numpy(), text)

    def validation_step(self, batch: RetrievalBatch, batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: RetrievalBatch, batch_idx: int) -> None:
        self._eval_step(batch)

    def _eval_epoch_end(self, stage: str) -> None:
        asked, passages = self.gather(self._questions), self.gather(self._passages)
        self._questions, self._passages = {}, {}
        row = {p.number: r for r, p in enumerate(passages)}
        # All of them on a whole split; with trainer.limit_*_batches only the questions whose
        # paragraph was encoded can be ranked (over the paragraphs that were).
        asked = [a for a in asked if a.gold in row]
        if not asked:
            return
        questions = np.stack([a.vector for a in asked])  # (Q, D)
        collection = np.stack([p.vector for p in passages])  # (P, D)
        gold = np.asarray([row[a.gold] for a in asked])
        scores = questions @ collection.T  # (Q, P)
        score = self.metric(scores, gold)
        # Every rank computed the same figures from the same gathered vectors: no further sync.
        self.log_score(stage, score.values, score.progress_bar)
        top = scores.argmax(axis=1)
        self.samples = [
            [a.text, passages[int(t)].text, passages[g].text]
            for a, t, g in zip(asked, top, gold, strict=True)
        ]

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
