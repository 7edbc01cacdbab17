"""Seq2SeqTask: teacher-forced training, decoding and a configured metric (BLEU, ROUGE) for an
encoder-decoder network."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn

from encdec.data.batching import Batch
from encdec.data.copy_vocab import detokenize
from encdec.data.qa import QADataModule
from encdec.data.tokenization import special_ids
from encdec.decoding import DecodingSettings, Hypothesis, beam_search, max_output_lengths
from encdec.errors import ConfigError
from encdec.metrics import Bleu, Rouge
from encdec.models.loss import coverage_loss, smoothed_cross_entropy, smoothed_nll
from encdec.models.protocols import Seq2SeqNetwork
from encdec.tasks.base import LRSchedule, Task

log = logging.getLogger(__name__)


class LossSettings(NamedTuple):
    """The training objective (`task.loss`): label smoothing of the cross-entropy, and the weight
    of the coverage loss added when the network keeps coverage (See et al. use 1)."""

    label_smoothing: float = 0.0
    coverage_weight: float = 1.0


class Loss(NamedTuple):
    """A batch's training loss: mean cross-entropy per real target token, their count, and the
    mean coverage loss per token (None without coverage)."""

    cross_entropy: torch.Tensor
    tokens: int
    coverage: torch.Tensor | None


class Output(NamedTuple):
    """One evaluated example: texts, its summed target NLL and token count, all its references."""

    source: str
    hypothesis: str
    reference: str
    nll: float
    tokens: int
    references: list[str]


class Seq2SeqTask(Task):
    """Wraps a `Seq2SeqNetwork`: cross-entropy training, val/test decoding and a metric object.

    `decoding` holds the search settings: validation decodes with `val_beam_size` (greedy by
    default, for speed), test with `beam_size`. `metric` scores a split's outputs
    (`encdec.metrics.Bleu` or `Rouge`): its figures are logged as `<stage>/<name>`, and a record
    it returns (BLEU's sacreBLEU signature) is saved as
    `<run>/predictions/<stage>[-epochNN].<name>.json`. Every evaluation writes its hypotheses,
    one per line in split order, to `<run>/predictions/` (see `Task.write_predictions`). A
    copying network (`net.copy`) returns log-probabilities of its mixture and the loss is their
    NLL; otherwise the fused cross-entropy on logits. With `net.coverage`, training adds
    `loss.coverage_weight` x the coverage loss (logged as train/coverage_loss).
    """

    metric: Bleu | Rouge

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: LRSchedule | None = None,
        compile: bool = False,
        metric: Bleu | Rouge | None = None,
        decoding: DecodingSettings | None = None,
        loss: LossSettings | None = None,
    ) -> None:
        if not isinstance(net, Seq2SeqNetwork):
            raise ConfigError(
                f"task=translation / summarization decode with an encoder-decoder "
                f"(model=seq2seq or model=transformer), not {type(net).__name__}; choose one of "
                f"those, or task=qa for model=reader."
            )
        super().__init__(net, tokenizer, optimizer, scheduler, compile, metric or Bleu())
        self.save_hyperparameters(
            ignore=["net", "tokenizer", "optimizer", "scheduler", "decoding", "metric", "loss"]
        )
        self.decoding = decoding or DecodingSettings()
        self.loss_settings = loss or LossSettings()
        self.ids = special_ids(tokenizer)
        self._outputs: dict[int, Output] = {}
        #: sacreBLEU's signature of the last BLEU score (tokenization, version, ...).
        self.bleu_signature: str | None = None

    @classmethod
    def check_data(cls, datamodule: type) -> None:
        if issubclass(datamodule, QADataModule):
            raise ConfigError(
                f"{datamodule.__name__} holds questions for task=qa: translation and "
                f"summarization read text pairs (data=multi30k, dialogsum, text_pairs or "
                f"hf_pairs), or choose task=qa."
            )

    # -- training -----------------------------------------------------------------------------
    @property
    def network(self) -> Seq2SeqNetwork:
        """The network as the protocol it was checked against when the task was built."""
        return cast(Seq2SeqNetwork, self.net)

    @property
    def copies(self) -> bool:
        """True when the network copies: it then returns log-probabilities, not logits."""
        return self.network.copy

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

    def loss(self, batch: Batch, label_smoothing: float) -> Loss:
        """Mean per-token cross-entropy over real (non-pad) target tokens (and coverage loss)."""
        out, weights, real, target = self._forward_real(batch)
        tokens = out.size(0)
        if self.copies:
            total = smoothed_nll(out, target, label_smoothing, self.network.vocab_size)
        else:
            total = smoothed_cross_entropy(out, target, label_smoothing)
        coverage = None
        if self.network.coverage and weights is not None:
            coverage = coverage_loss(weights, real) / max(tokens, 1)
        return Loss(total / max(tokens, 1), tokens, coverage)

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
        result = self.loss(batch, self.loss_settings.label_smoothing)
        loss = result.cross_entropy
        if result.coverage is not None:
            self.log("train/coverage_loss", result.coverage, batch_size=len(batch))
            loss = loss + self.loss_settings.coverage_weight * result.coverage
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    # -- decoding -----------------------------------------------------------------------------
    def decode(
        self,
        batch: Batch,
        settings: DecodingSettings | None = None,
        beam_size: int | None = None,
        return_attention: bool = False,
    ) -> list[Hypothesis]:
        """Decode a batch with `settings` (default: the task's) and their test beam, or
        `beam_size` when given; beam size 1 is greedy search."""
        s = settings or self.decoding
        return beam_search(
            self.network,
            batch.src,
            batch.src_lengths,
            self.ids["bos"],
            self.ids["eos"],
            max_output_lengths(batch.src_lengths, s.max_len_ratio, s.max_len_offset, s.max_len_cap),
            beam_size=beam_size or s.beam_size,
            alpha=s.length_penalty,
            return_attention=return_attention,
            min_length=s.min_length,
            no_repeat_ngram_size=s.no_repeat_ngram_size,
            src_ext=batch.src_ext if self.copies else None,
        )

    def detokenize(self, tokens: list[int], oov: list[str] | None = None) -> str:
        """Token ids -> text; extended ids (copied source-only words) become those words."""
        return detokenize(self.tokenizer, tokens, set(self.ids.values()), oov)

    def translate(
        self, batch: Batch, settings: DecodingSettings | None = None, beam_size: int | None = None
    ) -> list[str]:
        hyps = self.decode(batch, settings, beam_size)
        oov: list[list[str]] | list[None] = batch.oov or [None] * len(hyps)
        return [self.detokenize(h.tokens, words) for h, words in zip(hyps, oov, strict=True)]

    # -- evaluation -----------------------------------------------------------------------------
    def _eval_step(self, batch: Batch, beam_size: int) -> None:
        nll, tokens = self.example_losses(batch)
        hyps = self.translate(batch, beam_size=beam_size)
        refs = batch.references or [[t] for t in batch.tgt_text]
        for j, i in enumerate(batch.ids.tolist()):  # keyed by example id: order-free, no duplicates
            self._outputs[i] = Output(
                batch.src_text[j], hyps[j], batch.tgt_text[j], nll[j], tokens[j], refs[j]
            )

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.decoding.val_beam_size)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.decoding.beam_size)

    def _eval_epoch_end(self, stage: str) -> None:
        """Corpus BLEU / ROUGE and token-level loss over the whole split, the same on every rank."""
        outputs = self.gather(self._outputs)
        self._outputs = {}
        if not outputs:
            return
        hyps = [o.hypothesis for o in outputs]
        loss = sum(o.nll for o in outputs) / max(sum(o.tokens for o in outputs), 1)
        # Every rank holds the same figures; sync_dist averages equal values (no change).
        score = self.metric(hyps, [o.reference for o in outputs], [o.references for o in outputs])
        self.log_score(stage, score.values, score.progress_bar, sync_dist=True)
        if score.record is not None and "signature" in score.record:
            self.bleu_signature = score.record["signature"]
            if not self.trainer.sanity_checking:
                log.info(
                    "%s/bleu %.2f (sacreBLEU %s)", stage, score.values["bleu"], self.bleu_signature
                )
        if score.record is not None:
            name = next(iter(score.values))
            self.write_predictions(
                stage, f".{name}.json", json.dumps(score.record, indent=2) + "\n"
            )
        self.log(f"{stage}/loss", loss, sync_dist=True)
        self.log(f"{stage}/ppl", math.exp(min(loss, 50.0)), sync_dist=True)
        self.samples = [[o.source, o.hypothesis, o.reference] for o in outputs]
        # One line per example: a summary's line breaks become spaces.
        self.write_predictions(stage, ".txt", "".join(h.replace("\n", " ") + "\n" for h in hyps))

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
