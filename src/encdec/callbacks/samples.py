"""Log a table of sample inputs, predictions and references after each validation and test."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import WandbLogger


class SampleTable(L.Callback):
    """Reads `pl_module.samples` ([source, prediction, reference] rows) set at epoch end."""

    COLUMNS = ["source", "prediction", "reference"]

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule, key: str) -> None:
        rows = getattr(pl_module, "samples", None)
        if not rows or trainer.sanity_checking:
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table(key=key, columns=self.COLUMNS, data=rows, step=trainer.global_step)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "val/samples")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "test/samples")
