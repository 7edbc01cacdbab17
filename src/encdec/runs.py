"""Run folders that never collide: a unique default name, one process per folder, rank 0's files.

- `${run_id:}` (an OmegaConf resolver, registered when `encdec.cli` is imported): a short random
  token drawn once per process, appended to the default run and sweep folders
  (`outputs/<date>/<time>-<token>`), so two runs started in the same second get two folders.
  Hydra copies its resolver cache into every job of a multirun, so a sweep's jobs share it.
  DDP ranks started by Lightning (LOCAL_RANK > 0) take their launcher's token from ENCDEC_RUN_ID.
- `run_lock(folder)`: `<folder>/.lock`, held by the training process (rank 0) while it runs; a
  second process for the same folder is refused with `RunFolderInUse`, naming the folder and the
  pid. The lock is an flock, which the kernel drops when its process dies: a lock left by a
  killed run is taken over. `run_lock` in a process that already holds the folder (taken by
  `LockRunFolder` at the start) keeps that lock.
- `LockRunFolder`: a Hydra callback (conf/hydra/default.yaml) that takes the lock when the run
  starts, before Hydra writes `.hydra/config.yaml`, `overrides.yaml` or the log into the folder:
  a refused second start changes nothing of the running one.
- `is_rank_zero()`: true in the process that writes a run's files (under DDP, ranks share one
  folder).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from encdec.errors import RunFolderInUse

try:
    import fcntl
except ImportError:  # Windows: no run locks
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

#: The environment variable that hands the launcher's token to the DDP ranks it starts.
RUN_ID_ENV = "ENCDEC_RUN_ID"
_TOKEN = secrets.token_hex(3)


def run_id() -> str:
    """This process's token: 6 hex digits, the same on every call (the launcher's in DDP ranks)."""
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get(RUN_ID_ENV):
        return os.environ[RUN_ID_ENV]
    os.environ[RUN_ID_ENV] = _TOKEN  # inherited by the DDP ranks Lightning starts
    return _TOKEN


def register_resolvers() -> None:
    """`${run_id:}` in configs (cached: resolved once per config, copied into sweep jobs), and
    `${len:${data.features}}` (a list's length: the reader's inputs follow the data's features)."""
    if not OmegaConf.has_resolver("run_id"):
        OmegaConf.register_new_resolver("run_id", run_id, use_cache=True)
    if not OmegaConf.has_resolver("len"):
        OmegaConf.register_new_resolver("len", len)


def global_rank() -> int:
    """This process's rank among all training processes, from the launchers' environment."""
    for var in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    local = int(os.environ.get("LOCAL_RANK") or 0)
    node = int(os.environ.get("NODE_RANK") or os.environ.get("GROUP_RANK") or 0)
    return local if node == 0 else node * 1_000_000 + local  # not 0 on any other node


def is_rank_zero() -> bool:
    """True in the one process (global rank 0) that writes a run's files; true without DDP."""
    return global_rank() == 0


def _holder(lock: Path) -> str:
    try:
        pid, _, host = lock.read_text().strip().partition(" ")
    except OSError:
        return "another process"
    if not pid:
        return "another process"
    return f"pid {pid}" + (f" on {host}" if host and host != socket.gethostname() else "")


#: Locks this process holds: real folder path -> file descriptor.
_HELD: dict[str, int] = {}


def acquire_run_lock(folder: str | os.PathLike) -> Callable[[], None]:
    """Lock `folder` for this process (`<folder>/.lock` holds pid and host); returns `release`.

    Raises RunFolderInUse when a live process holds it. Only rank 0 locks: the other DDP ranks
    run in rank 0's folder, and get a `release` that does nothing.
    """
    folder = Path(folder)
    if fcntl is None or not is_rank_zero():
        return lambda: None
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    lock = folder / ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        raise RunFolderInUse(
            f"The run folder {folder} is in use by another training ({_holder(lock)}). Wait for "
            f"it to end, or start this one under another run_name=..."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    _HELD[key] = fd

    def release() -> None:
        if _HELD.get(key) != fd:
            return  # released already
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # an empty lock file: nobody is running here
            os.close(fd)  # drops the flock

    return release


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[None]:
    """`acquire_run_lock` for a block: the folder is this process's until the block ends (kept,
    not taken again, when this process holds it already: `LockRunFolder` took it at the start)."""
    held = os.path.realpath(folder) in _HELD
    release = (lambda: None) if held else acquire_run_lock(folder)
    try:
        yield
    finally:
        release()


def locked(folder: str | os.PathLike, fn: Callable[[], T]) -> T:
    """`fn()` while holding the run lock of `folder` (for `run_friendly(lambda: locked(...))`)."""
    with run_lock(folder):
        return fn()


class LockRunFolder(Callback):
    """Hydra callback: lock the run folder before Hydra writes anything into it.

    Hydra saves `.hydra/config.yaml`, `overrides.yaml` and opens the job's log in the folder
    before the task function runs; a second start refused only then would already have changed
    the running run's record. `on_run_start` comes first (the folder is computed from the same
    config object, its `${now:}` / `${run_id:}` cached, so it is the folder Hydra then uses); a
    refusal is one line and exit 1. Sweep jobs each have a folder of their own (the sweep's
    token), locked when the job starts.
    """

    def __init__(self) -> None:
        self.release: Callable[[], None] | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = OmegaConf.select(config, "hydra.run.dir")
        if folder is None:
            return
        try:
            self.release = acquire_run_lock(os.path.abspath(str(folder)))
        except RunFolderInUse as err:
            print(f"Error: {err}", file=sys.stderr)
            sys.exit(1)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.release is not None:
            self.release()
            self.release = None


register_resolvers()  # on import: `encdec.cli` imports this module before Hydra composes
