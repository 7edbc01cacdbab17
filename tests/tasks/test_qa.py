"""QA end to end on real SQuAD: the metric, overfitting a batch, short runs of every variant."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch
from torchmetrics.functional.text import squad

from encdec.cli.train import train
from tests.support.helpers import QA_SMALL, build_task, compose_train

RNNS = ["lstm", "gru", "rnn"]
ATTENTIONS = ["none", "bahdanau", "luong_dot", "luong_general", "luong_concat"]


def score(prediction: str, references: list[str]) -> dict[str, float]:
    result = squad(
        preds=[{"id": "q", "prediction_text": prediction}],
        target=[
            {"id": "q", "answers": {"text": references, "answer_start": [0] * len(references)}}
        ],
    )
    return {k: float(v) for k, v in result.items()}


@pytest.mark.parametrize(
    ("prediction", "references", "em", "f1"),
    [
        # The official normalisation: lower case, no punctuation, no articles, single spaces.
        ("the Denver Broncos!", ["Denver Broncos"], 100.0, 100.0),
        ("Denver", ["Denver Broncos"], 0.0, 100 * 2 * (1 * 0.5) / (1 + 0.5)),  # P=1, R=1/2
        # Max over references: the second reference matches exactly.
        ("Carolina Panthers", ["Denver Broncos", "Carolina  Panthers", "Panthers"], 100.0, 100.0),
        # Token multiset overlap: 2 common tokens, P=2/3, R=2/4.
        ("Santa Clara California", ["Levi's Stadium Santa Clara"], 0.0, 100 * 2 * (2 / 3 * 0.5) / (2 / 3 + 0.5)),
        ("February 7, 2016", ["February 7, 2016"], 100.0, 100.0),
    ],
)  # fmt: skip
def test_em_and_f1_follow_the_official_squad_script(
    prediction: str, references: list[str], em: float, f1: float
) -> None:
    result = score(prediction, references)
    assert result["exact_match"] == pytest.approx(em)
    assert result["f1"] == pytest.approx(f1, abs=1e-4)


def test_the_one_known_difference_from_the_official_script() -> None:
    """Prediction and reference both empty after normalisation (e.g. "." against "."): the v1.1
    script gives F1 0, torchmetrics (the v2.0 rule) 100. EM is 100 in both. Three dev questions
    have a "." reference, so this moves dev F1 by at most 3 / 10570 * 100 = 0.03 points."""
    assert score(".", [".", "renewal of hostilities"]) == {"exact_match": 100.0, "f1": 100.0}


@pytest.mark.parametrize(("rnn", "attention"), list(itertools.product(RNNS, ATTENTIONS)))
def test_two_training_steps_on_a_real_squad_slice(
    rnn: str, attention: str, tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train([*QA_SMALL, f"rnn={rnn}", f"attention={attention}", "test=false"], tmp_path)
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"]) and metrics["train/loss"] > 0
    assert 0.0 <= metrics["val/em"] <= metrics["val/f1"] <= 100.0
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2
    assert ckpt["encdec"]["config"]["model"]["rnn_type"] == rnn
    assert (tmp_path / "predictions" / "val-epoch00.json").is_file()


def test_a_tiny_reader_overfits_real_questions(tmp_path: Path, data_dir: Path, monkeypatch) -> None:
    """30 real SQuAD questions, memorised: every predicted span is the gold span."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    torch.manual_seed(0)
    cfg = compose_train(
        [*QA_SMALL, "model.embedding_dim=32", "model.hidden_dim=32", "model.dropout=0.0"], tmp_path
    )
    dm, task = build_task(cfg)
    net = task.net
    val = dm.datasets["val"]
    batch = val.collate([int(r) for r in val.rows[::2]])  # 30 questions
    assert len(set(batch.contexts)) > 1  # questions about several paragraphs
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        loss = task.loss(batch)
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    net.eval()
    answers = task.answer(batch)
    # The best a word-level reader can do: the words under the gold span. Two of these questions
    # ask for part of a word ("gold" of "golden", "2" of "2½"), so the ceiling is EM 28/30.
    gold = [
        context[offsets[s, 0] : offsets[e, 1]]
        for context, offsets, s, e in zip(
            batch.contexts, batch.offsets, batch.start.tolist(), batch.end.tolist(), strict=True
        )
    ]
    assert answers == gold, loss.item()
    result = squad(
        preds=[{"id": i, "prediction_text": a} for i, a in zip(batch.qids, answers, strict=True)],
        target=[{"id": i, "answers": r} for i, r in zip(batch.qids, batch.answers, strict=True)],
    )
    assert float(result["exact_match"]) == pytest.approx(100 * 28 / 30)
    assert float(result["f1"]) == pytest.approx(
        100 * 28 / 30
    )  # "golden" shares no token with "gold"
