"""Average the weights of several checkpoints: `python -m encdec.average --out avg.ckpt A.ckpt B.ckpt`.

Averaging the last or best few checkpoints of a run (as fairseq's `average_checkpoints.py` and
OpenNMT's `average_models.py` do) smooths the noise of the final updates and usually gains a
fraction of a BLEU point for free. The result is an ordinary encdec checkpoint: `eval.py
ckpt_path=avg.ckpt` and `predict.py` take it. It carries no optimizer state, so it is for
evaluation and use, not for resuming training.

Every input is checked before anything is averaged (encdec.artifacts / encdec.trust): tensors
only, read memory-mapped, their shapes those of the network the config builds (on the `meta`
device) and of each other; the output is never one of the inputs (compared by identity).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from encdec.artifacts import refuse_overwriting
from encdec.build import read_checkpoint, rebuild_shapes
from encdec.errors import CheckpointError, EncdecError
from encdec.files import atomic_save
from encdec.trust import check_shapes

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
        raise CheckpointError("Give at least one checkpoint to average.")
    checkpoints = [read_checkpoint(p) for p in paths]  # tensors only; allowlisted config
    last = checkpoints[-1]
    expected = rebuild_shapes(last["encdec"], str(paths[-1]))  # the config's shapes (meta)
    for path, ckpt in zip(paths, checkpoints, strict=True):
        try:
            check_shapes(ckpt["state_dict"], expected, str(path))
        except CheckpointError as err:
            raise CheckpointError(
                f"{err} {path} does not hold the same model as {paths[-1]}; average checkpoints "
                f"of one run only."
            ) from None
    averaged = {
        k: torch.stack([c["state_dict"][k] for c in checkpoints]).mean(0)
        if v.is_floating_point()
        else v
        for k, v in last["state_dict"].items()
    }
    result = {k: last[k] for k in KEPT if k in last}
    result["state_dict"] = averaged
    saved = dataclasses.replace(last["encdec"], averaged_from=tuple(str(p) for p in paths))
    result["encdec"] = saved.to_dict()
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
        refuse_overwriting(args.checkpoints, args.out, "--out")
        averaged = average_checkpoints(args.checkpoints)
    except EncdecError as err:
        sys.exit(str(err))
    atomic_save(averaged, args.out)
    print(f"Averaged {len(args.checkpoints)} checkpoints into {args.out}")


if __name__ == "__main__":
    main()
