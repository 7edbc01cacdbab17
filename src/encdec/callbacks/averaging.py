"""The mean of the last N weight snapshots of a run, as `checkpoints/averaged.ckpt` at its end.

Wu et al. 2021 (and fairseq's recipes) evaluate the average of the last 10 checkpoints: it
smooths the noise of the last updates for a fraction of a BLEU point.

Snapshots are files, `checkpoints/averaging/step<N>.ckpt` (weights only, no optimizer state),
not tensors kept in memory: they survive a resumed run (a long recipe trained in parts through
`resume` still averages its last N), hold no RAM while training, and are averaged by the same
code as `python -m encdec.average` (`encdec.average.average_checkpoints`), so the result is an
ordinary encdec checkpoint that `encdec.build.load_checkpoint`, eval.py and predict.py read.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import lightning as L

from encdec.average import average_checkpoints
from encdec.files import atomic_save

log = logging.getLogger(__name__)

_SNAPSHOT = re.compile(r"step(\d+)\.ckpt")


class CheckpointAveraging(L.Callback):
    """Snapshot the weights after every validation (or every `every_n_train_steps` optimizer
    steps), keep the last `num` snapshots, and at the end of fit write their mean into the model
    and to `<dirpath>/averaged.ckpt`.

    Config (`callbacks.averaging`): `_target_: encdec.callbacks.CheckpointAveraging`,
    `dirpath: ${paths.output_dir}/checkpoints`, `num: 10`, `every_n_train_steps: null`
    (null: after each validation, i.e. every `trainer.check_val_every_n_epoch` epochs or
    `trainer.val_check_interval` steps).
    """

    def __init__(
        self, dirpath: str | Path, num: int = 10, every_n_train_steps: int | None = None
    ) -> None:
        if num < 1:
            raise ValueError(f"callbacks.averaging.num={num}: average at least 1 checkpoint.")
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(
                f"callbacks.averaging.every_n_train_steps={every_n_train_steps}: give a number of "
                f"steps >= 1, or null to snapshot after each validation."
            )
        self.dirpath = Path(dirpath)
        self.num = num
        self.every_n_train_steps = every_n_train_steps
        #: The averaged checkpoint this fit wrote (None until then, or when it wrote none): the
        #: weights train.py tests, never a stale averaged.ckpt left in the folder by another run.
        self.written: Path | None = None

    @property
    def snapshot_dir(self) -> Path:
        return self.dirpath / "averaging"

    @property
    def averaged_path(self) -> Path:
        return self.dirpath / "averaged.ckpt"

    def snapshots(self) -> list[Path]:
        """The snapshot files present, oldest step first."""
        found = [
            (int(m.group(1)), p)
            for p in self.snapshot_dir.glob("step*.ckpt")
            if (m := _SNAPSHOT.fullmatch(p.name))
        ]
        return [p for _, p in sorted(found)]

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Snapshots past the step this fit starts from belong to an abandoned run in this folder
        # (resume=never, or an older checkpoint): they must not enter the mean.
        if trainer.is_global_zero:
            for path in self.snapshots():
                step = int(_SNAPSHOT.fullmatch(path.name).group(1))  # type: ignore[union-attr]
                if step > trainer.global_step:
                    path.unlink(missing_ok=True)
        trainer.strategy.barrier("CheckpointAveraging.on_fit_start")

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        n = self.every_n_train_steps
        if n is not None and trainer.global_step > 0 and trainer.global_step % n == 0:
            self._snapshot(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_train_steps is None and not trainer.sanity_checking:
            self._snapshot(trainer)

    def _snapshot(self, trainer: L.Trainer) -> None:
        path = self.snapshot_dir / f"step{trainer.global_step:08d}.ckpt"
        if path.is_file():  # already taken at this step (a validation ending the last batch)
            return
        trainer.save_checkpoint(path, weights_only=True)  # every rank: it holds a barrier
        if trainer.is_global_zero:
            for old in self.snapshots()[: -self.num]:
                old.unlink(missing_ok=True)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.written = None
        paths = self.snapshots()[-self.num :]
        if not paths:
            log.warning(
                "CheckpointAveraging: no snapshot was taken (no validation ran), so there is "
                "nothing to average; %s was not written.",
                self.averaged_path,
            )
            return
        if len(paths) < self.num:
            log.warning(
                "CheckpointAveraging: averaging %d snapshots, fewer than num=%d.",
                len(paths),
                self.num,
            )
        averaged = average_checkpoints(paths)
        pl_module.load_state_dict(averaged["state_dict"])
        if trainer.is_global_zero:
            atomic_save(averaged, self.averaged_path)
            log.info("Averaged the last %d checkpoints into %s", len(paths), self.averaged_path)
        trainer.strategy.barrier("CheckpointAveraging.on_fit_end")
        self.written = self.averaged_path
