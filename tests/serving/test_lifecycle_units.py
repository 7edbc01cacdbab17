"""The pieces of the server's lifecycle without a server: batching that waits instead of
polling, and stopping processes (SIGTERM, then SIGKILL for those that ignore it)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from queue import Queue
from types import SimpleNamespace

import pytest
from litserve.loops.base import _SENTINEL_VALUE, _StopLoopError

from encdec.serving import batching, lifecycle


class Recorder:
    """Stands for the loop: records the START responses `gather` sends."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def put_response(self, **kwargs) -> None:
        self.started.append(kwargs["uid"])


def api(max_batch_size: int = 4, batch_timeout: float = 0.2, request_timeout: float = 60):
    return SimpleNamespace(
        max_batch_size=max_batch_size, batch_timeout=batch_timeout, request_timeout=request_timeout
    )


def item(uid: str, age: float = 0.0) -> tuple:
    return (0, uid, time.monotonic() - age, {"text": uid})


def test_idle_wait_returns_nothing_after_blocking(monkeypatch) -> None:
    monkeypatch.setattr(batching, "IDLE_WAIT", 0.3)
    queue: Queue = Queue()
    started = time.process_time(), time.monotonic()
    assert batching.gather(Recorder(), api(), queue, None) == ([], [])
    cpu, wall = time.process_time() - started[0], time.monotonic() - started[1]
    assert wall >= 0.29 and cpu < 0.05  # waited the whole time without spinning


def test_a_batch_gathers_what_arrives_within_the_timeout() -> None:
    queue: Queue = Queue()
    queue.put(item("a"))
    threading.Timer(0.05, queue.put, [item("b")]).start()  # within batch_timeout of "a"
    threading.Timer(0.6, queue.put, [item("late")]).start()
    loop = Recorder()
    payloads, timed_out = batching.gather(loop, api(batch_timeout=0.3), queue, None)
    assert [uid for _, uid, _ in payloads] == ["a", "b"] and timed_out == []
    assert loop.started == ["a", "b"]
    payloads, _ = batching.gather(loop, api(batch_timeout=0.3), queue, None)
    assert [uid for _, uid, _ in payloads] == ["late"]


def test_batch_size_timeouts_and_stop() -> None:
    queue: Queue = Queue()
    for uid in "abc":
        queue.put(item(uid))
    payloads, _ = batching.gather(Recorder(), api(max_batch_size=2, batch_timeout=0), queue, None)
    assert [uid for _, uid, _ in payloads] == ["a", "b"]
    queue.put(item("old", age=120))
    payloads, timed_out = batching.gather(Recorder(), api(batch_timeout=0), queue, None)
    assert [uid for _, uid, _ in payloads] == ["c"] and timed_out == [(0, "old")]
    queue.put(_SENTINEL_VALUE)
    with pytest.raises(_StopLoopError):
        batching.gather(Recorder(), api(), queue, None)


def test_loop_only_when_batching() -> None:
    assert isinstance(batching.loop_for(8), batching.WaitingBatchedLoop)
    assert batching.loop_for(1) == "auto"  # LitServe's single loop already blocks


def test_stop_processes_kills_what_ignores_sigterm() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True)\n"
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert stubborn.stdout.readline() == b"ready\n"
        assert {polite.pid, stubborn.pid} <= set(lifecycle.descendants(os.getpid()))
        killed = lifecycle.stop_processes([polite.pid, stubborn.pid], grace=0.5)
        assert killed == [stubborn.pid]
        assert polite.wait(timeout=5) == -15 and stubborn.wait(timeout=5) == -9
        assert not lifecycle.alive(polite.pid) and not lifecycle.alive(stubborn.pid)
    finally:
        for process in (polite, stubborn):
            process.kill()
            process.wait()
