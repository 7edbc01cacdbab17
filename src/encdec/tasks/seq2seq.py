"""Seq2SeqTask: teacher-forced training, decoding and BLEU / ROUGE for an encoder-decoder model."""

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
from encdec.models.loss import coverage_loss, smoothed_cross_entropy, smoothed_nll
from encdec.tasks.base import Task

METRICS = ("bleu", "rouge")
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def rouge_f1(hyps: list[str], refs: list[list[str]], stemmer: bool = True) -> dict[str, float]:
    """ROUGE-1/2/L F1 x 100 (torchmetrics); with several references per example, each metric
    takes the best reference of each example (accumulate="best"), as multi-reference ROUGE does.

    `stemmer` applies the Porter stemmer to words of 4+ letters, as rouge-score's
    use_stemmer=True and ROUGE-1.5.5's -m: the setting of DialogSum's published baseline and of
    most summarization papers, so figures are comparable with theirs.
    """
    from torchmetrics.functional.text import rouge_score

    scores = rouge_score(hyps, refs, accumulate="best", rouge_keys=ROUGE_KEYS, use_stemmer=stemmer)
    return {key: 100.0 * float(scores[f"{key}_fmeasure"]) for key in ROUGE_KEYS}


class Seq2SeqTask(Task):
    """Wraps a Seq2Seq network: cross-entropy training, val/test decoding, sacreBLEU.

    `optimizer` and `scheduler` are factories (Hydra `_partial_`), so the config picks them.
    Validation decodes with `val_beam_size` (greedy by default, for speed); test uses `beam_size`.
    `metric` is "bleu" (sacreBLEU) or "rouge" (ROUGE-1/2/L F1 against the first reference, and
    `*_multi` against all references where the split has several; `rouge_stemmer` as in
    `rouge_f1`). Every evaluation writes its hypotheses, one per line in split order, to
    `<run>/predictions/` (see `Task.write_predictions`), for sacrebleu / rouge tools and for reading.
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
        rouge_stemmer: bool = True,
    ) -> None:
        super().__init__(net, tokenizer, optimizer, scheduler)
        if metric not in METRICS:
            raise ValueError(f"task.metric={metric!r}: choose one of {METRICS}.")
        self.save_hyperparameters(ignore=["net", "tokenizer", "optimizer", "scheduler"])
        self.ids = special_ids(tokenizer)
        #: id -> (source, hypothesis, reference, summed target NLL, target tokens, all references).
        self._outputs: dict[int, tuple[str, str, str, float, int, list[str]]] = {}
        self._step_started: float | None = None

    # -- training -----------------------------------------------------------------------------
    @property
    def copies(self) -> bool:
        """True when the network copies: it then returns log-probabilities, not logits."""
        return bool(getattr(self.net, "copy", False))

    def _forward_real(self, batch: Batch) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
        """Teacher-forced outputs at the real (non-pad) target positions.

        -> logits (N, V) (log-probabilities (N, V_ext) when copying), attention (B, T, S),
        the (B, T) mask of real positions, and the N target ids.
        """
        real = batch.tgt_out != self.ids["pad"]  # (B, T)
        target = batch.tgt_out[real]
        extra = {"src_ext": batch.src_ext} if self.copies and batch.src_ext is not None else {}
        out, weights = self.net(batch.src, batch.src_lengths, batch.tgt_in, positions=real, **extra)
        if not self.copies:  # a copy target (extended id) is <unk> to a network that cannot copy
            target = target.masked_fill(target >= out.size(-1), self.ids["unk"])
        return out, weights, real, target

    def loss(self, batch: Batch, label_smoothing: float) -> tuple[torch.Tensor, int]:
        """Mean per-token cross-entropy over real (non-pad) target tokens, and their count.

        With coverage, the mean coverage loss per token is kept in `self.last_coverage_loss`.
        """
        out, weights, real, target = self._forward_real(batch)
        tokens = out.size(0)
        if self.copies:
            total = smoothed_nll(out, target, label_smoothing, self.net.vocab_size)
        else:
            total = smoothed_cross_entropy(out, target, label_smoothing)
        self.last_coverage_loss = None
        if getattr(self.net, "coverage", False) and weights is not None:
            self.last_coverage_loss = coverage_loss(weights, real) / max(tokens, 1)
        return total / max(tokens, 1), tokens

    def example_losses(self, batch: Batch) -> tuple[list[float], list[int]]:
        """Summed cross-entropy (no smoothing) and target-token count of every example."""
        out, _, real, target = self._forward_real(batch)  # (N, V)
        if self.copies:
            nll = F.nll_loss(out, target, reduction="none")  # (N,)
        else:
            nll = F.cross_entropy(out.float(), target, reduction="none")  # (N,)
        per_example = nll.new_zeros(real.shape).masked_scatter(real, nll).sum(1)  # (B,)
        return per_example.tolist(), real.sum(1).tolist()

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
            src_ext=batch.src_ext if self.copies else None,
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
        nll, tokens = self.example_losses(batch)
        hyps = self.translate(batch, beam_size)
        refs = batch.references or [[t] for t in batch.tgt_text]
        for j, i in enumerate(batch.ids.tolist()):  # keyed by example id: order-free, no duplicates
            self._outputs[i] = (
                batch.src_text[j], hyps[j], batch.tgt_text[j], nll[j], tokens[j], refs[j]
            )  # fmt: skip

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
        if self.hparams.get("metric", "bleu") == "rouge":
            stem = self.hparams.get("rouge_stemmer", True)
            for key, value in rouge_f1(hyps, [[r] for r in refs], stem).items():
                self.log(f"{stage}/{key}", value, prog_bar=key == "rouge1", sync_dist=True)
            all_refs = [o[5] for o in outputs]
            if any(len(r) > 1 for r in all_refs):
                for key, value in rouge_f1(hyps, all_refs, stem).items():
                    self.log(f"{stage}/{key}_multi", value, sync_dist=True)
        else:
            self.log(
                f"{stage}/bleu",
                sacrebleu.corpus_bleu(hyps, [refs]).score,
                prog_bar=True,
                sync_dist=True,
            )
        self.log(f"{stage}/loss", loss, sync_dist=True)
        self.log(f"{stage}/ppl", math.exp(min(loss, 50.0)), sync_dist=True)
        self.samples = [list(o[:3]) for o in outputs[: self.hparams.num_samples]]
        # One line per example: a summary's line breaks become spaces.
        self.write_predictions(stage, ".txt", "".join(h.replace("\n", " ") + "\n" for h in hyps))

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
