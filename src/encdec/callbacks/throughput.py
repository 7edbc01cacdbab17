"""Training throughput in real (non-pad) target tokens per second."""

from __future__ import annotations

import time
from typing import Any

import lightning as L

from encdec.data.batching import Batch
from encdec.data.tokenization import PAD, SPECIAL_TOKENS

PAD_ID = SPECIAL_TOKENS.index(PAD)


class TokenThroughput(L.Callback):
    """Log `train/tokens_per_sec`: a batch's real target tokens over the time from the end of
    the previous training step to the end of this one (data loading included), for seq2seq
    batches; the first step of each epoch is not timed."""

    def __init__(self) -> None:
        self._last: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, *_: Any
    ) -> None:
        now = time.perf_counter()
        if isinstance(batch, Batch) and self._last is not None:
            tokens = int((batch.tgt_out != PAD_ID).sum())
            pl_module.log(
                "train/tokens_per_sec", tokens / (now - self._last), batch_size=len(batch)
            )
        self._last = now
