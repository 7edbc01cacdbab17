"""How serve.py's server runs and stops: SIGTERM, SIGINT or SIGHUP to the main process stops
every process it started and frees the port within a few seconds.

LitServe starts, from the main process, a `multiprocessing` manager (the queues), the inference
worker (spawned: it loads the model) and the HTTP server process (uvicorn, forked). Python's
default SIGTERM ends only the main process, so the others went on listening and answering; a
signal during start-up (while the worker loads the model) skipped LitServe's shutdown, and the
interpreter then waited forever on the worker. Here the main process turns those signals into
LitServe's own Ctrl+C shutdown (HTTP server first, with `GRACE` seconds for requests in flight,
then the worker, then the manager), and whatever it started that is still alive afterwards is
sent SIGTERM, then SIGKILL `GRACE` seconds later. A SIGKILL of the main process cannot be
caught: `kill -- -<process group>` stops them all then.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable
from multiprocessing import resource_tracker
from types import FrameType
from typing import Any

import litserve as ls

log = logging.getLogger(__name__)

#: Seconds requests in flight get to finish, and processes to exit after SIGTERM.
GRACE = 3.0
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stop(KeyboardInterrupt):
    """A stop signal, raised where LitServe expects Ctrl+C (its shutdown path)."""


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as stopped)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        fields = _stat(int(name)) if name.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def stop_processes(pids: Iterable[int], grace: float = GRACE) -> list[int]:
    """SIGTERM each live process, SIGKILL those still alive after `grace` seconds; the killed."""
    pending = [p for p in pids if alive(p)]
    for pid in pending:
        _send(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [p for p in pending if alive(p)]
    for pid in pending:
        _send(pid, signal.SIGKILL)
    return pending


def _send(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def run(server: ls.LitServer, host: str, port: int, **options: Any) -> None:
    """`server.run(...)` until a stop signal (or LitServe's own shutdown); then nothing it
    started is left running. Returns normally after a signal."""
    main_pid = os.getpid()
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if os.getpid() != main_pid:  # a forked child inheriting this handler: the default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if stopping:  # a second signal must not cut the shutdown short
            return
        stopping = True
        raise Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNALS}
    server.uvicorn_graceful_timeout = GRACE
    try:
        server.run(host=host, port=port, generate_client_file=False, **options)
    except KeyboardInterrupt as stop:  # a signal before LitServe's shutdown path was in place
        log.debug("stopped during start-up: %s", stop)
    finally:
        stopping = True
        tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
        # The resource tracker ignores SIGTERM and leaves by itself when this process exits.
        left = [p for p in descendants(main_pid) if p != tracker]
        killed = stop_processes(left)
        if killed:
            log.warning("Killed server processes that did not stop in %s s: %s", GRACE, killed)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("Server stopped: port %s is free.", port)
