"""Log the total gradient norm, the first sign of exploding (or vanishing) RNN gradients."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.utilities import grad_norm


class GradNormMonitor(L.Callback):
    """Logs `train/grad_norm`: the 2-norm over all gradients, before clipping.

    Lightning calls `on_before_optimizer_step` after the gradients are unscaled (mixed precision)
    and all-reduced (DDP), and before `gradient_clip_val` clips them, so the figure is the true
    norm the clipping acts on.
    """

    def __init__(self, norm_type: float = 2.0) -> None:
        self.norm_type = norm_type

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        norms = grad_norm(pl_module, norm_type=self.norm_type)
        total = norms.get(f"grad_{float(self.norm_type)}_norm_total")
        if total is not None:
            pl_module.log("train/grad_norm", total, on_step=True, on_epoch=False)
