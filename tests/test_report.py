"""encdec.report's choice of metric, on sweep folders written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from encdec.report import report


def fake_sweep(root: Path, monitor: str, metrics: list[dict[str, float]]) -> Path:
    for n, values in enumerate(metrics):
        job = root / str(n)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"model.dropout=0.{n}"]))
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"task": {"monitor": monitor}}))
        (job / "metrics.json").write_text(json.dumps(values))
    return root


def test_the_default_metric_is_the_jobs_monitor(tmp_path: Path, capsys) -> None:
    sweep = fake_sweep(
        tmp_path, "val/rouge1", [{"val/rouge1": 30.0, "val/bleu": 1.0}, {"val/rouge1": 35.0}]
    )
    rows = report(sweep)
    assert [r["val/rouge1"] for r in rows] == [35.0, 30.0]
    assert "Metric: val/rouge1 (the task's monitor" in capsys.readouterr().out


def test_a_sweep_that_never_validated_is_sorted_by_the_test_twin(tmp_path: Path, capsys) -> None:
    sweep = fake_sweep(tmp_path, "val/f1", [{"test/f1": 10.0}, {"test/f1": 20.0}])
    rows = report(sweep)
    assert [r["test/f1"] for r in rows] == [20.0, 10.0]
    assert "Metric: test/f1 (the jobs logged no val/f1" in capsys.readouterr().out


def test_no_logged_candidate_stops_with_the_metrics_found(tmp_path: Path) -> None:
    sweep = fake_sweep(tmp_path, "val/bleu", [{"train/loss": 6.0}, {"train/loss": 5.0}])
    with pytest.raises(SystemExit, match=r"val/bleu or test/bleu.*Metrics found: train/loss"):
        report(sweep)
    with pytest.raises(SystemExit, match=r"logged val/loss\. Metrics found: train/loss"):
        report(sweep, "val/loss")
