"""Experiment loggers: Lightning's, with the one change this project's checkpoints need."""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger whose `log_model` uploads the best checkpoint only.

    Lightning uploads the files of every ModelCheckpoint that saved, and tags each callback's own
    best file "best". Our `last_checkpoint` callback (last.ckpt after every validation, monitoring
    nothing) would then be uploaded after the real best and take its "best" alias. Only callbacks
    that monitor a metric are handed on.
    """

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        if getattr(checkpoint_callback, "monitor", None) is not None:
            super().after_save_checkpoint(checkpoint_callback)
