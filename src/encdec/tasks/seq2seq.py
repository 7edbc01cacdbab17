"""Seq2SeqTask: teacher-forced training, decoding and BLEU for an encoder-decoder model."""

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
from encdec.models.loss import smoothed_cross_entropy


class Seq2SeqTask(L.LightningModule):
    """Wraps a Seq2Seq network: cross-entropy training, val/test decoding, sacreBLEU.

    `optimizer` and `scheduler` are factories (Hydra `_partial_`), so the config picks them.
    Validation decodes with `val_beam_size` (greedy by default, for speed); test uses `beam_size`.
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
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "tokenizer", "optimizer", "scheduler"])
        self.net = net
        self.tokenizer = tokenizer
        self.ids = special_ids(tokenizer)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self._outputs: dict[int, tuple[str, str, str]] = {}
        #: [source, prediction, reference] rows of the last evaluation, for the SampleTable callback.
        self.samples: list[list[str]] = []
        self._step_started: float | None = None
        #: Extra entries written into every checkpoint (the resolved config, the tokenizer).
        self.checkpoint_extras: dict[str, Any] = {}

    # -- training -----------------------------------------------------------------------------
    def loss(self, batch: Batch, label_smoothing: float) -> tuple[torch.Tensor, int]:
        """Mean per-token cross-entropy over real (non-pad) target tokens, and their count."""
        real = batch.tgt_out != self.ids["pad"]  # (B, T)
        # Logits only at real target positions: (N, V), N = number of real tokens.
        logits, _ = self.net(batch.src, batch.src_lengths, batch.tgt_in, positions=real)
        total = smoothed_cross_entropy(logits, batch.tgt_out[real], label_smoothing)
        tokens = logits.size(0)
        return total / max(tokens, 1), tokens

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, tokens = self.loss(batch, self.hparams.label_smoothing)
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
        )

    def detokenize(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def translate(self, batch: Batch, beam_size: int | None = None) -> list[str]:
        return [
            self.detokenize(h.tokens)
            for h in self.decode(batch, beam_size or self.hparams.beam_size)
        ]

    # -- evaluation -----------------------------------------------------------------------------
    def _eval_step(self, batch: Batch, stage: str, beam_size: int) -> None:
        loss, _ = self.loss(batch, 0.0)
        self.log(f"{stage}/loss", loss, batch_size=len(batch), sync_dist=True)
        hyps = self.translate(batch, beam_size)
        for j, i in enumerate(batch.ids.tolist()):  # keyed by example id: order-free, no duplicates
            self._outputs[i] = (batch.src_text[j], hyps[j], batch.tgt_text[j])

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
        bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
        self.log(f"{stage}/bleu", bleu, prog_bar=True)
        loss = self.trainer.callback_metrics.get(f"{stage}/loss")
        if loss is not None:
            self.log(f"{stage}/ppl", math.exp(min(float(loss), 50.0)))
        self.samples = [list(o) for o in outputs[: self.hparams.num_samples]]

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
