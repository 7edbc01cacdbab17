"""QATask: span-extraction training, best-span decoding and SQuAD exact match / F1."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn

from encdec.data.qa import QADataModule
from encdec.data.squad import QABatch
from encdec.decoding.spans import best_spans
from encdec.errors import ConfigError
from encdec.metrics import SquadMetrics
from encdec.models.reader import DocumentReader
from encdec.tasks.base import LRSchedule, Task


class Answer(NamedTuple):
    """One evaluated question: its id, text, the predicted answer and the reference answers."""

    qid: str
    question: str
    prediction: str
    references: dict[str, list]


class Span(NamedTuple):
    """One answer: the text, its [start, end) character offsets in the context, its probability."""

    text: str
    start: int
    end: int
    score: float


class QATask(Task):
    """Wraps a DocumentReader: cross-entropy on the gold start and end tokens; at evaluation the
    best span (shorter than `max_answer_len` tokens) is cut from the context by its character
    offsets and scored by `metric` (the official SQuAD exact match and F1, max over the
    references).

    Predictions go to `<run>/predictions/<stage>[-epochNN].json` as the official `{id: answer}`
    JSON, so `evaluate-v1.1.py dev-v1.1.json <file>` scores them too.
    """

    metric: SquadMetrics
    net: DocumentReader

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: LRSchedule | None = None,
        compile: bool = False,
        metric: SquadMetrics | None = None,
        max_answer_len: int = 15,
    ) -> None:
        if not isinstance(net, DocumentReader):
            raise ConfigError(
                f"task=qa answers with a reader (model=reader), not {type(net).__name__}; "
                f"use model=reader with task=qa."
            )
        super().__init__(net, tokenizer, optimizer, scheduler, compile, metric or SquadMetrics())
        self.save_hyperparameters(ignore=["net", "tokenizer", "optimizer", "scheduler", "metric"])
        self.max_answer_len = max_answer_len
        self._outputs: dict[int, Answer] = {}

    @classmethod
    def check_data(cls, datamodule: type) -> None:
        if not issubclass(datamodule, QADataModule):
            raise ConfigError(
                f"task=qa reads questions with their contexts, which {datamodule.__name__} does "
                f"not hold: use data=squad or data=squad_json with task=qa."
            )

    def forward(self, batch: QABatch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(
            batch.passage,
            batch.passage_lengths,
            batch.question,
            batch.question_lengths,
            batch.features,
            batch.passage_chars,
            batch.question_chars,
        )

    def loss(self, batch: QABatch) -> torch.Tensor:
        """Mean of start and end cross-entropy over questions whose answer is in the passage."""
        start_logits, end_logits = self(batch)
        answered = int((batch.start >= 0).sum())
        start_loss, end_loss = (
            F.cross_entropy(logits.float(), gold, ignore_index=-1, reduction="sum")
            for logits, gold in ((start_logits, batch.start), (end_logits, batch.end))
        )
        return (start_loss + end_loss) / (2 * max(answered, 1))

    def training_step(self, batch: QABatch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    # -- answering ------------------------------------------------------------------------------
    def spans(self, batch: QABatch) -> list[Span]:
        """The best span of each passage: its exact substring of the context, its character
        offsets there, and its probability p_start(i) * p_end(j) under the reader."""
        start_logits, end_logits = self(batch)
        starts, ends, scores = best_spans(
            start_logits.float().log_softmax(-1),
            end_logits.float().log_softmax(-1),
            self.max_answer_len,
        )
        found = []
        for context, offsets, s, e, score in zip(
            batch.contexts,
            batch.offsets,
            starts.tolist(),
            ends.tolist(),
            scores.tolist(),
            strict=True,
        ):
            begin, end = int(offsets[s, 0]), int(offsets[e, 1])
            found.append(Span(context[begin:end], begin, end, math.exp(score)))
        return found

    def answer(self, batch: QABatch) -> list[str]:
        """The best span of each passage, as the exact substring of its context."""
        return [span.text for span in self.spans(batch)]

    # -- evaluation -----------------------------------------------------------------------------
    def _eval_step(self, batch: QABatch, stage: str) -> None:
        if bool((batch.start >= 0).any()):  # some truncated passages may have lost their answer
            self.log(f"{stage}/loss", self.loss(batch), batch_size=len(batch), sync_dist=True)
        for j, (i, answer) in enumerate(zip(batch.index.tolist(), self.answer(batch), strict=True)):
            # Keyed by example: a question repeated to even out DDP ranks is counted once.
            self._outputs[i] = Answer(batch.qids[j], batch.questions[j], answer, batch.answers[j])

    def validation_step(self, batch: QABatch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: QABatch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, stage: str) -> None:
        outputs = self.gather(self._outputs)
        self._outputs = {}
        if not outputs:
            return
        predictions = {o.qid: o.prediction for o in outputs}  # the official {id: answer} file
        score = self.metric(predictions, {o.qid: o.references for o in outputs})
        # Every rank computed the same figures from the same gathered answers: no further sync.
        self.log_score(stage, score.values, score.progress_bar)
        self.samples = [
            [o.question, o.prediction, " | ".join(o.references["text"])] for o in outputs
        ]
        self.write_predictions(
            stage, ".json", json.dumps(predictions, ensure_ascii=False, indent=0) + "\n"
        )

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
