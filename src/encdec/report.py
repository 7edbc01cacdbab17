"""Summarise a sweep: `python -m encdec.report multirun/<date>/<time> [--metric val/bleu]`.

Reads every job's overrides (`.hydra/overrides.yaml`) and final metrics (`metrics.json`), prints a
table sorted by the objective, and writes `report.csv` and `report.png` (the objective across the
swept values) into the sweep folder.

The objective is `--metric` when given; otherwise the task's monitor from the jobs' saved config
(`val/<task.metric.monitor>`, e.g. `val/bleu`) when the jobs logged it, else its test counterpart (`test/bleu`,
for sweeps that never validated). The report names the metric it chose; when no job logged the
metric, it stops (exit status 1) and lists the metrics the jobs have.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table


def collect(sweep_dir: Path) -> list[dict[str, str | float]]:
    """One row per finished job: its number, the overrides that vary across jobs, its metrics."""
    jobs = []
    for job in sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()),
        key=lambda p: int(p.name),
    ):
        metrics_file, overrides_file = job / "metrics.json", job / ".hydra" / "overrides.yaml"
        if not metrics_file.is_file():
            continue
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
        swept = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
        jobs.append((int(job.name), swept, json.loads(metrics_file.read_text())))
    keys = list(dict.fromkeys(k for _, swept, _ in jobs for k in swept))
    varying = [k for k in keys if len({swept.get(k) for _, swept, _ in jobs}) > 1] or keys
    return [
        {"job": n, **{k: swept.get(k, "") for k in varying}, **metrics}
        for n, swept, metrics in jobs
    ]


def job_monitor(sweep_dir: Path) -> str | None:
    """The task's monitor (`val/<task.metric.monitor>`; `task.monitor` before format version 3)
    in the first job's saved config, if any."""
    for config in sorted(sweep_dir.glob("*/.hydra/config.yaml")):
        try:
            task = (yaml.safe_load(config.read_text()) or {}).get("task") or {}
            metric = task.get("metric")  # before format version 3: task.monitor
            figure = metric.get("monitor") if isinstance(metric, dict) else None
            monitor = f"val/{figure}" if isinstance(figure, str) else task.get("monitor")
        except yaml.YAMLError:
            continue
        if isinstance(monitor, str) and monitor:
            return monitor
    return None


def logged_metrics(rows: list[dict[str, str | float]]) -> list[str]:
    """The metric names (`stage/name`) at least one job logged, sorted."""
    return sorted({k for row in rows for k in row if "/" in k})


def choose_metric(sweep_dir: Path, rows: list[dict[str, str | float]], metric: str | None) -> str:
    """The metric to sort and plot by: `metric` if given, else the monitor or its test twin.

    Stops (SystemExit with a message, exit status 1) when the jobs did not log it.
    """
    found = logged_metrics(rows)
    if metric is not None:
        candidates = [metric]
    else:
        monitor = job_monitor(sweep_dir) or "val/bleu"
        stage, _, name = monitor.partition("/")
        candidates = [monitor] + ([f"test/{name}"] if stage == "val" and name else [])
    for candidate in candidates:
        if candidate in found:
            return candidate
    listed = ", ".join(found) or "none"
    raise SystemExit(
        f"No job in {sweep_dir} logged {' or '.join(candidates)}. Metrics found: {listed}. "
        f"Choose one with --metric (e.g. --metric {found[0] if found else 'test/bleu'})."
    )


def write_csv(rows: list[dict[str, str | float]], path: Path) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict[str, str | float]], swept: list[str], metric: str, path: Path) -> None:
    """Bar chart of the objective per job, labelled by the swept values."""
    import matplotlib  # noqa: PLC0415 (matplotlib: heavy, only to draw the chart)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels = ["\n".join(f"{k}={row[k]}" for k in swept) or f"job {row['job']}" for row in rows]
    values = [float(row.get(metric, float("nan"))) for row in rows]
    longest = max(len(line) for label in labels for line in label.splitlines())
    bar_inches = max(1.3, 0.08 * longest + 0.3)  # room for the longest tick label line
    fig, ax = plt.subplots(figsize=(max(6, bar_inches * len(rows)), 4.5))
    ax.bar(range(len(rows)), values, color="tab:blue")
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel(metric)
    ax.set_xlabel(", ".join(swept) or "job")
    ax.set_title(f"{metric} across the sweep")
    for i, v in enumerate(values):
        ax.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(
    sweep_dir: Path, metric: str | None = None, maximize: bool = True
) -> list[dict[str, str | float]]:
    """Print the table, write report.csv and report.png; `metric` None: the jobs' monitor."""
    rows = collect(sweep_dir)
    if not rows:
        raise SystemExit(f"No finished jobs (with metrics.json) in {sweep_dir}.")
    chosen = choose_metric(sweep_dir, rows, metric)
    if metric is None:
        monitor = job_monitor(sweep_dir) or "val/bleu"
        reason = (
            "the task's monitor"
            if chosen == monitor
            else f"the jobs logged no {monitor}: they never validated"
        )
        print(f"Metric: {chosen} ({reason}; --metric chooses another)")
    else:
        print(f"Metric: {chosen}")
    metric = chosen
    rows.sort(
        key=lambda r: float(r.get(metric, float("-inf") if maximize else float("inf"))),
        reverse=maximize,
    )
    swept = [k for k in rows[0] if k != "job" and "/" not in k]
    table = Table(title=f"sorted by {metric}: {sweep_dir}")  # the metric first: long paths wrap
    shown = ["job", *swept, *logged_metrics(rows)]
    for column in shown:
        table.add_column(column, justify="right" if "/" in column or column == "job" else "left")
    for row in rows:
        table.add_row(
            *(
                f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c, ""))
                for c in shown
            )
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # logs: do not truncate
    write_csv(rows, sweep_dir / "report.csv")
    plot(rows, swept, metric, sweep_dir / "report.png")
    print(f"Wrote {sweep_dir / 'report.csv'} and {sweep_dir / 'report.png'}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument(
        "--metric", default=None, help="default: the jobs' monitor, else its test/ twin"
    )
    parser.add_argument("--minimize", action="store_true")
    args = parser.parse_args()
    report(args.sweep_dir, args.metric, maximize=not args.minimize)


if __name__ == "__main__":
    main()
