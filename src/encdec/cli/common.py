"""Pieces shared by the entry points: config location, friendly errors, metrics tables, W&B
mode, logger/callback building. The library (encdec.build and below) never imports this."""

from __future__ import annotations

import json
import logging
import netrc
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from encdec.allocator import retain_freed_memory
from encdec.errors import EncdecError
from encdec.files import atomic_write_text

log = logging.getLogger(__name__)


PACKAGE = Path(__file__).resolve().parents[1]


def find_conf(package: Path = PACKAGE) -> tuple[Path, Path]:
    """The config folder and the project root the entry points use.

    From a checkout (or an editable install) that is the checkout's own `conf/`, the one a user
    edits, and the checkout as root; from an installed wheel, the copy shipped inside the package
    (`encdec/conf`) and the current directory as root (data, caches and outputs land there).
    """
    checkout = package.parents[1]
    if (checkout / "conf" / "train.yaml").is_file():
        return checkout / "conf", checkout
    return package / "conf", Path.cwd()


CONF, ROOT = find_conf()
CONF_DIR = str(CONF)
os.environ.setdefault("ENCDEC_ROOT", str(ROOT))


def run_friendly(fn: Callable[[], Any]) -> Any:
    """Run an entry point; input mistakes end with their message and exit code 1, no traceback.

    Freed large blocks stay in the heap first (encdec.allocator: fewer page faults per step).
    """
    retain_freed_memory()
    try:
        return fn()
    except (EncdecError, FileNotFoundError) as err:  # encdec.errors: every message of ours
        log.error("%s", err)
        sys.exit(1)
    except KeyboardInterrupt:  # outside training (Lightning handles it there)
        log.error("Interrupted.")
        sys.exit(130)
    except SIGTERMException:  # training stopped by SIGTERM; InterruptCheckpoint saved it
        sys.exit(143)


def save_metrics(metrics: dict[str, float], path: Path) -> None:
    """Write the final metrics beside the run, for scripts and sweep reports."""
    atomic_write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def print_metrics(metrics: dict[str, float], title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics):
        table.add_row(key, f"{metrics[key]:.4f}")
    Console(width=None if sys.stdout.isatty() else 120).print(table)  # logs: do not truncate


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
    log.info(
        "W&B: not logged in, logging offline. Upload later with: wandb sync %s/wandb/offline-run-*",
        save_dir,
    )


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
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()
