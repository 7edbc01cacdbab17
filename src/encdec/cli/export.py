"""`python -m encdec.export ckpt_path=... out=model.pt`: one file with weights, tokenizer and
config, loadable with `encdec.load("model.pt")` (see encdec.build.write_model_file)."""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from encdec import build
from encdec.cli.common import CONF_DIR, run_friendly

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    def run() -> None:
        out = build.export_model(cfg.ckpt_path, cfg.out)
        log.info(
            "Wrote %s (%.1f MB). Load it with encdec.load(%r).",
            out,
            out.stat().st_size / 1e6,
            str(out),
        )

    run_friendly(run)
