"""`python serve.py ckpt_path=... | model_file=model.pt [host=127.0.0.1 port=8000 ...]`: serve a
trained model over HTTP (encdec.serving: LitServe, /predict, /health, /model, a page at /)."""

from __future__ import annotations

import logging
from typing import Any, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from encdec.cli.common import CONF_DIR, run_friendly
from encdec.cli.search import search_setup
from encdec.errors import ConfigError
from encdec.inference.open_qa import SearchSetup
from encdec.serving import auth, lifecycle, schemas
from encdec.serving.app import build_server

log = logging.getLogger(__name__)


def command_line() -> list[str]:
    """The overrides as typed (Hydra's parsed values lose e.g. the text of `api_key=12345`)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def check(cfg: DictConfig) -> str | None:
    """Exactly one model, options in range, before anything is loaded; the API key's text."""
    if (cfg.ckpt_path is None) == (cfg.model_file is None):
        raise ConfigError(
            "give ckpt_path=<train.py checkpoint> or model_file=<exported model file>, one of them."
        )
    if not isinstance(cfg.port, int) or not 0 <= cfg.port <= 65535:
        raise ConfigError(f"port={cfg.port!r}: give a port number 0..65535.")
    if not isinstance(cfg.max_batch_size, int) or not 1 <= cfg.max_batch_size <= 256:
        raise ConfigError(f"max_batch_size={cfg.max_batch_size!r}: give a whole number 1..256.")
    if not isinstance(cfg.batch_timeout, int | float) or not 0 <= cfg.batch_timeout <= 10:
        raise ConfigError(f"batch_timeout={cfg.batch_timeout!r}: give seconds 0..10.")
    unknown = set(cfg.limits) - set(schemas.Limits.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"limits: unknown option(s) {sorted(unknown)}.")
    return auth.key_from(cfg.api_key, command_line())


def retrieval_setup(cfg: DictConfig) -> SearchSetup | None:
    """What a retrieval model searches (passages=, index=, hybrid=, reader=, k=, as ask.py); None
    for the other kinds, which take none of them."""
    if cfg.get("passages") is not None:
        return search_setup(cfg, cfg.limits.max_k)
    named = [n for n in ("index", "reader") if cfg.get(n) is not None]
    named += ["hybrid"] if cfg.get("hybrid") else []
    if named:
        raise ConfigError(
            f"{', '.join(named)}: only with passages=<file>, the collection a retrieval model "
            f"searches."
        )
    return None


def serve(cfg: DictConfig) -> None:
    api_key = check(cfg)
    search = retrieval_setup(cfg)
    limits = schemas.Limits(**cast(dict[str, Any], OmegaConf.to_container(cfg.limits)))
    server = build_server(
        cfg.ckpt_path or cfg.model_file,
        model_file=cfg.model_file is not None,
        max_batch_size=cfg.max_batch_size,
        batch_timeout=float(cfg.batch_timeout),
        api_key=api_key,
        limits=limits,
        accelerator=cfg.accelerator,
        timeout=cfg.timeout,
        search=search,
    )
    if cfg.host != "127.0.0.1":
        log.warning("Listening on %s: reachable beyond this machine (host=%s).", cfg.host, cfg.host)
    if api_key:
        log.info(
            "API key set: every request but the page (/ and /static/) needs the header "
            "X-API-Key: <key> (/docs and /openapi.json too)."
        )
    else:
        log.info("No API key: anyone who can reach %s:%s may use it.", cfg.host, cfg.port)
    lifecycle.run(server, cfg.host, cfg.port, log_level="warning")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="serve")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: serve(cfg))
