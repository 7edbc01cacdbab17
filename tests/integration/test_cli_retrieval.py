"""task=retrieval from the command line, as typed: train on a SQuAD slice, the figures and the
best checkpoint named after val/mrr, then `encdec.load` on the checkpoint and its model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import encdec
from encdec import build
from tests.integration.test_cli import best_checkpoint, only, run
from tests.support.helpers import SMALL

CLI_RETRIEVAL = [
    "task=retrieval",
    *(o for o in SMALL if not o.startswith(("data.limit_train", "callbacks.", "trainer.enable_progress", "trainer.limit_val", "trainer.limit_test"))),
    "data.limit_train=300",
    "data.limit_eval=60",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """`python train.py task=retrieval ...` once: (run folder, its metrics)."""
    log_dir = tmp_path_factory.mktemp("cli_retrieval")
    result = run(["train.py", *CLI_RETRIEVAL], data_dir, log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((log_dir / "outputs").glob("*/*")))
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow  # a CLI training run (~ 40 s on 2 busy cores)
def test_train_ranks_the_dev_slice_and_saves_a_retriever(trained, tmp_path: Path) -> None:
    run_dir, metrics = trained
    figures = {f"{stage}/{name}" for stage in ("val", "test") for name in ("recall_1", "recall_5", "recall_20", "mrr")}  # fmt: skip
    assert figures <= set(metrics)
    # The first 60 dev questions were written on 12 paragraphs: recall@20 ranks them all.
    assert metrics["test/recall_20"] == 1.0 and 0 < metrics["test/recall_1"] <= 1
    ckpt = best_checkpoint(run_dir)
    assert ckpt.name.startswith("epoch00-step2-mrr_")
    for path in (ckpt, build.export_model(ckpt, tmp_path / "retriever.pt")):
        model = encdec.load(path)
        assert model.kind == "retrieval"
        passages = ["Denver won Super Bowl 50.", "Cats sit on mats.", "Paris is in France."]
        hits = model.search("Who won Super Bowl 50?", passages, k=2)
        assert [h.text for h in hits] == [passages[h.number] for h in hits] and len(hits) == 2
        assert hits[0].score >= hits[1].score
        assert model.encode_questions(["a", "b c"]).shape == (2, model.describe()["dim"])
        # encode, as every predictor: the passage side by default, batched == one by one
        vectors = model.encode(passages, batch_size=2)
        assert torch.allclose(vectors, model.encode(passages, batch_size=1), atol=1e-5)
        assert np.allclose(vectors.numpy(), model.encode_passages(passages), atol=1e-5)
        questions = model.encode(["a", "b c"], side="question")
        assert np.allclose(questions.numpy(), model.encode_questions(["a", "b c"]), atol=1e-5)
