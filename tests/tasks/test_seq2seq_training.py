"""Real training on real Multi30k slices: short runs of every model variant, and overfitting."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import sacrebleu
import torch

from encdec.cli.train import train
from tests.support.helpers import SMALL, build_task, compose_train, overfit

RNNS = ["lstm", "gru", "rnn"]
ATTENTIONS = ["none", "bahdanau", "luong_dot", "luong_general", "luong_concat"]


@pytest.mark.parametrize(
    ("rnn", "attention"), [*itertools.product(RNNS, ATTENTIONS), ("transformer", None)]
)
def test_two_training_steps_on_a_real_slice(
    rnn: str, attention: str | None, tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    extra = (
        ["model.bidirectional=false"] if attention == "luong_dot" else []
    )  # dot needs equal sizes
    model = (
        ["model=transformer"] if rnn == "transformer" else [f"rnn={rnn}", f"attention={attention}"]
    )
    cfg = compose_train([*SMALL, *model, "test=false", *extra], tmp_path)
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"]) and metrics["train/loss"] > 0
    assert 0.0 <= metrics["val/bleu"] <= 100.0
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2
    model = ckpt["encdec"]["config"]["model"]
    assert model.get("rnn_type", "transformer") == rnn


@pytest.mark.parametrize("rnn", ["lstm", "transformer"])
def test_a_tiny_model_overfits_a_real_batch(
    rnn: str, tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    """16 real sentence pairs, memorised: loss near 0 and BLEU near 100 on them."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    torch.manual_seed(0)
    cfg = compose_train(
        [
            *SMALL,
            "model=transformer" if rnn == "transformer" else "rnn=lstm",
            "model.embedding_dim=64",
            "model.hidden_dim=128",
            "model.dropout=0.0",
        ],
        tmp_path,
    )
    dm, task = build_task(cfg, loss={"label_smoothing": 0.0})
    ds = dm.datasets["train"]
    examples = [ds[i] for i in range(16)]
    batch = dm.train_dataloader().collate_fn(examples)
    loss = overfit(task, batch, lr=3e-3)
    assert loss < 0.05
    hyps = task.translate(batch, beam_size=5)
    bleu = sacrebleu.corpus_bleu(hyps, [batch.tgt_text]).score
    assert bleu > 95, list(zip(hyps, batch.tgt_text, strict=True))


def test_last_checkpoint_follows_every_epoch(tmp_path: Path, data_dir: Path, monkeypatch) -> None:
    """last.ckpt is the latest state (for resuming), even when the epoch did not improve BLEU."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train(
        [*SMALL, "trainer.max_steps=-1", "trainer.max_epochs=3", "test=false"], tmp_path
    )
    train(cfg)
    checkpoints = tmp_path / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert last["global_step"] == 6 and last["epoch"] == 2
    assert len([p for p in checkpoints.glob("*.ckpt") if p.name != "last.ckpt"]) == 1  # the best
