"""Training throughput of the reference model (real target tokens/s), time to first step, RSS, MFU.

    python bench/train_throughput.py --threads 2 [--steps 60] [hydra overrides ...]
    python bench/train_throughput.py --accelerator gpu --steps 300 trainer.precision=bf16-mixed

Runs the real training loop (Lightning Trainer, the reference config, the real Multi30k data) in
a fresh process per thread count, so time-to-first-step includes imports, config, cached data
and model set-up. Throughput is measured over windows of steps after a warm-up; the median of
the windows is the headline, min and max show the noise.
"""

from __future__ import annotations

import time

LAUNCHED = time.time()  # before the heavy imports: time to first step counts them

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


class StepTimer:
    """A Lightning callback recording the wall time and real target tokens of every step."""

    def __init__(self, pad_id: int, net, launched: float) -> None:
        self.pad_id, self.net, self.launched = pad_id, net, launched
        self.times: list[float] = []
        self.tokens: list[int] = []
        self.flops: list[int] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        from flops import training_flops

        self.times.append(time.time())
        real = batch.tgt_out != self.pad_id
        self.tokens.append(int(real.sum()))
        self.flops.append(
            training_flops(self.net, batch.src_lengths.tolist(), real.sum(1).tolist())
        )


def worker(
    threads: int, steps: int, warmup: int, window: int, accelerator: str, overrides: list[str]
) -> dict:
    import lightning as L
    import torch
    from common import build, compose_reference, matmul_ceiling, peak_rss_gb

    from encdec.allocator import retain_freed_memory

    retain_freed_memory()  # as train.py does
    torch.set_num_threads(threads)
    # No validation runs here, so a plateau schedule would have no metric to watch.
    cfg = compose_reference(["scheduler=none", *overrides])
    L.seed_everything(cfg.seed)
    task, datamodule = build(cfg, "fit")
    timer = StepTimer(datamodule.special_ids["pad"], task.net, LAUNCHED)
    callback = type("Timer", (L.Callback,), {"on_train_batch_end": timer.on_train_batch_end})()
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=cfg.trainer.get("precision", "32-true"),
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        callbacks=[callback],
    )
    trainer.fit(task, datamodule=datamodule)
    rates, flop_rates = [], []
    for start in range(warmup, len(timer.times) - window, window):
        elapsed = timer.times[start + window] - timer.times[start]
        rates.append(sum(timer.tokens[start + 1 : start + window + 1]) / elapsed)
        flop_rates.append(sum(timer.flops[start + 1 : start + window + 1]) / elapsed / 1e9)
    device = "cpu" if accelerator == "cpu" else "cuda"
    return {
        "threads": threads,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "precision": str(trainer.precision),
        "tokens_per_sec": rates,
        "model_gflops_per_sec": flop_rates,
        "flops_per_token": sum(timer.flops) / sum(timer.tokens),
        "first_step_s": timer.times[0] - LAUNCHED,
        "peak_rss_gb": peak_rss_gb(),
        "matmul_gflops_fp32": matmul_ceiling(torch.float32, device),
        "matmul_gflops_bf16": matmul_ceiling(torch.bfloat16, device),
    }


def summarise(r: dict, command: str) -> None:
    rates = r["tokens_per_sec"]
    med = statistics.median(rates)
    achieved = statistics.median(r["model_gflops_per_sec"])
    where = f"{r['threads']} thread(s)" if r["device"] == "cpu" else r["device"]
    print(f"\n== training, {where}, precision {r['precision']}")
    print(f"   command: {command}")
    print(
        f"   real target tokens/s: median {med:,.0f}  (min {min(rates):,.0f}, max {max(rates):,.0f},"
        f" {len(rates)} windows)"
    )
    print(f"   model FLOPs per real target token (fwd+bwd): {r['flops_per_token'] / 1e6:.1f} M")
    print(
        f"   fp32 matmul ceiling: {r['matmul_gflops_fp32']:.0f} GFLOP/s"
        f" (bf16: {r['matmul_gflops_bf16']:.0f});  model {achieved:.0f} GFLOP/s = MFU"
        f" {100 * achieved / r['matmul_gflops_fp32']:.0f} % of the fp32 ceiling"
        f" ({100 * achieved / r['matmul_gflops_bf16']:.0f} % of bf16)"
    )
    print(f"   time from launch to first optimizer step: {r['first_step_s']:.1f} s")
    print(f"   peak RSS: {r['peak_rss_gb']:.2f} GB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--accelerator", default="cpu", help="cpu or gpu (one device)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. trainer.precision=bf16-mixed"
    )
    args = p.parse_args()
    if args.worker:
        result = worker(
            int(args.threads), args.steps, args.warmup, args.window, args.accelerator,
            args.overrides,
        )  # fmt: skip
        print("RESULT " + json.dumps(result))
        return
    script = Path(__file__)
    for threads in args.threads.split(","):
        cmd = [
            sys.executable, str(script), "--threads", threads, "--steps", str(args.steps),
            "--warmup", str(args.warmup), "--window", str(args.window),
            "--accelerator", args.accelerator, *args.overrides,
        ]  # fmt: skip
        shown = (
            f"python bench/train_throughput.py --threads {threads} --steps {args.steps} "
            + ("" if args.accelerator == "cpu" else f"--accelerator {args.accelerator} ")
            + " ".join(args.overrides)
        )
        out = subprocess.run([*cmd, "--worker"], capture_output=True, text=True)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode or not lines:
            sys.exit(f"benchmark worker failed:\n{out.stderr[-3000:]}")
        summarise(json.loads(lines[-1][7:]), shown.strip())


if __name__ == "__main__":
    main()
