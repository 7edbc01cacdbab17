"""`python -m encdec.report` on a real sweep whose jobs never validated: it reports what they logged."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.integration.test_cli import CLI_SMALL, run
from tests.integration.test_sweeps import report, sweep_jobs


def test_report_of_a_sweep_that_never_validated_uses_a_logged_metric_and_names_it(
    data_dir: Path, tmp_path: Path
) -> None:
    # Two jobs that train 2 steps, never validate, and test: only train/* and test/* exist.
    # (scheduler=none: the plateau schedule needs a validated metric to step on.)
    result = run(
        [
            "train.py",
            "-m",
            "attention=bahdanau,luong_general",
            *(o for o in CLI_SMALL if not o.startswith("trainer.limit_val_batches")),
            "trainer.limit_val_batches=0",
            "scheduler=none",
            "logger=none",
            "test=true",
        ],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir, jobs = sweep_jobs(tmp_path)
    assert [p.name for p in jobs] == ["0", "1"]

    summary = report(sweep_dir)
    assert summary.returncode == 0, summary.stderr[-3000:]
    # The task's monitor (val/bleu) was never logged: the report takes its test twin and says so.
    assert "Metric: test/bleu" in summary.stdout and "val/bleu" in summary.stdout
    assert "sorted by test/bleu" in summary.stdout
    with (sweep_dir / "report.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and "test/bleu" in rows[0] and "val/bleu" not in rows[0]
    bleus = [float(r["test/bleu"]) for r in rows]
    assert bleus == sorted(bleus, reverse=True)
    assert {r["attention"] for r in rows} == {"bahdanau", "luong_general"}
    assert (sweep_dir / "report.png").stat().st_size > 10_000

    # Asking for a metric no job logged stops with the list of those found, not a traceback.
    missing = report(sweep_dir, "--metric", "val/bleu")
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert (
        "val/bleu" in missing.stderr and "test/bleu, test/bleu_lc_tok, test/loss" in missing.stderr
    )
