"""Pieces shared by the entry points: config location, W&B mode, logger/callback building."""

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
from omegaconf import DictConfig, OmegaConf

from encdec.files import atomic_write_text

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
CONF_DIR = str(ROOT / "conf")
os.environ.setdefault("ENCDEC_ROOT", str(ROOT))


def run_friendly(fn: Callable[[], Any]) -> Any:
    """Run an entry point; input mistakes end with their message and exit code 1, no traceback.

    Freed large blocks stay in the heap first (encdec.allocator: fewer page faults per step).
    """
    from encdec.allocator import retain_freed_memory
    from encdec.callbacks.faults import TrainingDiverged
    from encdec.checkpoint_io import CheckpointWriteError
    from encdec.cli.checks import CheckpointError, ConfigError
    from encdec.data.sources import DataError
    from encdec.models.embedding import EmbeddingFileError

    retain_freed_memory()
    try:
        return fn()
    except (
        DataError,
        EmbeddingFileError,
        FileNotFoundError,
        ConfigError,
        CheckpointError,
        TrainingDiverged,
        CheckpointWriteError,  # a full disk: the message names the intact last checkpoint
    ) as err:
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


def build_net(model_cfg: DictConfig, **overrides: Any) -> Any:
    """Instantiate the network; `compile: true` compiles its forward pass (torch.compile).

    `compile` is an option of the run, not of the network class, so it is taken out here.
    Module.compile keeps the parameter names, so checkpoints load with or without it.
    """
    options = OmegaConf.to_container(model_cfg, resolve=True)
    options.pop("compile", None)
    net = instantiate(options, **overrides)
    if model_cfg.get("compile"):
        net.compile()
    return net


def finish_wandb() -> None:
    """Close the W&B run so the next job of a sweep starts a fresh one."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def read_checkpoint(path: str) -> dict[str, Any]:
    """A checkpoint written by train.py, on the CPU (whatever device it was trained on)."""
    import pickle

    import torch

    from encdec.cli.checks import CheckpointError

    if not Path(path).is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}. Pass ckpt_path=<file>.ckpt.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({err}). It may be truncated or not a "
            f"checkpoint at all; use another .ckpt file (checkpoints/last.ckpt or the best one)."
        ) from None
    extras = ckpt.get("encdec") if isinstance(ckpt, dict) else None
    if not extras or "config" not in extras or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} was not written by encdec's train.py (it has no 'encdec' entry with the "
            f"config and tokenizer). Pass a checkpoint from a train.py run's checkpoints/ folder."
        )
    return ckpt


def load_checkpoint(path: str, data_dir: str | None = None, cache_dir: str | None = None):
    """Rebuild (task, datamodule, saved config) from a checkpoint written by train.py.

    The checkpoint carries the resolved training config and the tokenizer, so nothing else from
    the training run is needed. `data_dir` re-points the data at this machine's copy.
    """
    from omegaconf import OmegaConf
    from tokenizers import Tokenizer

    from encdec.cli.checks import CheckpointError
    from encdec.translator import build_task

    ckpt = read_checkpoint(path)
    extras = ckpt["encdec"]
    saved = OmegaConf.create(extras["config"])
    overrides: dict[str, Any] = {}
    if data_dir is not None:  # keep the corpus sub-folder, e.g. <data_dir>/multi30k
        overrides["data_dir"] = str(Path(data_dir) / Path(saved.data.data_dir).name)
    if cache_dir is not None:
        overrides["cache_dir"] = cache_dir
    datamodule = instantiate(saved.data, **overrides)
    datamodule.tokenizer = Tokenizer.from_str(extras["tokenizer"])
    try:
        task = build_task(extras["config"], extras["tokenizer"], ckpt["state_dict"])
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    return task, datamodule, saved
