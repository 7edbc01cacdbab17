"""Seq2SeqTask: teacher-forced training, decoding and BLEU / ROUGE for an encoder-decoder model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import sacrebleu
import torch
from tokenizers import Tokenizer
from torch import nn

from encdec.data.batching import Batch
from encdec.data.tokenization import special_ids
from encdec.decoding import Hypothesis, beam_search, max_output_lengths
from encdec.models.loss import coverage_loss, smoothed_cross_entropy, smoothed_nll

METRICS = ("bleu", "rouge")
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def rouge_f1(hyps: list[str], refs: list[list[str]]) -> dict[str, float]:
    """ROUGE-1/2/L F1 x 100 (torchmetrics); with several references per example, each metric
    takes the best reference of each example (accumulate="best"), as multi-reference ROUGE does.
    """
    from torchmetrics.functional.text import rouge_score

    scores = rouge_score(hyps, refs, accumulate="best", rouge_keys=ROUGE_KEYS)
    return {key: 100.0 * float(scores[f"{key}_fmeasure"]) for key in ROUGE_KEYS}


class Seq2SeqTask(L.LightningModule):
    """Wraps a Seq2Seq network: cross-entropy training, val/test decoding, sacreBLEU.

    `optimizer` and `scheduler` are factories (Hydra `_partial_`), so the config picks them.
    Validation decodes with `val_beam_size` (greedy by default, for speed); test uses `beam_size`.
    `metric` is "bleu" (sacreBLEU) or "rouge" (ROUGE-1/2/L F1 against the first reference, and
    `*_multi` against all references where the split has several).
    With a copying network (`net.copy`) the net returns log-probabilities of its mixture and the
    loss is their NLL; otherwise the fused cross-entropy on logits. With `net.coverage`, training
    adds `coverage_loss_weight` x the coverage loss (logged as train/coverage_loss).
    """

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        monitor: str = "val/bleu",
        label_smoothing: float = 0.0,
        beam_size: int = 5,
        val_beam_size: int = 1,
        length_penalty: float = 1.0,
        max_len_ratio: float = 1.5,
        max_len_offset: int = 10,
        max_len_cap: int = 250,
        num_samples: int = 8,
        metric: str = "bleu",
        coverage_loss_weight: float = 1.0,
        min_length: int = 0,
        no_repeat_ngram_size: int = 0,
    ) -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"task.metric={metric!r}: choose one of {METRICS}.")
        self.save_hyperparameters(ignore=["net", "tokenizer", "optimizer", "scheduler"])
        self.net = net
        self.tokenizer = tokenizer
        self.ids = special_ids(tokenizer)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self._outputs: dict[int, tuple[str, str, str, list[str]]] = {}
        #: [source, prediction, reference] rows of the last evaluation, for the SampleTable callback.
        self.samples: list[list[str]] = []
        self._step_started: float | None = None
        #: Extra entries written into every checkpoint (the resolved config, the tokenizer).
        self.checkpoint_extras: dict[str, Any] = {}

    # -- training -----------------------------------------------------------------------------
    def loss(self, batch: Batch, label_smoothing: float) -> tuple[torch.Tensor, int]:
        """Mean per-token cross-entropy over real (non-pad) target tokens, and their count.

        With coverage, the mean coverage loss per token is kept in `self.last_coverage_loss`.
        """
        real = batch.tgt_out != self.ids["pad"]  # (B, T)
        target = batch.tgt_out[real]
        copy = getattr(self.net, "copy", False)
        extra = {"src_ext": batch.src_ext} if copy and batch.src_ext is not None else {}
        # Logits (log-probs with copy) only at real target positions: (N, V), N real tokens.
        out, weights = self.net(batch.src, batch.src_lengths, batch.tgt_in, positions=real, **extra)
        tokens = out.size(0)
        if copy:
            total = smoothed_nll(out, target, label_smoothing, self.net.vocab_size)
        else:  # a copy target (extended id) is <unk> to a network that cannot copy
            target = target.masked_fill(target >= out.size(-1), self.ids["unk"])
            total = smoothed_cross_entropy(out, target, label_smoothing)
        self.last_coverage_loss = None
        if getattr(self.net, "coverage", False) and weights is not None:
            self.last_coverage_loss = coverage_loss(weights, real) / max(tokens, 1)
        return total / max(tokens, 1), tokens

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, tokens = self.loss(batch, self.hparams.label_smoothing)
        if self.last_coverage_loss is not None:
            self.log("train/coverage_loss", self.last_coverage_loss, batch_size=len(batch))
            loss = loss + self.hparams.coverage_loss_weight * self.last_coverage_loss
        now = time.perf_counter()
        if self._step_started is not None:
            self.log(
                "train/tokens_per_sec", tokens / (now - self._step_started), batch_size=len(batch)
            )
        self._step_started = now
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def on_train_epoch_start(self) -> None:
        self._step_started = None

    # -- decoding -----------------------------------------------------------------------------
    def decode(
        self, batch: Batch, beam_size: int, return_attention: bool = False
    ) -> list[Hypothesis]:
        """Decode a batch; beam_size 1 is greedy search."""
        hp = self.hparams
        max_lengths = max_output_lengths(
            batch.src_lengths, hp.max_len_ratio, hp.max_len_offset, hp.max_len_cap
        )
        return beam_search(
            self.net,
            batch.src,
            batch.src_lengths,
            self.ids["bos"],
            self.ids["eos"],
            max_lengths,
            beam_size=beam_size,
            alpha=hp.length_penalty,
            return_attention=return_attention,
            min_length=hp.get("min_length", 0),
            no_repeat_ngram_size=hp.get("no_repeat_ngram_size", 0),
            src_ext=batch.src_ext if getattr(self.net, "copy", False) else None,
        )

    def detokenize(self, tokens: list[int], oov: list[str] | None = None) -> str:
        """Token ids -> text; extended ids (copied source-only words) become those words."""
        vocab = self.tokenizer.get_vocab_size()
        if not oov or all(t < vocab for t in tokens):
            return self.tokenizer.decode(tokens, skip_special_tokens=True)
        special = set(self.ids.values())
        pieces = [
            oov[t - vocab] if t >= vocab else self.tokenizer.id_to_token(t)
            for t in tokens
            if t not in special and t < vocab + len(oov)
        ]
        return self.tokenizer.decoder.decode(pieces)

    def translate(self, batch: Batch, beam_size: int | None = None) -> list[str]:
        hyps = self.decode(batch, beam_size or self.hparams.beam_size)
        oov = batch.oov or [None] * len(hyps)
        return [self.detokenize(h.tokens, words) for h, words in zip(hyps, oov, strict=True)]

    # -- evaluation -----------------------------------------------------------------------------
    def _eval_step(self, batch: Batch, stage: str, beam_size: int) -> None:
        loss, _ = self.loss(batch, 0.0)
        self.log(f"{stage}/loss", loss, batch_size=len(batch), sync_dist=True)
        hyps = self.translate(batch, beam_size)
        refs = batch.references or [[t] for t in batch.tgt_text]
        for j, i in enumerate(batch.ids.tolist()):  # keyed by example id: order-free, no duplicates
            self._outputs[i] = (batch.src_text[j], hyps[j], batch.tgt_text[j], refs[j])

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "val", self.hparams.val_beam_size)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "test", self.hparams.beam_size)

    def _eval_epoch_end(self, stage: str) -> None:
        outputs = [self._outputs[i] for i in sorted(self._outputs)]
        self._outputs = {}
        if not outputs:
            return
        hyps = [o[1] for o in outputs]
        refs = [o[2] for o in outputs]
        if self.hparams.get("metric", "bleu") == "rouge":
            for key, value in rouge_f1(hyps, [[r] for r in refs]).items():
                self.log(f"{stage}/{key}", value, prog_bar=key == "rouge1")
            all_refs = [o[3] for o in outputs]
            if any(len(r) > 1 for r in all_refs):
                for key, value in rouge_f1(hyps, all_refs).items():
                    self.log(f"{stage}/{key}_multi", value)
        else:
            bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
            self.log(f"{stage}/bleu", bleu, prog_bar=True)
        loss = self.trainer.callback_metrics.get(f"{stage}/loss")
        if loss is not None:
            self.log(f"{stage}/ppl", math.exp(min(float(loss), 50.0)))
        self.samples = [list(o[:3]) for o in outputs[: self.hparams.num_samples]]

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    # -- optimisation ---------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": self.scheduler_factory(optimizer=optimizer),
                "monitor": self.hparams.monitor,
                "interval": self.hparams.scheduler_interval,
            },
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["encdec"] = {**self.checkpoint_extras, "tokenizer": self.tokenizer.to_str()}
