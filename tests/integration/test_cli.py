"""The command line as a user types it: train, evaluate, sweep, and a bad data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from encdec.cli.common import ROOT
from tests.helpers import SMALL

# The CLI tests use the default logger (W&B, offline here) and the rich progress bar.
CLI_SMALL = [
    o for o in SMALL if not o.startswith(("logger=", "callbacks.", "trainer.enable_progress"))
]


def run(args: list[str], data_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "offline"}
    env.pop("WANDB_API_KEY", None)
    return subprocess.run(
        [sys.executable, *args, f"paths.log_dir={tmp_path}", f"paths.cache_dir={ROOT / '.cache'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def test_train_then_eval_reproduces_test_bleu(data_dir: Path, tmp_path: Path) -> None:
    result = run(["train.py", "task=translation", *CLI_SMALL], data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))  # outputs/<date>/<time>
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "config_resolved.yaml").is_file()
    assert (run_dir / "tokenizer.json").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    best = only([p for p in (run_dir / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"])
    assert only(list((run_dir / "wandb").glob("offline-run-*")))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"train/loss", "val/loss", "val/ppl", "val/bleu", "test/bleu"} <= set(metrics)
    assert "test/bleu" in result.stdout

    # The run above tested on limit_test_batches=1: score the same batch.
    evaluated = run(
        ["eval.py", f"ckpt_path={best}", "trainer.limit_test_batches=1"], data_dir, tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    eval_dir = only([p for p in (tmp_path / "outputs").glob("*/*") if p != run_dir])
    eval_metrics = json.loads((eval_dir / "metrics.json").read_text())
    assert eval_metrics["test/bleu"] == pytest.approx(metrics["test/bleu"], abs=1e-6)
    assert eval_metrics["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-5)


def test_multirun_sweep_gives_one_folder_and_wandb_run_per_job(
    data_dir: Path, tmp_path: Path
) -> None:
    result = run(
        [
            "train.py",
            "-m",
            "rnn=lstm,gru,rnn",
            "attention=none,bahdanau,luong_general",
            *CLI_SMALL,
            "test=false",
        ],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = only(list((tmp_path / "multirun").glob("*/*")))
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == [str(i) for i in range(9)]
    groups, names = set(), set()
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["val/bleu"] >= 0
        assert only(list((job / "wandb").glob("offline-run-*")))
        resolved = (job / "config_resolved.yaml").read_text()
        groups |= {
            line.split(":", 1)[1].strip()
            for line in resolved.splitlines()
            if line.strip().startswith("group:")
        }
        names |= {
            line.split(":", 1)[1].strip()
            for line in resolved.splitlines()
            if line.strip().startswith("name: ") and "=" in line
        }
    assert len(groups) == 1 and groups.pop().startswith("sweep-")
    assert len(names) == 9  # one W&B run per job, named after its overrides


def test_a_missing_data_folder_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    result = run(
        ["train.py", "paths.data_dir=/no/such/folder", "data.download_url=null"], data_dir, tmp_path
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "/no/such/folder/multi30k does not exist" in output
    assert "ENCDEC_DATA_DIR" in output
    assert "Traceback" not in output
