"""What a short run buys: each run's best validation figure within 15, 30, 60, ... minutes of training.

    python bench/time_to_quality.py RUN_DIR [RUN_DIR ...] [--metric val/bleu]
                                    [--budgets 15,30,60,120] [--figure curve.png]

A RUN_DIR is a train.py run folder trained with `logger=csv` (its `csv/version_*/metrics.csv`);
every run logs `time/minutes` (wall minutes of training, counted on across resumes:
`encdec.callbacks.ElapsedTime`) beside its validation figures. Printed: one row per run, the
best `--metric` reached within each budget ("-": no validation yet), the total time and the
figure at its end. `--figure` draws the metric against minutes for all runs in one plot.

A run from before `time/minutes` was logged is read from its `train.log` instead: minutes from
the log's first line to each line that logs the metric (`val/bleu 30.58 ...`, as the translation
task writes it), so they include start-up and, for a resumed run, the pause between its parts.
"""

from __future__ import annotations

import argparse
import csv
import re
import shlex
import sys
from datetime import datetime
from pathlib import Path

TIME = "time/minutes"
#: `[2026-12-07 06:29:38,812][encdec.tasks.seq2seq][INFO] - val/bleu 0.05 (...)`
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+\]")
LOG_VALUE = re.compile(r"\] - (\S+) (-?[\d.]+)")


def curve_from_log(run_dir: Path, metric: str) -> list[tuple[float, float]]:
    """(minutes since the log's first line, value) of each logged `metric` in train.log."""
    start, points = None, []
    path = run_dir / "train.log"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stamp = LOG_TIME.match(line)
        if stamp is None:
            continue
        when = datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")
        start = start or when
        value = LOG_VALUE.search(line, stamp.end())
        if value is not None and value[1] == metric:
            points.append(((when - start).total_seconds() / 60, float(value[2])))
    return points


def curve(run_dir: Path, metric: str) -> list[tuple[float, float]]:
    """(minutes, value) of each validation of the run, in order."""
    files = sorted(run_dir.glob("csv/version_*/metrics.csv"))
    if not files:
        raise SystemExit(f"{run_dir}: no csv/version_*/metrics.csv; train with logger=csv.")
    points = []
    for path in files:  # one version per start of a resumed run
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get(TIME) and row.get(metric):
                    points.append((float(row[TIME]), float(row[metric])))
    if not points and (run_dir / "train.log").is_file():
        points = curve_from_log(run_dir, metric)
    if not points:
        raise SystemExit(
            f"{run_dir}: no rows with both {TIME} and {metric}, and no `{metric}` lines in its "
            f"train.log (another task's metric?)."
        )
    return sorted(points)


def best_within(points: list[tuple[float, float]], minutes: float) -> float | None:
    values = [v for t, v in points if t <= minutes]
    return max(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--metric", default="val/bleu")
    parser.add_argument("--budgets", default="15,30,60,120", help="minutes, comma-separated")
    parser.add_argument("--figure", type=Path, default=None, help="write the curves (PNG)")
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    curves = {run: curve(run, args.metric) for run in args.runs}
    head = " | ".join(f"≤ {b:g} min" for b in budgets)
    print(f"| run | {head} | total | at the end |")
    print("|---|" + "---|" * (len(budgets) + 2))
    for run, points in curves.items():
        cells = []
        for b in budgets:
            value = best_within(points, b)
            cells.append("-" if value is None else f"{value:.2f}")
        end = points[-1]
        print(f"| {run.name} | {' | '.join(cells)} | {end[0]:.0f} min | {end[1]:.2f} |")
    if args.figure is not None:
        import matplotlib  # noqa: PLC0415 (only for the figure)

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig, ax = plt.subplots(figsize=(6.4, 4))
        for run, points in curves.items():
            ax.plot([t for t, _ in points], [v for _, v in points], label=run.name)
        ax.set_xlabel("training minutes (2-core CPU)")
        ax.set_ylabel(args.metric)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.figure, dpi=120)
        print(f"\nfigure: {args.figure}")
    print(f"\n(command: {shlex.join(['python', *sys.argv])})")


if __name__ == "__main__":
    main()
