"""A carried encoder against the same recipe from scratch, at the same budget and seed.

    python bench/transfer.py --task qa --source outputs/<multi30k run>/checkpoints/last.ckpt \
        --steps 20000 -- model.embedding_dim=256 model.hidden_dim=256 model.num_layers=1
    python bench/transfer.py --task summarization --source <translation or dialogsum model> \
        --minutes 60 --freeze 1000 -- model.encoder_hidden_dim=256
    python bench/transfer.py --task qa --source <ckpt> --steps 2 --dry-run   # the commands only
    python bench/transfer.py --side-by-side --task qa --source <ckpt> --minutes 20 -- ...

Two train.py runs on this checkout: the arm `scratch` (the recipe as given) and the arm
`carried` (the same recipe with init.encoder_from=<source> and
init.freeze_encoder_steps=<--freeze>). Both arms get the same seed, the same optimizer-step
budget (--steps: trainer.max_steps) or wall-clock budget (--minutes: trainer.max_time), the same
overrides (after `--`: they must build the encoder in the source's shape; a misfit stops the run
with the options to set). The carried arm uses the source's tokenizer (init.tokenizer=source), the
scratch arm its own: that difference is part of what is compared. Printed: each arm's command
and its test metrics (from the run's metrics.json), then the carried arm's gain on each.

By default the arms run one after the other, each with the whole machine. With --side-by-side
they run at the same time, each pinned to one CPU core with one thread (their logs go to
<--out>/outputs/transfer-<arm>-<seed>.log): half the wall-clock, and a neighbour's load falls on
both arms alike, which suits a --minutes budget on a shared machine.

Runs are written to <--out>/outputs/transfer-<arm>-<seed> (--out: this checkout; named runs: the
same command again resumes a run cut short). Use an idle machine for the figures: the time budget
counts wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The child processes import this checkout's encdec.
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
ARMS = ("scratch", "carried")


def max_time(minutes: float) -> str:
    """Lightning's "DD:HH:MM:SS" for a budget in minutes (whole seconds)."""
    seconds = round(minutes * 60)
    days, rest = divmod(seconds, 86400)
    return f"{days:02d}:{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def arm_command(args: argparse.Namespace, arm: str) -> list[str]:
    """The train.py command of one arm (the arms differ only in init.*)."""
    budget = (
        [f"trainer.max_steps={args.steps}"]
        if args.minutes is None
        else [f"+trainer.max_time={max_time(args.minutes)}", "trainer.max_epochs=-1"]
    )
    command = [
        sys.executable,
        "train.py",
        f"task={args.task}",
        f"seed={args.seed}",
        *budget,
        f"logger={args.logger}",
        f"run_name=transfer-{arm}-{args.seed}",
        f"paths.log_dir={args.out}",
        *args.overrides,
    ]
    if arm == "carried":
        command += [
            f"init.encoder_from={args.source}",
            f"init.freeze_encoder_steps={args.freeze}",
        ]
    return command


def one_after_the_other(args: argparse.Namespace) -> int:
    """Each arm with the whole machine; the output of both goes to this terminal."""
    for arm in ARMS:
        done = subprocess.run(arm_command(args, arm), cwd=ROOT, env=CHILD_ENV, check=False)
        if done.returncode != 0:
            print(f"[{arm}] train.py stopped (exit status {done.returncode}); see above.")
            return done.returncode
    return 0


def one_core(cpu: int) -> Callable[[], None]:
    """Pin the child to one core before it starts (Linux; elsewhere the thread limit alone)."""

    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    return pin


def side_by_side(args: argparse.Namespace) -> int:
    """Both arms at once, one core and one thread each; the first failure is reported."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    if len(cores) < 2:
        print("--side-by-side needs two CPU cores; run without it.", file=sys.stderr)
        return 2
    env = {**CHILD_ENV, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    running: dict[str, subprocess.Popen] = {}
    for arm, cpu in zip(ARMS, cores[:2], strict=True):
        log = Path(args.out) / "outputs" / f"transfer-{arm}-{args.seed}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{arm}] core {cpu}, log {log}", flush=True)
        with log.open("w") as out:
            running[arm] = subprocess.Popen(
                arm_command(args, arm), cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, preexec_fn=one_core(cpu),
            )  # fmt: skip
    codes = {arm: process.wait() for arm, process in running.items()}
    for arm, code in codes.items():
        if code != 0:
            print(f"[{arm}] train.py stopped (exit status {code}); see its log.")
            return code
    return 0


def test_metrics(args: argparse.Namespace, arm: str) -> dict[str, float]:
    path = Path(args.out) / "outputs" / f"transfer-{arm}-{args.seed}" / "metrics.json"
    metrics = json.loads(path.read_text())
    return {k: v for k, v in metrics.items() if k.startswith("test/")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, help="qa | summarization | translation")
    parser.add_argument("--source", required=True, help="checkpoint or model file to carry")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=int, help="optimizer steps per arm")
    budget.add_argument("--minutes", type=float, help="wall-clock minutes per arm")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--freeze", type=int, default=0, help="init.freeze_encoder_steps")
    parser.add_argument("--logger", default="csv")
    parser.add_argument("--out", default=str(ROOT), help="paths.log_dir of both runs")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument(
        "--side-by-side", action="store_true", help="both arms at once, one core each"
    )
    parser.add_argument("overrides", nargs="*", help="after --: train.py overrides of both arms")
    args = parser.parse_args(argv)
    if not Path(args.source).is_file():
        parser.error(f"--source {args.source}: no such file (a .ckpt or a model file)")
    args.source, args.out = str(Path(args.source).resolve()), str(Path(args.out).resolve())
    for arm in ARMS:
        print(f"[{arm}] {shlex.join(arm_command(args, arm))}", flush=True)
    if args.dry_run:
        return 0
    code = side_by_side(args) if args.side_by_side else one_after_the_other(args)
    if code != 0:
        return code
    results = {arm: test_metrics(args, arm) for arm in ARMS}
    for arm in ARMS:
        print(f"[{arm}] " + "  ".join(f"{k}={v:.4f}" for k, v in sorted(results[arm].items())))
    shared = sorted(set(results["scratch"]) & set(results["carried"]))
    gains = (f"{k}={results['carried'][k] - results['scratch'][k]:+.4f}" for k in shared)
    print("[carried - scratch] " + "  ".join(gains))
    return 0


if __name__ == "__main__":
    sys.exit(main())
