"""What every task shares: the configured optimizer and scheduler, and self-contained checkpoints."""

from __future__ import annotations

from typing import Any

import lightning as L


class Task(L.LightningModule):
    """Base of the tasks. Subclasses set `optimizer_factory`, `scheduler_factory` (Hydra
    `_partial_` factories), `tokenizer`, `checkpoint_extras`, and hparams `monitor` and
    `scheduler_interval`.
    """

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
        """The checkpoint carries the resolved config and the tokenizer: eval/predict need no run folder."""
        checkpoint["encdec"] = {**self.checkpoint_extras, "tokenizer": self.tokenizer.to_str()}
