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
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
CONF_DIR = str(ROOT / "conf")
os.environ.setdefault("ENCDEC_ROOT", str(ROOT))


def run_friendly(fn: Callable[[], Any]) -> Any:
    """Run an entry point; input mistakes end with their message and exit code 1, no traceback."""
    from encdec.data.sources import DataError
    from encdec.models.embedding import EmbeddingFileError

    try:
        return fn()
    except (DataError, EmbeddingFileError, FileNotFoundError) as err:
        log.error("%s", err)
        sys.exit(1)


def save_metrics(metrics: dict[str, float], path: Path) -> None:
    """Write the final metrics beside the run, for scripts and sweep reports."""
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


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


def load_checkpoint(path: str, data_dir: str | None = None, cache_dir: str | None = None):
    """Rebuild (task, datamodule, saved config) from a checkpoint written by train.py.

    The checkpoint carries the resolved training config and the tokenizer, so nothing else from
    the training run is needed. `data_dir` re-points the data at this machine's copy.
    """
    import torch
    from tokenizers import Tokenizer

    from encdec.data.tokenization import PAD

    if not Path(path).is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}. Pass ckpt_path=<file>.ckpt.")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    extras = ckpt.get("encdec")
    if not extras or "config" not in extras:
        raise ValueError(f"{path} was not written by encdec's train.py (no 'encdec' entry).")
    saved = OmegaConf.create(extras["config"])
    overrides: dict[str, Any] = {}
    if data_dir is not None:  # keep the corpus sub-folder, e.g. <data_dir>/multi30k
        overrides["data_dir"] = str(Path(data_dir) / Path(saved.data.data_dir).name)
    if cache_dir is not None:
        overrides["cache_dir"] = cache_dir
    datamodule = instantiate(saved.data, **overrides)
    datamodule.tokenizer = Tokenizer.from_str(extras["tokenizer"])
    tok = datamodule.tokenizer
    net = build_net(saved.model, vocab_size=tok.get_vocab_size(), pad_id=tok.token_to_id(PAD))
    task = instantiate(saved.task, net=net, tokenizer=tok)
    task.load_state_dict(ckpt["state_dict"])
    task.checkpoint_extras = {"config": extras["config"]}
    return task, datamodule, saved
