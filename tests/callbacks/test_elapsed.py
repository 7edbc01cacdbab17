"""ElapsedTime counts on across resumes and refuses a hostile saved value; time_to_quality reads
the minutes back from a run's metrics.csv (or, for an older run, from its train.log)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from encdec.callbacks import ElapsedTime

REPO = Path(__file__).resolve().parents[2]


def test_a_resumed_run_counts_on_from_its_checkpoint() -> None:
    first = ElapsedTime()
    first.before = 90.0  # as if 90 s had run before
    state = first.state_dict()
    assert state["seconds"] == 90.0
    resumed = ElapsedTime()
    resumed.load_state_dict(state)
    resumed.on_fit_start(None, None)  # type: ignore[arg-type]
    assert 90.0 <= resumed.seconds() < 91.0
    for hostile in (
        {"seconds": "90"},
        {"seconds": float("nan")},
        {"seconds": -5},
        {},
        {"seconds": True},
    ):
        other = ElapsedTime()
        other.load_state_dict(hostile)  # type: ignore[arg-type]
        assert other.before == 0.0, hostile


def test_time_to_quality_reads_the_best_figure_within_each_budget(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "csv" / "version_0"
    folder.mkdir(parents=True)
    rows = ["epoch,step,time/minutes,train/loss,val/bleu", "0,10,,2.0,", "0,99,9.5,,10.0",
            "1,199,20.0,,25.0", "2,299,31.0,,24.0", "3,399,59.0,,30.5"]  # fmt: skip
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "time_to_quality.py"), str(tmp_path / "run"),
         "--budgets", "5,15,30,60", "--figure", str(tmp_path / "curve.png")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| run | - | 10.00 | 25.00 | 30.50 | 59 min | 30.50 |" in done.stdout
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_a_run_without_logged_minutes_is_timed_from_its_train_log(tmp_path: Path) -> None:
    folder = tmp_path / "old" / "csv" / "version_0"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("epoch,step,val/bleu\n0,99,10.0\n1,199,20.0\n")
    log = [
        "[2026-12-07 06:00:00,001][encdec.data.tokenization][INFO] - Tokenizer loaded",
        "[2026-12-07 06:12:00,500][encdec.tasks.seq2seq][INFO] - val/bleu 10.00 (sacreBLEU ...)",
        "a line without a time stamp: val/bleu 99",
        "[2026-12-07 06:40:30,000][encdec.tasks.seq2seq][INFO] - val/bleu_lc_tok 21.5",
        "[2026-12-07 06:45:00,000][encdec.tasks.seq2seq][INFO] - val/bleu 20.00 (sacreBLEU ...)",
    ]
    (tmp_path / "old" / "train.log").write_text("\n".join(log) + "\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "time_to_quality.py"), str(tmp_path / "old"),
         "--budgets", "10,15,60"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| old | - | 10.00 | 20.00 | 45 min | 20.00 |" in done.stdout
