"""`python eval.py ckpt_path=...`: score a trained checkpoint on the test (or val) split."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from encdec import build
from encdec.cli.common import (
    CONF_DIR,
    build_loggers,
    finish_wandb,
    print_metrics,
    run_friendly,
    save_metrics,
)

log = logging.getLogger(__name__)

#: eval.py options that override the checkpoint's decoding settings when not null.
DECODING_OPTIONS = ("beam_size", "length_penalty", "min_length", "no_repeat_ngram_size")


def task_overrides(cfg: DictConfig) -> dict[str, Any]:
    """Changes to the checkpoint's task options from eval.py's options (null keeps them).

    Any split is decoded as the test is: split=val uses the test beam too, not training's
    (greedy) val_beam_size, so that length penalties and checkpoints can be chosen on val with
    the test's beam. (QA checkpoints have no decoding settings: build skips what a task lacks.)"""
    decoding = {k: cfg[k] for k in DECODING_OPTIONS if cfg.get(k) is not None}
    overrides: dict[str, Any] = {"decoding": {**decoding, "val_beam_size": "${.beam_size}"}}
    if cfg.get("rouge_stemmer") is not None:  # a ROUGE metric's option (BLEU has none)
        overrides["metric"] = {"stemmer": cfg.rouge_stemmer}
    return overrides


def data_overrides(cfg: DictConfig) -> dict[str, Any]:
    """eval.py's `data.*` options that are set (not null): merged over the checkpoint's data
    options, e.g. data.splits.test=val scores another split or file."""

    def set_only(node: Any) -> Any:
        if isinstance(node, dict):
            kept = {k: set_only(v) for k, v in node.items() if v is not None}
            return {k: v for k, v in kept.items() if v != {}}
        return node

    data = cfg.get("data")
    return set_only(OmegaConf.to_container(data, resolve=True)) if data else {}


def evaluate(cfg: DictConfig) -> dict[str, float]:
    loaded = build.load_checkpoint(
        cfg.ckpt_path,
        cfg.paths.data_dir,
        cfg.paths.cache_dir,
        with_data=True,
        task_overrides=task_overrides(cfg),
        data_overrides=data_overrides(cfg),
    )
    trainer = L.Trainer(
        **instantiate(cfg.get("trainer", {}), _convert_="all"),  # a DDP strategy: an object
        logger=build_loggers(cfg.get("logger")),
        default_root_dir=cfg.paths.output_dir,
        enable_checkpointing=False,
    )
    try:
        run = trainer.test if cfg.split == "test" else trainer.validate
        run(loaded.task, datamodule=loaded.datamodule)
    finally:
        finish_wandb()
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if trainer.is_global_zero:  # hardware=ddp_cpu: every rank has the same (synced) metrics
        save_metrics(metrics, Path(cfg.paths.output_dir) / "metrics.json")
        assert loaded.datamodule is not None  # loaded with_data=True
        split = loaded.datamodule.splits.get(cfg.split, cfg.split)
        print_metrics(metrics, f"{cfg.ckpt_path} on {cfg.split} ({split})")
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: evaluate(cfg))
