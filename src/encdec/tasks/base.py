"""What every task shares: the configured optimizer and scheduler, torch.compile, the DDP gather
of evaluation outputs, prediction files and self-contained checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import lightning as L
import torch
import torch.distributed as dist
from tokenizers import Tokenizer
from torch import nn

from encdec.files import atomic_write_text

if TYPE_CHECKING:
    from encdec.artifacts import SavedModel

R = TypeVar("R")


class Task(L.LightningModule):
    """Base of the tasks: holds the network, tokenizer and the optimizer/scheduler factories
    (Hydra `_partial_`). Subclasses call `save_hyperparameters` themselves (with `monitor`,
    `scheduler_interval` and `compile` among them), so their own arguments are recorded.

    `compile` applies torch.compile to the network when training starts (`setup`), as the
    Lightning-Hydra template does; Module.compile keeps the parameter names, so checkpoints load
    with or without it.
    """

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None,
    ) -> None:
        super().__init__()
        self.net = net
        self.tokenizer = tokenizer
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        #: Rows of the last evaluation, for the SampleTable callback.
        self.samples: list[list[str]] = []
        #: What every checkpoint carries besides the weights (encdec.artifacts.SavedModel: the
        #: resolved config, the tokenizer, ...); set by encdec.build.
        self.checkpoint_extras: SavedModel | None = None

    @property
    def checkpoint_filename(self) -> str:
        """The best checkpoint's file name, after the monitored metric: epoch03-step660-bleu12.34."""
        monitor = self.hparams.monitor
        return f"epoch{{epoch:02d}}-step{{step}}-{monitor.split('/')[-1]}{{{monitor}:.2f}}"

    def setup(self, stage: str) -> None:
        if self.hparams.get("compile") and stage == "fit":
            self.net.compile()

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

    @staticmethod
    def gather(outputs: dict[int, R]) -> list[R]:
        """Every rank's evaluation records, keyed by example id, merged and in id order.

        DDP pads uneven splits by repeating examples; keying by id counts each once, so the
        metrics are over the whole split, the same on every rank.
        """
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            parts: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(parts, outputs)
            outputs = {i: o for part in parts for i, o in part.items()}
        return [outputs[i] for i in sorted(outputs)]

    def write_predictions(self, stage: str, suffix: str, text: str) -> None:
        """Save an evaluation's predictions as `<run>/predictions/<stage>[-epochNN]<suffix>`
        (validation files carry the epoch, so every epoch's outputs stay comparable); once, on
        rank 0, and not for the sanity check's few batches."""
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        name = f"{stage}-epoch{self.current_epoch:02d}" if stage == "val" else stage
        atomic_write_text(
            Path(self.trainer.default_root_dir) / "predictions" / f"{name}{suffix}", text
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The checkpoint carries the resolved config and the tokenizer: eval/predict need no run folder."""
        saved = self.checkpoint_extras
        tokenizer = self.tokenizer.to_str()
        checkpoint["encdec"] = (
            {"tokenizer": tokenizer}
            if saved is None
            else {**saved.to_dict(), "tokenizer": tokenizer}
        )
