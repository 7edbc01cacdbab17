"""`serve.py` as a process: a stop signal to its main process alone stops every process it
started and frees the port; idle, it uses next to no CPU; `api_key=12345` is the text 12345, and
without it every route but the page is 401, before the body is read.

Serves the legacy model file in tests/fixtures (no training): ~20 s per server on 2 cores.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from encdec.cli.common import ROOT
from tests.integration.test_serve import Server, request

#: Subprocess runs of the CLI or the server: `make test-slow`.
pytestmark = pytest.mark.slow

MODEL = ROOT / "tests" / "fixtures" / "legacy" / "translation_lstm_bahdanau.pt"
#: Seconds after the signal by which the port must be free and the workers gone.
STOPPED_WITHIN = 10
IDLE_SECONDS = 5
#: CPU seconds the whole server may use in IDLE_SECONDS idle (it used ~0.4 s when polling).
IDLE_CPU_LIMIT = 0.1


def group(pgid: int) -> dict[int, str]:
    """Live processes of the process group (the server and everything it started): pid ->
    command line. Zombies count as stopped."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    found[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def assert_stops(server: Server, sig: signal.Signals) -> None:
    """`sig` to the main process alone: port free and workers gone within STOPPED_WITHIN s,
    the main process exits 0, and nothing of the process group is left."""
    main = server.process.pid
    before = group(main)
    assert len(before) >= 4, before  # main, queue manager, model worker, HTTP server or tracker
    os.kill(main, sig)
    deadline = time.monotonic() + STOPPED_WITHIN
    others = before
    while time.monotonic() < deadline:
        # The resource tracker leaves when the main process exits (Python's own helper).
        others = {p: c for p, c in group(main).items() if p != main and "resource_tracker" not in c}
        if not others and not port_open(server.port):
            break
        time.sleep(0.2)
    assert not port_open(server.port), f"port {server.port} still open after {sig.name}"
    assert not others, f"still running {STOPPED_WITHIN} s after {sig.name}: {others}"
    assert server.process.wait(timeout=60) == 0, server.log_path.read_text()[-2000:]
    time.sleep(1)
    assert group(main) == {}
    log = server.log_path.read_text()
    assert "Server stopped" in log and "Traceback" not in log, log[-2000:]


@pytest.fixture()
def keyed(tmp_path: Path) -> Iterator[Server]:
    server = Server([f"model_file={MODEL}", "api_key=12345"], tmp_path, tmp_path)
    server.key = "12345"  # for wait_ready's /health
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture()
def open_server(tmp_path: Path) -> Iterator[Server]:
    server = Server([f"model_file={MODEL}", "max_batch_size=8"], tmp_path, tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_numeric_key_docs_and_sigterm(keyed: Server) -> None:
    url = keyed.url
    assert "API key set" in keyed.log_path.read_text()
    assert request(f"{url}/health", key="12345") == (200, "ok")
    status, body = keyed.post({"text": "A man is riding a bike."}, key="12345")
    assert status == 200 and isinstance(body["outputs"][0], str), body
    for path in ("/health", "/model", "/docs", "/redoc", "/openapi.json"):
        for key in (None, "1234", "12345.0"):
            assert request(f"{url}{path}", key=key)[0] == 401, (path, key)
    assert request(f"{url}/docs", key="12345")[0] == 200
    assert request(f"{url}/")[0] == 200  # the page asks for the key itself
    status, body = request(f"{url}/predict", b"{not json", key=None)
    assert status == 401 and "error" in body  # the key before the body
    status, body = request(f"{url}/predict", b"{not json", key="12345")
    assert status == 400 and body["field"] == "body"
    assert_stops(keyed, signal.SIGTERM)


def test_idle_and_sigint(open_server: Server) -> None:
    status, body = open_server.post({"texts": ["A dog.", "Two men."]})
    assert status == 200 and len(body["outputs"]) == 2, body
    pids = list(group(open_server.process.pid))
    time.sleep(1)
    before = cpu_seconds(pids)
    time.sleep(IDLE_SECONDS)
    used = cpu_seconds(pids) - before
    assert used < IDLE_CPU_LIMIT, f"{used:.2f} CPU s in {IDLE_SECONDS} s idle"
    assert_stops(open_server, signal.SIGINT)


def test_sigint_while_the_worker_loads_the_model(tmp_path: Path) -> None:
    server = Server([f"model_file={MODEL}"], tmp_path, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not any("multiprocessing.spawn" in c for c in group(server.process.pid).values()):
            assert server.process.poll() is None, server.log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "no model worker started in 120 s"
            time.sleep(0.05)
        assert_stops(server, signal.SIGINT)
    finally:
        server.stop()
