"""Shared helpers for tests: composing the real config with small, fast settings."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from encdec.cli.common import CONF_DIR, ROOT

#: Overrides that keep a real run tiny: a 300-pair slice of the real corpus and a small model.
SMALL = [
    "data.limit_train=300",
    "data.vocab_size=500",
    "data.max_tokens=1024",
    "model.embedding_dim=16",
    "model.hidden_dim=32",
    "trainer.max_steps=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "logger=none",
]

#: SMALL for the QA task: real slices of SQuAD (300 training, 60 evaluation questions).
QA_SMALL = [
    "task=qa",
    *(o for o in SMALL if not o.startswith(("data.limit_train", "data.max_tokens"))),
    "data.limit_train=300",
    "data.limit_eval=60",
    "data.max_tokens=2000",
]


def compose_train(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """Compose conf/train.yaml as `python train.py <overrides>` would (without running Hydra)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
            cfg.paths.cache_dir = str(ROOT / ".cache")
    return cfg
