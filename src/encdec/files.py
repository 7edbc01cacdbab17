"""Files that are either the old or the new version, never half of one, and locks between processes.

Every file the template writes for other processes to read (cached tokenizers and vectors,
downloads, checkpoints, exported models) goes through `atomic_path`: the data is written to a
temporary file with a unique name in the destination's folder, then renamed over the destination
(a rename within one folder is atomic). Any exception, Ctrl-C included, removes the temporary file.
`file_lock` lets one process build a cached file while the others wait, then read it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; atomic renames still keep every file whole
    fcntl = None  # type: ignore[assignment]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: mkstemp creates 0600 files; the final file gets the permissions `open` would have given it.
_FILE_MODE = 0o666 & ~_umask()


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened / synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a new, empty, uniquely named file beside `path`; rename it over `path` on success.

    Write the file by its name (for writers that take a path: `tokenizer.save(str(tmp))`).
    If the block raises anything (KeyboardInterrupt too), `path` is untouched and the temporary
    file is removed. `fsync`: flush the data and the rename to disk (checkpoints) before returning.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            _fsync_folder(path.parent)
    finally:
        # After a successful rename there is nothing left to remove.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "wb", fsync: bool = False, **kwargs
) -> Iterator[IO]:
    """`open(path, mode)` for writing, atomically: readers see the old file until the block ends."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} must start with 'w'")
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, mode, **kwargs) as f:
        yield f
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = False) -> Path:
    with atomic_open(path, "wb", fsync=fsync) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike, text: str, encoding: str = "utf-8", fsync: bool = False
) -> Path:
    with atomic_open(path, "w", fsync=fsync, encoding=encoding) as f:
        f.write(text)
    return Path(path)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on `.<name>.lock` (created beside `path`) for the block; wait for it.

    Advisory (fcntl.flock): it orders the processes of this template, e.g. DDP ranks or parallel
    runs that would build the same cached file. The lock is released when the block ends or the
    process dies, so a killed process never leaves others waiting. The `.lock` file stays.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, atomically (a model file is the old one or the new one, never half)."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)
