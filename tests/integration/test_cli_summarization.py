"""`python train.py task=summarization` as a user types it, then eval.py on its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import CLI_SMALL, best_checkpoint, only, run


def test_train_and_eval_summarization(data_dir: Path, tmp_path: Path) -> None:
    args = [
        "task=summarization",
        "model.copy=true",
        "model.coverage=true",
        "data.max_src_len=120",
        "task.decoding.max_len_cap=20",
    ]
    result = run(["train.py", *args, *CLI_SMALL], data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    expected = {f"test/{k}{m}" for k in ("rouge1", "rouge2", "rougeL") for m in ("", "_multi")}
    assert expected | {"val/rouge1", "train/coverage_loss"} <= set(metrics)
    assert metrics["test/rouge1_multi"] >= metrics["test/rouge1"]  # best of 3 references
    ckpt = best_checkpoint(run_dir)
    assert ckpt.name.startswith("epoch00-step2-rouge1_")
    wandb_run = only(list((run_dir / "wandb").glob("offline-run-*")))
    table = only(
        list((wandb_run / "files" / "media" / "table" / "val").glob("samples_*.table.json"))
    )
    assert "#Person" in json.dumps(json.loads(table.read_text())["data"])  # dialogues in the table

    again = run(
        ["eval.py", f"ckpt_path={ckpt}", "trainer.limit_test_batches=1"], data_dir, tmp_path
    )
    assert again.returncode == 0, again.stderr[-3000:]
    eval_dir = only(list((tmp_path / "outputs" / "eval").glob("*/*")))  # never run_dir
    eval_metrics = json.loads((eval_dir / "metrics.json").read_text())
    for key in expected:
        assert eval_metrics[key] == pytest.approx(metrics[key], abs=1e-6)
    summaries = (eval_dir / "predictions" / "test.txt").read_text().splitlines()
    assert summaries == (run_dir / "predictions" / "test.txt").read_text().splitlines()
