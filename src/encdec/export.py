"""One-file models for use outside the template: `export_model` writes, `load` reads.

    python -m encdec.export ckpt_path=outputs/<run>/checkpoints/last.ckpt out=model.pt

    import encdec
    model = encdec.load("model.pt")
    model.translate(["A man is riding a bike."])

The file holds the network's weights, the tokenizer and the resolved training config, and nothing
of the trainer (no optimizer state), so it is small and loads on any device.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from encdec.cli.checks import CheckpointError
from encdec.cli.common import CONF_DIR, read_checkpoint, run_friendly
from encdec.files import atomic_open
from encdec.translator import Translator, build_task

log = logging.getLogger(__name__)

#: Written into every exported file; `load` refuses files without it.
FORMAT = "encdec-model/1"


def export_model(ckpt_path: str | Path, out: str | Path) -> Path:
    """Write the model of a train.py checkpoint to `out` as a single file."""
    ckpt = read_checkpoint(str(ckpt_path))
    extras = ckpt["encdec"]
    task = build_task(extras["config"], extras["tokenizer"], ckpt["state_dict"])  # checks the fit
    package = {
        "format": FORMAT,
        "config": extras["config"],
        "tokenizer": extras["tokenizer"],
        "state_dict": task.state_dict(),
    }
    out = Path(out)
    with atomic_open(out, "wb") as f:  # never a half-written model file
        torch.save(package, f)
    return out


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Translator:
    """A ready-to-use Translator from a file written by `export_model` (CPU unless told)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"Model file not found: {path}. Export one with encdec.export.")
    package: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(package, dict) or package.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not an exported encdec model (format {FORMAT}). Export a train.py "
            f"checkpoint with: python -m encdec.export ckpt_path=<file>.ckpt out={path}"
        )
    task = build_task(package["config"], package["tokenizer"], package["state_dict"])
    return Translator(task.to(map_location))


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    def run() -> None:
        out = export_model(cfg.ckpt_path, cfg.out)
        log.info(
            "Wrote %s (%.1f MB). Load it with encdec.load(%r).",
            out,
            out.stat().st_size / 1e6,
            str(out),
        )

    run_friendly(run)


if __name__ == "__main__":
    main()
