"""Sweeps as a user runs them: a grid, an Optuna search that resumes, parallel local launchers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from tests.integration.test_cli import CLI_SMALL, only, run


def sweep_jobs(log_dir: Path) -> tuple[Path, list[Path]]:
    """The one sweep folder under log_dir and its job folders, in job order."""
    sweep_dir = only(list((log_dir / "multirun").glob("*/*")))
    jobs = sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return sweep_dir, jobs


def report(sweep_dir: Path, *options: str) -> subprocess.CompletedProcess:
    """`python -m encdec.report <sweep> [options]` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "encdec.report", str(sweep_dir), *options],
        capture_output=True,
        text=True,
        timeout=300,
    )


def wandb_group_and_name(job: Path) -> tuple[str, str]:
    wandb = yaml.safe_load((job / "config_resolved.yaml").read_text())["logger"]["wandb"]
    return wandb["group"], wandb["name"]


@pytest.mark.slow  # four CLI trainings (~20 s): make test-slow and CI run it
def test_grid_sweep_gives_one_folder_and_wandb_run_per_job_and_a_report(
    data_dir: Path, tmp_path: Path
) -> None:
    result = run(
        [
            "train.py",
            "-m",
            "rnn=lstm,gru",
            "attention=bahdanau,luong_general",
            *CLI_SMALL,
            "test=false",
        ],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir, jobs = sweep_jobs(tmp_path)
    assert [p.name for p in jobs] == ["0", "1", "2", "3"]
    runs = [wandb_group_and_name(job) for job in jobs]
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["val/bleu"] >= 0
        assert only(list((job / "wandb").glob("offline-run-*")))  # a run of its own, finished
    groups = {group for group, _ in runs}
    assert len(groups) == 1 and groups.pop() == "sweep-" + "-".join(sweep_dir.parts[-2:])
    expected = [(r, a) for r in ("lstm", "gru") for a in ("bahdanau", "luong_general")]
    for (_, name), (rnn, attention) in zip(runs, expected, strict=True):  # named after overrides
        assert {f"rnn={rnn}", f"attention={attention}"} <= set(name.split(","))

    summary = report(sweep_dir)
    assert summary.returncode == 0, summary.stderr[-3000:]
    rows = (sweep_dir / "report.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("job,rnn,attention,") and "val/bleu" in rows[0]
    bleus = [float(r.split(",")[rows[0].split(",").index("val/bleu")]) for r in rows[1:]]
    assert bleus == sorted(bleus, reverse=True)  # sorted by the objective
    assert summary.stdout.count("luong_general") == 2
    assert (sweep_dir / "report.png").stat().st_size > 10_000


def trial_values(storage: str, study_name: str) -> list[float | None]:
    study = optuna.load_study(study_name=study_name, storage=storage)
    return [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


@pytest.mark.slow  # two studies of trainings (~20 s); make test-slow and CI run it
def test_optuna_search_maximises_val_bleu_and_resumes_from_its_sqlite_study(
    data_dir: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    search = [
        "train.py",
        "hparams_search=optuna",
        *CLI_SMALL,  # model.hidden_dim=32 here fixes that parameter; lr, dropout, attention vary
        "logger=none",
        "test=false",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=small",
    ]
    first = run([*search, "hydra.sweeper.n_trials=3"], data_dir, tmp_path / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    sweep_dir, jobs = sweep_jobs(tmp_path / "first")
    assert len(jobs) == 3
    bleus = [json.loads((job / "metrics.json").read_text())["val/bleu"] for job in jobs]
    # The sweeper received each job's val/bleu (train.py's return value) ...
    assert trial_values(storage, "small") == pytest.approx(bleus)
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(bleus))
    # ... and the trials explored the search space of conf/hparams_search/optuna.yaml.
    overrides = [yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) for job in jobs]
    assert all(any(o.startswith("task.optimizer.lr=") for o in job) for job in overrides)
    assert all(any(o.startswith("attention=") for o in job) for job in overrides)
    assert len({o for job in overrides for o in job if o.startswith("model.dropout=")}) == 3

    # An interrupted search is rerun with the same command: the study continues from the database.
    again = run([*search, "hydra.sweeper.n_trials=1"], data_dir, tmp_path / "again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert trial_values(storage, "small")[:3] == pytest.approx(bleus)
    assert len(trial_values(storage, "small")) == 4


@pytest.mark.slow  # ~20 s per launcher; make test-slow and CI run it
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_local_launchers_run_a_two_job_sweep(
    launcher: str, data_dir: Path, tmp_path: Path
) -> None:
    result = run(
        ["train.py", "-m", f"hydra/launcher={launcher}", "rnn=lstm,gru", *CLI_SMALL, "test=false"],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir, jobs = sweep_jobs(tmp_path)
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["val/bleu"] >= 0
        assert only(list((job / "wandb").glob("offline-run-*")))
    names = sorted(wandb_group_and_name(job)[1] for job in jobs)  # named after its overrides
    assert "rnn=gru" in names[0] and "rnn=lstm" in names[1]
    if launcher == "submitit_local":  # submitit's own job folders: the same path as SLURM
        assert list((sweep_dir / ".submitit").glob("*/*_result.pkl"))


def test_a_sweep_over_the_architecture_runs_one_job_per_model(
    data_dir: Path, tmp_path: Path
) -> None:
    """-m model=seq2seq,transformer: the `model` group chooses the architecture, so a sweep
    compares the RNN and the Transformer on the same data, decoding and metrics."""
    result = run(
        ["train.py", "-m", "model=seq2seq,transformer", *CLI_SMALL, "trainer.max_steps=3"],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, jobs = sweep_jobs(tmp_path)
    targets = [
        yaml.safe_load((job / "config_resolved.yaml").read_text())["model"]["_target_"]
        for job in jobs
    ]
    assert targets == ["encdec.models.Seq2Seq", "encdec.models.TransformerSeq2Seq"]
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["test/bleu"] >= 0
