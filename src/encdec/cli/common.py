"""Pieces shared by the entry points: config location, W&B mode, logger/callback building."""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
CONF_DIR = str(ROOT / "conf")
os.environ.setdefault("ENCDEC_ROOT", str(ROOT))


def wandb_logged_in() -> bool:
    """True when W&B has credentials (an API key in the environment or ~/.netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def choose_wandb_mode(save_dir: str) -> None:
    """Never prompt for a login: without credentials, log offline and say how to upload."""
    if os.environ.get("WANDB_MODE") or wandb_logged_in():
        return
    os.environ["WANDB_MODE"] = "offline"
    log.info("W&B: not logged in, logging offline. Upload later with: wandb sync %s/wandb/offline-run-*", save_dir)


def build_loggers(cfg: DictConfig | None) -> list[Any]:
    if not cfg:
        return []
    if "wandb" in cfg:
        choose_wandb_mode(cfg.wandb.save_dir)
    return [instantiate(c) for c in cfg.values() if c is not None]


def build_callbacks(cfg: DictConfig | None) -> list[L.Callback]:
    return [instantiate(c) for c in (cfg or {}).values() if c is not None]


def finish_wandb() -> None:
    """Close the W&B run so the next job of a sweep starts a fresh one."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()
