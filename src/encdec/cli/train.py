"""`python train.py`: build everything from the config, train, test with the best checkpoint
(or, with `callbacks.averaging`, the average of the last checkpoints)."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf, open_dict

from encdec import build
from encdec.callbacks import CheckpointAveraging
from encdec.callbacks.freeze import FreezeParameters
from encdec.cli.common import (
    CONF_DIR,
    build_callbacks,
    build_loggers,
    finish_wandb,
    print_metrics,
    run_friendly,
    save_metrics,
)
from encdec.cli.renamed import refuse_renamed_options
from encdec.loggers import WandbLogger
from encdec.runs import is_rank_zero, locked

log = logging.getLogger(__name__)


def name_sweep_job(cfg: DictConfig) -> None:
    """In a multirun, group all jobs' W&B runs by sweep and name each run by its overrides."""
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN or "wandb" not in (cfg.get("logger") or {}):
        return
    with open_dict(cfg):
        if cfg.logger.wandb.group is None:
            cfg.logger.wandb.group = "sweep-" + "-".join(Path(hc.sweep.dir).parts[-2:])
        if cfg.logger.wandb.name is None:
            cfg.logger.wandb.name = hc.job.override_dirname or f"job{hc.job.num}"


def continue_wandb_run(cfg: DictConfig, run_id: str | None) -> None:
    """Log a resumed training to the W&B run it started in, not to a new one.

    The run's id travels in the checkpoint; an id set on the command line (logger.wandb.id)
    wins. Lightning's WandbLogger opens runs with resume="allow", so a known id is continued.
    """
    wandb_cfg = (cfg.get("logger") or {}).get("wandb")
    if run_id is None or wandb_cfg is None or wandb_cfg.get("id"):
        return
    with open_dict(cfg):
        wandb_cfg.id = run_id
    log.info("W&B: continuing run %s", run_id)


def resume_checkpoint(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint to continue from: ckpt_path, else what `resume` names, else none.

    resume=auto: this run folder's checkpoints/last.ckpt if there is one (a run re-started with
    the same run_name, or hydra.run.dir, lands in the same folder); resume=never: start afresh;
    resume=<run folder or .ckpt file>: continue that run, writing to this run's folder.
    """
    if cfg.get("ckpt_path"):
        return str(cfg.ckpt_path)
    resume = cfg.get("resume", "auto")
    if resume in (None, False, "never"):
        return None
    if resume == "auto":
        last = output_dir / "checkpoints" / "last.ckpt"
        return str(last) if last.is_file() else None
    path = Path(str(resume))
    for candidate in (path, path / "checkpoints" / "last.ckpt", path / "last.ckpt"):
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(
        f"resume={resume}: no checkpoint there (looked for the file itself, "
        f"{path}/checkpoints/last.ckpt and {path}/last.ckpt). Give a run folder or a .ckpt file, "
        f"or resume=auto / resume=never."
    )


def own_best_checkpoint(trainer: L.Trainer, folder: Path) -> Path | None:
    """The best checkpoint, if it is a file of this run's own checkpoints folder.

    Lightning restores `ModelCheckpoint.best_model_path` from a resumed checkpoint, which may
    name any file (another run's, or one that is not a checkpoint at all): a path outside
    `folder` is forgotten (the test then scores the weights trained here), never read."""
    callback = trainer.checkpoint_callback
    best = getattr(callback, "best_model_path", "") if callback else ""
    if not best:
        return None
    path = Path(best)
    inside = os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)
    if inside and path.is_file():
        return path
    log.warning(
        "The best checkpoint recorded (%s) is not a file in this run's %s; testing the weights "
        "trained here instead.",
        best,
        folder,
    )
    if isinstance(callback, ModelCheckpoint):
        callback.best_model_path = ""
    return None


def averaged_checkpoint(callbacks: list[L.Callback]) -> Path | None:
    """The averaged checkpoint this fit wrote (callbacks.averaging), if any."""
    for callback in callbacks:
        if isinstance(callback, CheckpointAveraging) and callback.written is not None:
            return callback.written
    return None


def test_weights(trainer: L.Trainer, callbacks: list[L.Callback], folder: Path) -> Path | None:
    """The checkpoint whose weights the end-of-run test scores: the average of the last
    checkpoints when callbacks.averaging wrote one (the recipe's figure, as Wu et al. 2021
    report it), else the best checkpoint of this run (None: the weights trained here)."""
    averaged = averaged_checkpoint(callbacks)
    if averaged is not None:
        log.info("Testing the averaged weights (callbacks.averaging): %s", averaged)
        return averaged
    best = own_best_checkpoint(trainer, folder)
    if best is not None:
        log.info("Testing the best checkpoint: %s", best)
    return best


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the configured task; returns every logged metric."""
    build.check_config(cfg)  # every constructor's checks, before any data loads
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resume_checkpoint(cfg, output_dir) if cfg.get("train") else None

    ckpt = build.read_checkpoint(ckpt_path) if ckpt_path else None  # checked before any build
    parts = build.assemble(cfg)
    datamodule, task = parts.datamodule, parts.task
    if ckpt is not None:
        build.check_resume(ckpt, str(ckpt_path), task)
        log.info(
            "Resuming from %s (epoch %d, step %d)", ckpt_path, ckpt["epoch"], ckpt["global_step"]
        )
        continue_wandb_run(cfg, ckpt["encdec"].wandb_run_id)
        del ckpt
    resolved = build.record(task).config
    if is_rank_zero():  # encdec.runs: the run's files are rank 0's (DDP ranks share the folder)
        OmegaConf.save(resolved, output_dir / "config_resolved.yaml")
        assert datamodule.tokenizer is not None  # made by prepare_data
        datamodule.tokenizer.save(str(output_dir / "tokenizer.json"))

    loggers = build_loggers(cfg.get("logger"))
    callbacks = build_callbacks(cfg.get("callbacks"))
    callbacks += FreezeParameters.for_carried(parts.carried, parts.freeze_steps)  # init.*
    if not loggers:  # the LR monitor refuses to run without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar it may not show
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    for callback in callbacks:  # the best checkpoint is named after the task's metric
        if isinstance(callback, ModelCheckpoint) and callback.filename is None:
            callback.filename = task.checkpoint_filename
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    for lg in loggers:
        lg.log_hyperparams(resolved)
        if isinstance(lg, WandbLogger):  # so that a resumed run continues this W&B run
            task.checkpoint_extras = replace(build.record(task), wandb_run_id=lg.version)

    metrics: dict[str, Any] = {}
    try:
        if cfg.get("train"):
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            metrics.update(trainer.callback_metrics)
        if cfg.get("test"):
            tested = test_weights(trainer, callbacks, output_dir / "checkpoints")
            if tested is not None:
                build.check_resume(build.read_checkpoint(tested), str(tested), task)  # its weights
            trainer.test(task, datamodule=datamodule)
            metrics.update(trainer.callback_metrics)
    finally:
        finish_wandb()
    metrics = {k: float(v) for k, v in metrics.items()}
    if trainer.is_global_zero:
        save_metrics(metrics, output_dir / "metrics.json")
        print_metrics(metrics, f"Final metrics ({output_dir})")
        if getattr(task, "bleu_signature", None):
            print(f"BLEU signature (sacreBLEU): {task.bleu_signature}")
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    name_sweep_job(cfg)
    # encdec.runs.locked: one live process per run folder (a second is refused, one line)
    metrics = run_friendly(lambda: locked(cfg.paths.output_dir, lambda: train(cfg)))
    return metrics.get(cfg.get("optimized_metric"))


def main() -> None:
    refuse_renamed_options("train")
    hydra_main()
