"""How much CPU an idle `serve.py` uses, and how fast it stops.

Starts `serve.py` on a free local port (its own process group), answers a few requests, then
reads every server process's CPU time (user + system, /proc/<pid>/stat) before and after
`--seconds` with no requests. Then sends SIGTERM to the main process only and reports the
seconds until the port is free and until no process of the group is left.

    python bench/serve_idle.py --model tests/fixtures/legacy/translation_lstm_bahdanau.pt
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

from serve_load import ROOT, free_port, wait_ready


def group(pgid: int) -> dict[int, str]:
    """Live processes of the process group: pid -> command line (zombies count as gone)."""
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


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def until(done, since: float, limit: float = 60.0) -> float | None:
    """Seconds from `since` until `done()`, or None if not within `limit` seconds of it."""
    while not done():
        if time.monotonic() - since > limit:
            return None
        time.sleep(0.05)
    return round(time.monotonic() - since, 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_model = ROOT / "tests" / "fixtures" / "legacy" / "translation_lstm_bahdanau.pt"
    parser.add_argument("--model", default=str(default_model), help="a .ckpt or .pt file")
    parser.add_argument("--seconds", type=float, default=60.0, help="idle seconds measured")
    parser.add_argument("--requests", type=int, default=5, help="answered before idling")
    parser.add_argument("--max-batch-size", type=int, default=32)
    args = parser.parse_args()

    key = "ckpt_path" if args.model.endswith(".ckpt") else "model_file"
    port = free_port()
    serve = [sys.executable, "serve.py", f"{key}={args.model}", f"port={port}"]
    serve += [f"max_batch_size={args.max_batch_size}"]
    env = {k: v for k, v in os.environ.items() if k != "LIT_SERVER_API_KEY"}
    process = subprocess.Popen(serve, cwd=ROOT, env=env, start_new_session=True)
    result: dict = {"server": " ".join(serve[1:])}
    try:
        wait_ready(port, process)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(args.requests):
            body = json.dumps({"text": f"A man is riding bike number {i}."})
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()
        time.sleep(2)
        procs = group(process.pid)
        before = {pid: cpu_seconds(pid) for pid in procs}
        time.sleep(args.seconds)
        used = {pid: round(cpu_seconds(pid) - before[pid], 2) for pid in procs}
        result["idle_seconds"] = args.seconds
        result["cpu_seconds"] = {f"{pid} {procs[pid][:70]}": s for pid, s in used.items()}
        result["cpu_seconds_total"] = round(sum(used.values()), 2)
        result["percent_of_a_core"] = round(100 * sum(used.values()) / args.seconds, 2)
        signalled = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)  # the main process only

        def workers_gone() -> bool:  # the resource tracker leaves when the main process does
            rest = [c for p, c in group(process.pid).items() if p != process.pid]
            return all("resource_tracker" in c for c in rest)

        result["port_free_after_s"] = until(lambda: not port_open(port), signalled)
        result["workers_gone_after_s"] = until(workers_gone, signalled)
        result["main_exited_after_s"] = until(lambda: process.poll() is not None, signalled)
        result["all_gone_after_s"] = until(lambda: not group(process.pid), signalled, 10.0)
        result["left_running"] = sorted(c[:70] for c in group(process.pid).values())
    finally:
        if group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
