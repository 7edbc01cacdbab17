"""Load on a running `serve.py`: N concurrent clients, one sentence per request, on 127.0.0.1.

    python bench/serve_load.py --ckpt CKPT [--clients 1,16,64] [--duration 30] [--requests 0]
        [--sentences FILE] [--max-batch-size 64] [--batch-timeout 0.01] [--beam-size N]
        [--threads N]

Starts `serve.py` on a free local port (its own process group, stopped at the end), then for
each client count runs that many client threads (persistent HTTP connections), each sending the
next sentence as soon as its previous answer came back, for `--duration` seconds (or until
`--requests` answers, if given). Reports per level: requests, errors, requests/s, sentences/s,
p50/p95/p99 latency, and the server's resident memory (all its processes) before and after.

Then the same sentences are decoded offline as `predict.py input=FILE batch_size=64` decodes them
(each 64 lines decoded together by `encdec.inference.translator.decode_lines`, the batched beam
search), timed in this process after the model is loaded and warmed up, so "offline
sentences/s" is decoding alone, with the same thread count (`--threads`). The ratio
server/offline at each level is printed with the command lines used.

Default sentences: the Multi30k test set (test_2016_flickr.en.gz under $ENCDEC_DATA_DIR).
The checkpoint should be trained (an untrained model runs every output to the length limit).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_sentences(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the server's process group, in MB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError, ValueError):
            continue
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def load(port: int, sentences: list[str], clients: int, duration: float, limit: int, extra: dict):
    """Run `clients` threads; -> (latencies of good answers, errors, elapsed seconds)."""
    counter, lock = itertools.count(), threading.Lock()
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + duration

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                n = next(counter)
            if limit and n >= limit:
                break
            body = json.dumps({"text": sentences[n % len(sentences)], **extra}).encode()
            start = time.perf_counter()
            try:
                status = post(conn, body)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            took = time.perf_counter() - start
            with lock:
                if status == 200:
                    latencies.append(took)
                else:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], time.perf_counter() - started


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("serve.py exited before it was ready (see its output above).")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"serve.py was not ready within {timeout} s.")


def offline_seconds(ckpt: str, model_file: bool, lines: list[str], beam_size: int | None) -> float:
    """Seconds of the decoding predict.py runs over `lines` (input=FILE batch_size=64: each 64
    lines decoded together by `decode_lines`, the model's settings), in this process after a
    warm-up."""
    import torch

    from encdec import build
    from encdec.inference import inputs
    from encdec.inference.translator import decode_lines, decoding_settings

    loaded = build.load_model_file(ckpt) if model_file else build.load_checkpoint(ckpt)
    task = loaded.task.eval()
    torch.set_grad_enabled(False)
    settings = decoding_settings(task, beam_size, None)
    decode_lines(task, lines[:8], 64, settings)  # warm-up
    start = time.perf_counter()
    for chunk in inputs.batched(lines, 64):
        decode_lines(task, chunk, 64, settings)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ckpt", required=True, help="a train.py checkpoint (.ckpt) or model file (.pt)"
    )
    parser.add_argument("--clients", default="1,16,64", help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument(
        "--requests", type=int, default=0, help="stop a level after this many (0: no cap)"
    )
    parser.add_argument("--sentences", type=Path, default=None)
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--batch-timeout", type=float, default=0.01)
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument(
        "--offline-sentences", type=int, default=1000, help="sentences predict.py decodes"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of server and predict.py (OMP_NUM_THREADS)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()

    data = Path(os.environ.get("ENCDEC_DATA_DIR") or ROOT.parent / "shared" / "data")
    sentences = read_sentences(args.sentences or data / "multi30k" / "test_2016_flickr.en.gz")
    key = "ckpt_path" if args.ckpt.endswith(".ckpt") else "model_file"
    port = free_port()
    serve = [sys.executable, "serve.py", f"{key}={args.ckpt}", f"port={port}"]
    serve += [f"max_batch_size={args.max_batch_size}", f"batch_timeout={args.batch_timeout}"]
    extra = {"beam_size": args.beam_size} if args.beam_size else {}
    predict_extra = [f"beam_size={args.beam_size}"] if args.beam_size else []
    print("$", shlex.join(["python", *sys.argv]), flush=True)
    print("server:", shlex.join(serve[1:]), flush=True)
    env = {k: v for k, v in os.environ.items() if k != "LIT_SERVER_API_KEY"}
    if args.threads:  # torch reads it at start-up, in the server's processes and in predict.py
        os.environ["OMP_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.threads)
    process = subprocess.Popen(serve, cwd=ROOT, env=env, start_new_session=True)
    results = []
    try:
        wait_ready(port, process)
        load(port, sentences[:8], 1, 60, 8, extra)  # warm-up: first requests pay one-time costs
        for clients in [int(c) for c in args.clients.split(",")]:
            before = group_rss_mb(process.pid)
            latencies, errors, elapsed = load(
                port, sentences, clients, args.duration, args.requests, extra
            )
            after = group_rss_mb(process.pid)
            done = len(latencies)
            results.append(
                {
                    "clients": clients,
                    "requests": done + errors,
                    "errors": errors,
                    "seconds": round(elapsed, 2),
                    "requests_per_s": round(done / elapsed, 2),
                    "sentences_per_s": round(done / elapsed, 2),
                    "p50_ms": round(1000 * percentile(latencies, 50), 1),
                    "p95_ms": round(1000 * percentile(latencies, 95), 1),
                    "p99_ms": round(1000 * percentile(latencies, 99), 1),
                    "rss_before_mb": round(before, 1),
                    "rss_after_mb": round(after, 1),
                    "rss_growth_pct": round(100 * (after - before) / before, 1) if before else None,
                }
            )
            print(json.dumps(results[-1]), flush=True)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    offline_lines = sentences[: args.offline_sentences]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    seconds = offline_seconds(args.ckpt, key == "model_file", offline_lines, args.beam_size)
    offline = len(offline_lines) / seconds
    predict = [
        "python",
        "predict.py",
        f"{key}={args.ckpt}",
        "input=<the sentences>",
        "batch_size=64",
    ]
    print(f"offline: the decoding of {shlex.join(predict + predict_extra)}")
    print(
        f"offline: {len(offline_lines)} sentences in {seconds:.1f} s -> {offline:.1f} sentences/s"
    )
    header = f"{'clients':>7} {'requests':>8} {'errors':>6} {'sent/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'RSS MB':>15} {'vs offline':>10}"
    print(header)
    for r in results:
        rss = f"{r['rss_before_mb']:.0f}->{r['rss_after_mb']:.0f}"
        ratio = r["sentences_per_s"] / offline
        r["vs_offline"] = round(ratio, 3)
        print(
            f"{r['clients']:>7} {r['requests']:>8} {r['errors']:>6} {r['sentences_per_s']:>8.1f} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {rss:>15} {ratio:>9.2f}x"
        )
    if args.out is not None:
        args.out.write_text(
            json.dumps({"levels": results, "offline_sentences_per_s": offline}, indent=1)
        )


if __name__ == "__main__":
    main()
