"""Callbacks that let a run survive faults: exact resume, a stop on a diverged loss, Ctrl-C."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from encdec.errors import TrainingDiverged  # noqa: F401 (re-exported: its old home)

log = logging.getLogger(__name__)


def latest_checkpoint(trainer: L.Trainer) -> Path | None:
    """The most recently written checkpoint of any ModelCheckpoint callback, if one exists."""
    paths = {
        Path(p)
        for cb in trainer.checkpoint_callbacks
        if isinstance(cb, ModelCheckpoint)
        for p in (cb.best_model_path, cb.last_model_path)
        if p and Path(p).is_file()
    }
    return max(paths, key=lambda p: p.stat().st_mtime, default=None)


class RngState(L.Callback):
    """Save the random generators in every checkpoint and restore them on resume.

    Lightning restores weights, optimizer, scheduler and loop counters, but not the random
    generators, so dropout after a resume would draw other masks than the uninterrupted run.
    The state is put back just before the first resumed training step (not at load time), because
    Lightning draws from the generator in between (a DataLoader draws its base seed on `iter`).
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        numpy_state = np.random.get_state()
        assert isinstance(numpy_state, tuple)  # the legacy (MT19937) form, the default
        kind, keys, pos, has_gauss, gauss = numpy_state
        state = {  # tensors and plain Python values only, so weights_only loading accepts them
            "torch": torch.get_rng_state(),
            "python": random.getstate(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state["torch"])
        random.setstate(state["python"])
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class StopOnNonFiniteLoss(L.Callback):
    """Stop at the first NaN/inf training loss, before it reaches the weights or a checkpoint."""

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if torch.isfinite(loss).all():
            return
        last = latest_checkpoint(trainer)
        where = (
            f"The last good checkpoint is {last}; resume from it with resume={last}"
            if last
            else "No checkpoint was written before it"
        )
        raise TrainingDiverged(
            f"The training loss is {float(loss.detach())} at step {trainer.global_step} (epoch "
            f"{trainer.current_epoch}, batch {trainer.fit_loop.epoch_loop.batch_idx + 1}); "
            f"training stopped. {where}. A NaN/inf loss usually means the learning rate is too "
            f"high (task.optimizer.lr) or gradients explode (trainer.gradient_clip_val)."
        )


class InterruptCheckpoint(L.Callback):
    """On Ctrl-C or SIGTERM during training, save a checkpoint that resume=auto picks up.

    Lightning catches Ctrl-C (KeyboardInterrupt) and exits with status 1; on SIGTERM (what job
    schedulers and `kill` send) it finishes the current batch and raises SIGTERMException, which
    `run_friendly` turns into status 143. Both pass through `on_exception` first, with no
    traceback. Lightning's own OnExceptionCheckpoint deletes its file at teardown, hence this one.
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        interrupted = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        if not interrupted or trainer.state.fn != TrainerFn.FITTING:
            return
        trainer.save_checkpoint(self.path)
        log.warning(
            "Interrupted at step %d: saved %s. Run the same command again to resume (resume=auto).",
            trainer.global_step,
            self.path,
        )
