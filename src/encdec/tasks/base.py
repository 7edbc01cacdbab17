"""What every task shares: the training options (optimizer, learning-rate schedule, monitored
metric, torch.compile), the DDP gather of evaluation outputs, prediction files and
self-contained checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import lightning as L
import torch
import torch.distributed as dist
from tokenizers import Tokenizer
from torch import nn

from encdec.errors import ConfigError
from encdec.files import atomic_write_text
from encdec.metrics import Metric

if TYPE_CHECKING:
    from encdec.artifacts import SavedModel

R = TypeVar("R")

INTERVALS = ("epoch", "step")


class LRSchedule(NamedTuple):
    """A learning-rate schedule (`task.scheduler`, the `scheduler` group): the scheduler's
    factory (Hydra `_partial_`, called with the optimizer) and how often it steps."""

    scheduler: Callable[..., Any]
    interval: str = "epoch"

    def check(self) -> LRSchedule:
        if self.interval not in INTERVALS:
            raise ConfigError(
                f"task.scheduler.interval={self.interval!r}: choose one of {', '.join(INTERVALS)}."
            )
        return self


class Task(L.LightningModule):
    """Base of the tasks: the network, the tokenizer and the options every task trains with.

    `optimizer` is a factory (Hydra `_partial_`) called with the parameters; `scheduler` an
    `LRSchedule` or None (a constant rate); `metric` the metric object (encdec.metrics), whose
    `monitor` figure on validation (`val/<monitor>`) selects the best checkpoint and is what
    ReduceLROnPlateau watches; `compile` applies torch.compile to the
    network when training starts (`setup`), as the Lightning-Hydra template does
    (Module.compile keeps the parameter names, so checkpoints load with or without it).
    Subclasses call `save_hyperparameters` themselves, so their own arguments are recorded.
    """

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: LRSchedule | None,
        compile: bool,
        metric: Metric,
    ) -> None:
        super().__init__()
        self.net = net
        self.tokenizer = tokenizer
        self.optimizer_factory = optimizer
        self.schedule = scheduler.check() if scheduler is not None else None
        self.metric, self.compile_net = metric, compile
        #: The logged figure that selects the best checkpoint, e.g. val/bleu.
        self.monitor = f"val/{metric.monitor}"
        #: Rows of the last evaluation, for the SampleTable callback.
        self.samples: list[list[str]] = []
        #: What every checkpoint carries besides the weights (encdec.artifacts.SavedModel: the
        #: resolved config, the tokenizer, ...); set by encdec.build.
        self.checkpoint_extras: SavedModel | None = None

    @classmethod
    def check_data(cls, datamodule: type) -> None:
        """Refuse a datamodule class whose batches this task cannot read (a ConfigError naming
        the `data` option and the fix), before anything is built; this base accepts any."""

    @property
    def checkpoint_filename(self) -> str:
        """The best checkpoint's file name, after the monitored metric: epoch03-step660-bleu_12.34.

        The `_` keeps a name that ends in a digit apart from its value (`rouge1_38.78`, `f1_62.93`);
        `=` would need quoting in a Hydra override such as `ckpt_path=...`.
        """
        monitor = self.monitor
        return f"epoch{{epoch:02d}}-step{{step}}-{monitor.split('/')[-1]}_{{{monitor}:.2f}}"

    def setup(self, stage: str) -> None:
        if self.compile_net and stage == "fit":
            self.net.compile()

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.schedule is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": self.schedule.scheduler(optimizer=optimizer),
                "monitor": self.monitor,
                "interval": self.schedule.interval,
            },
        }

    def log_score(
        self, stage: str, values: dict[str, float], progress_bar: tuple[str, ...], **kw: Any
    ) -> None:
        """Log a metric object's figures as `<stage>/<name>`."""
        for key, value in values.items():
            self.log(f"{stage}/{key}", value, prog_bar=key in progress_bar, **kw)

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
