"""Keep carried weights fixed for the first optimizer steps of a run, or throughout.

An encoder carried from another task (`init.encoder_from`) can be frozen while the new task's
own layers, still random, learn to use it; unfreezing at step N then fine-tunes everything.
The steps are the Trainer's `global_step` (optimizer steps), so a resumed run picks up where it
was: before N frozen, from N on trainable.

Only what this callback froze is unfrozen (a `model.freeze_embeddings` stays as set). Under DDP
use 0 or -1: weights frozen when the model is wrapped are left out of its gradient reduction.
"""

from __future__ import annotations

import lightning as L
from torch import nn


class FreezeParameters(L.Callback):
    """`requires_grad=False` on the named parameters of the task for the first `steps` optimizer
    steps (-1: throughout); the names are those of `task.named_parameters()`."""

    def __init__(self, names: list[str], steps: int) -> None:
        if steps < -1:
            raise ValueError(f"init.freeze_encoder_steps={steps}: give 0, N > 0 or -1.")
        self.names, self.steps = list(names), steps
        self._frozen: list[nn.Parameter] = []

    @classmethod
    def for_carried(cls, names: list[str], steps: int) -> list[FreezeParameters]:
        """The callback a run needs for these carried parameters (none when nothing freezes)."""
        return [cls(names, steps)] if names and steps != 0 else []

    def freeze(self, module: nn.Module) -> None:
        """Freeze the named parameters that still train (called before the model is wrapped)."""
        if self.steps == 0:
            return
        params = dict(module.named_parameters())
        self._frozen = [params[n] for n in self.names if params[n].requires_grad]
        for p in self._frozen:
            p.requires_grad_(False)

    def unfreeze(self) -> None:
        for p in self._frozen:
            p.requires_grad_(True)
        self._frozen = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.freeze(pl_module)

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if self._frozen and 0 < self.steps <= trainer.global_step:
            self.unfreeze()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":  # the trained task is left as it was built
            self.unfreeze()
