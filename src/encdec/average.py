"""Average the weights of several checkpoints: `python -m encdec.average --out avg.ckpt A.ckpt B.ckpt`.

Averaging the last or best few checkpoints of a run (as fairseq's `average_checkpoints.py` and
OpenNMT's `average_models.py` do) smooths the noise of the final updates and usually gains a
fraction of a BLEU point for free. The result is an ordinary encdec checkpoint: `eval.py
ckpt_path=avg.ckpt` and `predict.py` take it. It carries no optimizer state, so it is for
evaluation and use, not for resuming training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from encdec.files import atomic_open

#: Entries of a Lightning checkpoint that describe the model, kept from the last input.
KEPT = (
    "state_dict",
    "encdec",
    "hyper_parameters",
    "epoch",
    "global_step",
    "pytorch-lightning_version",
)


def average_checkpoints(paths: list[Path]) -> dict[str, Any]:
    """The last checkpoint with its floating-point weights replaced by the mean over all of them."""
    if not paths:
        raise ValueError("Give at least one checkpoint to average.")
    checkpoints = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    reference = checkpoints[-1]["state_dict"]
    for path, ckpt in zip(paths, checkpoints, strict=True):
        state = ckpt["state_dict"]
        if state.keys() != reference.keys() or any(
            state[k].shape != reference[k].shape for k in reference
        ):
            raise ValueError(
                f"{path} does not hold the same model as {paths[-1]} (different parameter names or "
                "shapes); average checkpoints of one run only."
            )
    averaged = {
        k: torch.stack([c["state_dict"][k] for c in checkpoints]).mean(0)
        if v.is_floating_point()
        else v
        for k, v in reference.items()
    }
    result = {k: checkpoints[-1][k] for k in KEPT if k in checkpoints[-1]}
    result["state_dict"] = averaged
    result.setdefault("encdec", {})["averaged_from"] = [str(p) for p in paths]
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True, help="where to write the averaged checkpoint")
    args = p.parse_args(argv)
    missing = [str(c) for c in args.checkpoints if not c.is_file()]
    if missing:
        sys.exit(f"Checkpoint(s) not found: {', '.join(missing)}")
    try:
        averaged = average_checkpoints(args.checkpoints)
    except (ValueError, KeyError) as err:
        sys.exit(f"Cannot average: {err}")
    with atomic_open(args.out, "wb") as f:  # never half a checkpoint at --out
        torch.save(averaged, f)
    print(f"Averaged {len(args.checkpoints)} checkpoints into {args.out}")


if __name__ == "__main__":
    main()
