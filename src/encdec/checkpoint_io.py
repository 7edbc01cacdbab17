"""Checkpoint files that are either the old or the new version, never half of one."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from encdec.errors import CheckpointWriteError
from encdec.files import atomic_open


def _newest_checkpoint(folder: Path) -> Path | None:
    found = [p for p in folder.glob("*.ckpt") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def write_error(path: Path, err: OSError) -> CheckpointWriteError:
    """The one-line error for a checkpoint `path` that could not be written."""
    folder = path.parent
    full = err.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the disk is full" if full else (err.strerror or type(err).__name__)
    intact = path if path.is_file() else _newest_checkpoint(folder)
    if intact is not None:
        resume = (
            f"The last checkpoint, {intact}, is intact: free space in {folder} and run the same "
            f"command again to resume from it (resume=auto), or pass resume={intact}."
        )
    else:
        resume = f"No earlier checkpoint exists in {folder}; free space there and start again."
    return CheckpointWriteError(
        f"Could not write the checkpoint {path}: {reason} ({err}). {resume}"
    )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write a checkpoint to a temporary file beside it, then rename it into place.

    Lightning's own writer goes through fsspec, whose temporary file lives in the system temp
    folder; when that is another filesystem (often: /tmp on tmpfs), the final move is a copy into
    the destination, and a kill during the copy leaves a truncated last.ckpt. A rename within one
    folder is atomic, so a killed run always leaves a whole checkpoint to resume from. A failed
    write (a full disk) keeps the previous file and raises CheckpointWriteError, which says so.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):  # remote storage: leave it to fsspec
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        try:
            with atomic_open(path, "wb", fsync=True) as f:
                torch.save(checkpoint, f)
        except CheckpointWriteError:
            raise
        except OSError as err:
            raise write_error(path, err) from err
