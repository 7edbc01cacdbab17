"""Learning-rate schedules the torch library lacks, built from a config with `_partial_: true`.

`InverseSqrt` is fairseq's `inverse_sqrt`, the schedule of the Transformer papers (Vaswani et al.
2017; Wu et al. 2021's Multi30k Transformer-tiny): a linear warm-up, then decay with the inverse
square root of the step. It is stepped once per optimizer step (`task.scheduler_interval: step`).
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LRScheduler


def inverse_sqrt_lr(step: int, lr: float, warmup_updates: int, warmup_init_lr: float) -> float:
    """The learning rate after `step` optimizer steps (fairseq's formula; warmup_updates >= 1).

    step < warmup_updates: warmup_init_lr + step * (lr - warmup_init_lr) / warmup_updates;
    afterwards: lr * sqrt(warmup_updates) / sqrt(step) (equal to lr at step == warmup_updates).
    """
    if step < warmup_updates:
        return warmup_init_lr + step * (lr - warmup_init_lr) / warmup_updates
    return lr * math.sqrt(warmup_updates) / math.sqrt(step)


class InverseSqrt(LRScheduler):
    """Linear warm-up from `warmup_init_lr` to each group's learning rate (the optimizer's `lr`,
    its peak) over `warmup_updates` steps, then `lr * sqrt(warmup_updates / step)`.

    Config (`scheduler=inverse_sqrt`): `_target_: encdec.schedules.InverseSqrt`,
    `_partial_: true`, `warmup_updates: 2000`, `warmup_init_lr: 1.0e-7`, with
    `scheduler_interval: step`; the task passes `optimizer=`.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_updates: int = 4000,
        warmup_init_lr: float = 1e-7,
        last_epoch: int = -1,
    ) -> None:
        if warmup_updates < 1:  # the decay is scaled by sqrt(warmup_updates): 0 would stop it
            raise ValueError(
                f"scheduler.warmup_updates={warmup_updates}: give 1 or more steps (1: no warm-up)."
            )
        if warmup_init_lr < 0:
            raise ValueError(f"scheduler.warmup_init_lr={warmup_init_lr}: give a rate >= 0.")
        self.warmup_updates = warmup_updates
        self.warmup_init_lr = warmup_init_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        # last_epoch counts the scheduler's steps: the optimizer steps taken so far.
        return [
            inverse_sqrt_lr(self.last_epoch, float(peak), self.warmup_updates, self.warmup_init_lr)
            for peak in self.base_lrs
        ]
