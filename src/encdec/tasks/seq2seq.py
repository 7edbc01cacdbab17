"""Seq2SeqTask: teacher-forced training, decoding and BLEU for an encoder-decoder model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import sacrebleu
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn

from encdec.data.batching import Batch
from encdec.data.tokenization import special_ids
from encdec.decoding import Hypothesis, beam_search, max_output_lengths
from encdec.models.loss import smoothed_cross_entropy
from encdec.tasks.base import Task


class Seq2SeqTask(Task):
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
        #: id -> (source, hypothesis, reference, summed target NLL, target tokens) of this rank.
        self._outputs: dict[int, tuple[str, str, str, float, int]] = {}
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

    def example_losses(self, batch: Batch) -> tuple[list[float], list[int]]:
        """Summed cross-entropy (no smoothing) and target-token count of every example."""
        real = batch.tgt_out != self.ids["pad"]  # (B, T)
        logits, _ = self.net(batch.src, batch.src_lengths, batch.tgt_in, positions=real)  # (N, V)
        nll = F.cross_entropy(logits.float(), batch.tgt_out[real], reduction="none")  # (N,)
        per_example = nll.new_zeros(real.shape).masked_scatter(real, nll).sum(1)  # (B,)
        return per_example.tolist(), real.sum(1).tolist()

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
        nll, tokens = self.example_losses(batch)
        hyps = self.translate(batch, beam_size)
        for j, i in enumerate(batch.ids.tolist()):  # keyed by example id: order-free, no duplicates
            self._outputs[i] = (batch.src_text[j], hyps[j], batch.tgt_text[j], nll[j], tokens[j])

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "val", self.hparams.val_beam_size)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "test", self.hparams.beam_size)

    def _gathered_outputs(self) -> list[tuple[str, str, str, float, int]]:
        """Every rank's outputs, merged by example id (DDP pads uneven splits with repeats)."""
        outputs = self._outputs
        self._outputs = {}
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            parts: list[dict] = [{} for _ in range(torch.distributed.get_world_size())]
            torch.distributed.all_gather_object(parts, outputs)
            outputs = {i: o for part in parts for i, o in part.items()}
        return [outputs[i] for i in sorted(outputs)]

    def _eval_epoch_end(self, stage: str) -> None:
        """Corpus BLEU and token-level loss over the whole split, the same on every rank."""
        outputs = self._gathered_outputs()
        if not outputs:
            return
        hyps = [o[1] for o in outputs]
        refs = [o[2] for o in outputs]
        loss = sum(o[3] for o in outputs) / max(sum(o[4] for o in outputs), 1)
        # Every rank holds the same figures; sync_dist averages equal values (no change).
        self.log(
            f"{stage}/bleu",
            sacrebleu.corpus_bleu(hyps, [refs]).score,
            prog_bar=True,
            sync_dist=True,
        )
        self.log(f"{stage}/loss", loss, sync_dist=True)
        self.log(f"{stage}/ppl", math.exp(min(loss, 50.0)), sync_dist=True)
        self.samples = [list(o[:3]) for o in outputs[: self.hparams.num_samples]]

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
