"""`python train.py experiment=multi30k_en_de_transformer_tiny` as typed, cut to 3 updates:
the recipe composes, trains with its warm-up schedule, averages its snapshots at the end, tests
the averaged weights and logs both BLEU figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import only, run
from tests.support.helpers import SMALL, compose_train

#: SMALL's data and trainer limits around the recipe (its model is tiny already): 300 pairs, a
#: 500-token BPE, one training batch per epoch, so 3 updates are 3 epochs with a validation (and
#: a snapshot) after each.
LIMITS = [
    *(o for o in SMALL if o.startswith(("data.", "trainer.", "logger=", "callbacks."))),
    "trainer.max_steps=3",
    "trainer.limit_train_batches=1",
]


def test_the_recipe_is_wu_et_al_2021s_transformer_tiny() -> None:
    cfg = compose_train(["experiment=multi30k_en_de_transformer_tiny"])
    model = cfg.model
    assert model._target_ == "encdec.models.TransformerSeq2Seq"
    assert (model.encoder_layers, model.decoder_layers, model.hidden_dim) == (4, 4, 128)
    assert (model.embedding_dim, model.ff_dim, model.num_heads, model.dropout) == (128, 256, 4, 0.3)
    assert model.share_embeddings and model.tie_embeddings
    task = cfg.task
    assert task.loss.label_smoothing == 0.1 and task.decoding.beam_size == 5
    assert task.optimizer.lr == 5e-3 and list(task.optimizer.betas) == [0.9, 0.98]
    assert task.optimizer.weight_decay == 0.0  # AdamW without decay: Adam
    assert task.scheduler.scheduler._target_ == "encdec.schedules.InverseSqrt"
    assert task.scheduler.scheduler.warmup_updates == 2000 and task.scheduler.interval == "step"
    assert cfg.data.max_tokens == 4096 and cfg.trainer.max_steps == 8000
    assert cfg.callbacks.averaging.num == 10 and cfg.callbacks.averaging.every_n_train_steps is None


@pytest.mark.slow  # a CLI training whose untrained beam search runs to the length cap (~1-3 min)
def test_the_recipe_runs_as_typed_and_tests_the_average(data_dir: Path, tmp_path: Path) -> None:
    result = run(
        ["train.py", "experiment=multi30k_en_de_transformer_tiny", *LIMITS], data_dir, tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    checkpoints = run_dir / "checkpoints"
    snapshots = sorted(p.name for p in (checkpoints / "averaging").glob("*.ckpt"))
    assert snapshots == [f"step0000000{i}.ckpt" for i in (1, 2, 3)]
    assert (checkpoints / "averaged.ckpt").is_file()
    log = result.stdout + result.stderr
    assert "Testing the averaged weights (callbacks.averaging)" in log
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"val/bleu", "val/bleu_lc_tok", "test/bleu", "test/bleu_lc_tok"} <= set(metrics)
    record = json.loads((run_dir / "predictions" / "test.bleu.json").read_text())
    assert "lang=de" in record["bleu_lc_tok_settings"]
