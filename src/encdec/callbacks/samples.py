"""Log a table of sample inputs, predictions and references after each validation and test."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import WandbLogger


class SampleTable(L.Callback):
    """Reads `pl_module.samples` ([source, prediction, reference] rows, in split order) set at
    epoch end, and logs the first `num_samples` of them."""

    COLUMNS = ["source", "prediction", "reference"]

    def __init__(self, num_samples: int = 8) -> None:
        self.num_samples = num_samples

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule, key: str) -> None:
        rows = (getattr(pl_module, "samples", None) or [])[: self.num_samples]
        if not rows or trainer.sanity_checking:
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table(key=key, columns=self.COLUMNS, data=rows, step=trainer.global_step)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "val/samples")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "test/samples")
