"""`python eval.py ckpt_path=...`: score a trained checkpoint on the test (or val) split."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from encdec.cli.checks import check_decoding_options
from encdec.cli.common import (
    CONF_DIR,
    build_loggers,
    finish_wandb,
    load_checkpoint,
    run_friendly,
    save_metrics,
)
from encdec.cli.train import print_metrics

log = logging.getLogger(__name__)


#: eval.py options that override the checkpoint's task options of the same name when not null.
OVERRIDES = ("beam_size", "length_penalty", "min_length", "no_repeat_ngram_size", "rouge_stemmer")


def apply_decoding_options(hparams: MutableMapping[str, Any], cfg: DictConfig) -> None:
    """Override the checkpoint's decoding and scoring options with eval.py's (null keeps them).
    Any split is decoded as the test is: split=val uses `beam_size` too, not training's (greedy)
    val_beam_size, so that length penalties and checkpoints can be chosen on val with the test's
    beam."""
    for option in OVERRIDES:
        if cfg.get(option) is not None:
            hparams[option] = cfg[option]
    if "val_beam_size" in hparams:
        hparams["val_beam_size"] = hparams["beam_size"]


def evaluate(cfg: DictConfig) -> dict[str, float]:
    check_decoding_options(cfg)
    task, datamodule, _ = load_checkpoint(cfg.ckpt_path, cfg.paths.data_dir, cfg.paths.cache_dir)
    apply_decoding_options(task.hparams, cfg)
    trainer = L.Trainer(
        **instantiate(cfg.get("trainer", {}), _convert_="all"),  # a DDP strategy: an object
        logger=build_loggers(cfg.get("logger")),
        default_root_dir=cfg.paths.output_dir,
        enable_checkpointing=False,
    )
    try:
        run = trainer.test if cfg.split == "test" else trainer.validate
        run(task, datamodule=datamodule)
    finally:
        finish_wandb()
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if trainer.is_global_zero:  # hardware=ddp_cpu: every rank has the same (synced) metrics
        save_metrics(metrics, Path(cfg.paths.output_dir) / "metrics.json")
        print_metrics(metrics, f"{cfg.ckpt_path} on {cfg.split}")
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: evaluate(cfg))
