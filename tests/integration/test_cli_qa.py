"""The QA task from the command line: train on a SQuAD slice, re-score the checkpoint, answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import best_checkpoint, only, run
from tests.support.helpers import QA_SMALL

CLI_QA = [o for o in QA_SMALL if not o.startswith(("callbacks.", "trainer.enable_progress"))]


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """`python train.py task=qa ...` once: (run folder, its metrics, the log folder)."""
    log_dir = tmp_path_factory.mktemp("cli_qa")
    result = run(["train.py", *CLI_QA, "trainer.limit_val_batches=2"], data_dir, log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((log_dir / "outputs").glob("*/*")))
    return run_dir, json.loads((run_dir / "metrics.json").read_text()), log_dir


def test_train_scores_and_writes_official_predictions(trained, data_dir: Path) -> None:
    run_dir, metrics, _ = trained
    assert {"train/loss", "val/em", "val/f1", "test/em", "test/f1", "test/loss"} <= set(metrics)
    assert best_checkpoint(run_dir).name.startswith("epoch00-step2-f1_")
    predictions = json.loads((run_dir / "predictions" / "test.json").read_text())
    dev = {}
    with (data_dir / "squad" / "validation.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            dev[row["id"]] = row["context"]
    assert predictions and all(answer in dev[qid] for qid, answer in predictions.items())
    assert (run_dir / "predictions" / "val-epoch00.json").is_file()


def test_eval_reproduces_the_figures(trained, data_dir: Path) -> None:
    run_dir, metrics, log_dir = trained
    result = run(
        ["eval.py", f"ckpt_path={best_checkpoint(run_dir)}", "trainer.limit_test_batches=1"],
        data_dir,
        log_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    eval_dir = only(list((log_dir / "outputs" / "eval").glob("*/*")))  # never run_dir
    scored = json.loads((eval_dir / "metrics.json").read_text())
    for key in ("test/em", "test/f1", "test/loss"):
        assert scored[key] == pytest.approx(metrics[key], abs=1e-4), key
    assert (eval_dir / "predictions" / "test.json").read_text() == (
        run_dir / "predictions" / "test.json"
    ).read_text()


@pytest.mark.slow  # a QA training (~25 s); test_predict_input covers QA lines in make test: make test-slow and CI run it
def test_predict_answers_questions_about_a_paragraph(
    trained, data_dir: Path, tmp_path: Path
) -> None:
    run_dir, _, log_dir = trained
    ckpt = best_checkpoint(run_dir)
    context = "Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara."
    one = run(
        # Hydra needs values with commas and quotes quoted: 'context="..."' in a shell.
        ["predict.py", f"ckpt_path={ckpt}", 'question="Where was Super Bowl 50 played?"',
         f'context="{context}"'],
        data_dir,
        log_dir,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    answer = one.stdout.strip()
    assert answer and answer in context

    lines = [
        {"id": "a", "context": context, "question": "When was Super Bowl 50?"},
        {"id": "b", "context": "The cat sat on the mat.", "question": "Where did the cat sit?"},
    ]
    source = tmp_path / "questions.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    target = tmp_path / "answers.jsonl"
    from_file = run(
        ["predict.py", f"ckpt_path={ckpt}", f"input={source}", f"output={target}"],
        data_dir,
        log_dir,
    )
    assert from_file.returncode == 0, from_file.stderr[-3000:]
    answers = [json.loads(x) for x in target.read_text(encoding="utf-8").splitlines()]
    assert [a["id"] for a in answers] == ["a", "b"]
    assert all(a["answer"] in x["context"] for a, x in zip(answers, lines, strict=True))

    typed = run(["predict.py", f"ckpt_path={ckpt}"], data_dir, log_dir, stdin=source.read_text())
    assert typed.returncode == 0, typed.stderr[-3000:]
    assert [json.loads(x) for x in typed.stdout.splitlines()] == answers

    # A line that cannot be answered gets an empty answer with its error; the others go on.
    bad = run(
        ["predict.py", f"ckpt_path={ckpt}"],
        data_dir,
        log_dir,
        stdin='{"question": "Why?"}\n' + source.read_text(),
    )
    assert bad.returncode == 0, bad.stderr[-3000:]
    assert 'stdin, line 1: "context" is missing' in bad.stderr
    assert "Traceback" not in bad.stderr
    first, *rest = [json.loads(x) for x in bad.stdout.splitlines()]
    assert first["answer"] == "" and '"context" is missing' in first["error"]
    assert rest == answers
