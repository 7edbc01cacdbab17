"""QATask: span-extraction training, best-span decoding and SQuAD exact match / F1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn
from torchmetrics.functional.text import squad

from encdec.data.squad import QABatch
from encdec.decoding.spans import best_spans
from encdec.tasks.base import Task


class QATask(Task):
    """Wraps a DocumentReader: cross-entropy on the gold start and end tokens; at evaluation the
    best span (shorter than `max_answer_len` tokens) is cut from the context by its character
    offsets and scored with the official SQuAD exact match and F1 (max over the references).

    Predictions go to `<run>/predictions/<stage>[-epochNN].json` as the official `{id: answer}`
    JSON, so `evaluate-v1.1.py dev-v1.1.json <file>` scores them too.
    """

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        monitor: str = "val/f1",
        max_answer_len: int = 15,
        num_samples: int = 8,
    ) -> None:
        super().__init__(net, tokenizer, optimizer, scheduler)
        self.save_hyperparameters(ignore=["net", "tokenizer", "optimizer", "scheduler"])
        #: example index -> (question id, question, prediction, reference answers) of this evaluation.
        self._outputs: dict[int, tuple[str, str, str, dict[str, list]]] = {}

    def forward(self, batch: QABatch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(
            batch.passage,
            batch.passage_lengths,
            batch.question,
            batch.question_lengths,
            batch.features,
        )

    def loss(self, batch: QABatch) -> torch.Tensor:
        """Mean of start and end cross-entropy over questions whose answer is in the passage."""
        start_logits, end_logits = self(batch)
        answered = int((batch.start >= 0).sum())
        total = sum(
            F.cross_entropy(logits.float(), gold, ignore_index=-1, reduction="sum")
            for logits, gold in ((start_logits, batch.start), (end_logits, batch.end))
        )
        return total / (2 * max(answered, 1))

    def training_step(self, batch: QABatch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    # -- answering ------------------------------------------------------------------------------
    def answer(self, batch: QABatch) -> list[str]:
        """The best span of each passage, as the exact substring of its context."""
        start_logits, end_logits = self(batch)
        starts, ends, _ = best_spans(
            start_logits.float().log_softmax(-1),
            end_logits.float().log_softmax(-1),
            self.hparams.max_answer_len,
        )
        return [
            context[offsets[s, 0] : offsets[e, 1]]
            for context, offsets, s, e in zip(
                batch.contexts, batch.offsets, starts.tolist(), ends.tolist(), strict=True
            )
        ]

    # -- evaluation -----------------------------------------------------------------------------
    def _eval_step(self, batch: QABatch, stage: str) -> None:
        if bool((batch.start >= 0).any()):  # some truncated passages may have lost their answer
            self.log(f"{stage}/loss", self.loss(batch), batch_size=len(batch), sync_dist=True)
        for j, (i, answer) in enumerate(zip(batch.index.tolist(), self.answer(batch), strict=True)):
            # Keyed by example: a question repeated to even out DDP ranks is counted once.
            self._outputs[i] = (batch.qids[j], batch.questions[j], answer, batch.answers[j])

    def validation_step(self, batch: QABatch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: QABatch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _gathered_outputs(self) -> dict[int, tuple[str, str, str, dict[str, list]]]:
        """Every rank's answers (all ranks get all of them), so EM/F1 are over the whole split."""
        outputs, self._outputs = self._outputs, {}
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            parts: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(parts, outputs)
            outputs = {i: o for part in parts for i, o in part.items()}
        return outputs

    def _eval_epoch_end(self, stage: str) -> None:
        outputs = [o for _, o in sorted(self._gathered_outputs().items())]
        if not outputs:
            return
        scores = squad(
            preds=[{"id": qid, "prediction_text": answer} for qid, _, answer, _ in outputs],
            target=[{"id": qid, "answers": refs} for qid, _, _, refs in outputs],
        )
        # Every rank computed the same figures from the same gathered answers: no further sync.
        self.log(f"{stage}/em", scores["exact_match"], prog_bar=True)
        self.log(f"{stage}/f1", scores["f1"], prog_bar=True)
        self.samples = [
            [question, answer, " | ".join(refs["text"])]
            for _, question, answer, refs in outputs[: self.hparams.num_samples]
        ]
        # The official SQuAD prediction file, {question id: answer text}.
        predictions = {qid: answer for qid, _, answer, _ in outputs}
        self.write_predictions(
            stage, ".json", json.dumps(predictions, ensure_ascii=False, indent=0) + "\n"
        )

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
