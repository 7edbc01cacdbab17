"""Summarization on real DialogSum slices: short runs of every model variant, and overfitting."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from encdec.cli.train import train
from encdec.metrics import rouge_f1
from tests.support.helpers import SMALL, build_task, compose_train, overfit
from tests.tasks.test_seq2seq_training import ATTENTIONS, RNNS

#: task=summarization, short dialogues and summaries, copy + coverage on.
SUMMARY = [
    "task=summarization",
    *SMALL,
    "data.max_src_len=120",
    "task.decoding.max_len_cap=20",
    "task.decoding.min_length=2",
    "model.copy=true",
    "model.coverage=true",
]


@pytest.mark.parametrize(("rnn", "attention"), list(itertools.product(RNNS, ATTENTIONS)))
def test_two_summarization_steps_on_a_real_slice(
    rnn: str, attention: str, tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    extra = ["model.bidirectional=false"] if attention == "luong_dot" else []
    if attention == "none":  # copy and coverage act on attention weights
        extra += ["model.copy=false", "model.coverage=false"]
    cfg = compose_train(
        [*SUMMARY, f"rnn={rnn}", f"attention={attention}", "test=false", *extra], tmp_path
    )
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"]) and metrics["train/loss"] > 0
    assert 0.0 <= metrics["val/rouge1"] <= 100.0
    assert ("train/coverage_loss" in metrics) == (attention != "none")
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 2


def test_a_tiny_pointer_generator_overfits_real_dialogues(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    """8 real dialogues and their summaries, memorised: ROUGE-L near 100 on them."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    torch.manual_seed(0)
    cfg = compose_train(
        [
            *SUMMARY,
            "data.max_src_len=60",
            "model.embedding_dim=32",
            "model.hidden_dim=64",
            "model.dropout=0.0",
        ],
        tmp_path,
    )
    dm, task = build_task(cfg, decoding={"min_length": 0, "no_repeat_ngram_size": 0})
    ds = dm.datasets["train"]
    short = [i for i in range(len(ds)) if len(ds[i].tgt_ids) <= 18][:8]
    batch = dm.train_dataloader().collate_fn([ds[i] for i in short])
    loss = overfit(task, batch, lr=5e-3)
    assert loss < 0.05
    hyps = task.translate(batch, beam_size=2)
    assert rouge_f1(hyps, [[t] for t in batch.tgt_text])["rougeL"] > 95, list(
        zip(hyps, batch.tgt_text, strict=True)
    )
