"""Training wall time beside every validation: the x axis of "what does a short run buy"."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class ElapsedTime(L.Callback):
    """Log `time/minutes` at each validation: wall minutes of this run's training so far
    (validations included, the sanity check and the end-of-run test not). The count travels in
    checkpoints, so a run trained in parts through `resume` counts on from where it stopped.
    `bench/time_to_quality.py` reads it back from a run's metrics.csv."""

    def __init__(self) -> None:
        self.before = 0.0  # seconds of earlier parts of this run (from the checkpoint)
        self._start: float | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.monotonic()

    def seconds(self) -> float:
        return self.before + (0.0 if self._start is None else time.monotonic() - self._start)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self._start is None:
            return
        pl_module.log("time/minutes", self.seconds() / 60, rank_zero_only=True)

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        seconds = state_dict.get("seconds")  # a number, from a file that may not be ours
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        self.before = float(seconds) if number and 0 <= seconds < 1e9 else 0.0  # type: ignore[arg-type, operator]
