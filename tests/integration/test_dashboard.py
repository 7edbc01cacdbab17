"""What a run shows on W&B, read back from the offline run's files: metrics, images, tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.test_cli import CLI_SMALL, only, run
from tests.support.helpers import wandb_history_keys, wandb_records


def test_the_offline_wandb_run_holds_metrics_attention_images_tables_and_the_best_model(
    data_dir: Path, tmp_path: Path
) -> None:
    result = run(
        [
            "train.py",
            *CLI_SMALL,
            "trainer.log_every_n_steps=1",
            "logger.wandb.log_model=true",
            "callbacks.attention_plots.num_sentences=3",
        ],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    # Not logged in: offline, with one line that says how to upload.
    assert "W&B: not logged in, logging offline. Upload later with: wandb sync" in output
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    wandb_run = only(list((run_dir / "wandb").glob("offline-run-*")))

    keys = wandb_history_keys(wandb_run)
    assert {
        "train/loss",
        "train/tokens_per_sec",
        "train/grad_norm",
        "lr-AdamW",
        "val/loss",
        "val/ppl",
        "val/bleu",
        "test/loss",
        "test/bleu",
        "val/attention/filenames",
        "val/samples/path",
        "test/samples/path",
    } <= keys
    records = wandb_records(wandb_run)
    kinds = {r.WhichOneof("record_type") for r in records}
    assert {"config", "stats"} <= kinds  # the resolved config and system metrics
    config = {
        item.key: json.loads(item.value_json)
        for r in records
        if r.WhichOneof("record_type") == "config"
        for item in r.config.update
    }
    assert config["model"]["hidden_dim"] == 32 and config["task"]["metric"]["monitor"] == "bleu"

    # Attention heatmaps: one image per fixed validation sentence, captioned with its source.
    images = sorted((wandb_run / "files" / "media" / "images" / "val").glob("attention_*.png"))
    assert len(images) == 3
    width, height = Image.open(images[0]).size
    assert width > 300 and height > 200
    # The sample-prediction tables of validation and test.
    for stage in ("val", "test"):
        table = only(
            list((wandb_run / "files" / "media" / "table" / stage).glob("samples_*.table.json"))
        )
        content = json.loads(table.read_text())
        assert content["columns"] == ["source", "prediction", "reference"]
        assert len(content["data"]) > 0

    # log_model: the best checkpoint (not last.ckpt) is the model artifact, tagged "best".
    models = [
        r.artifact
        for r in records
        if r.WhichOneof("record_type") == "artifact" and r.artifact.type == "model"
    ]
    assert len(models) == 1 and "best" in models[0].aliases
    best = [p.name for p in (run_dir / "checkpoints").glob("epoch*.ckpt")]
    assert json.loads(models[0].metadata)["original_filename"] == only(best)


def test_wandb_mode_disabled_switches_wandb_off_cleanly(data_dir: Path, tmp_path: Path) -> None:
    result = run(["train.py", *CLI_SMALL, "test=false"], data_dir, tmp_path, wandb_mode="disabled")
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "wandb sync" not in output
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    assert not (run_dir / "wandb").exists()
    assert "val/bleu" in json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow  # two CLI trainings (~20 s): make test-slow and CI run it
def test_a_resumed_run_logs_to_the_same_wandb_run(data_dir: Path, tmp_path: Path) -> None:
    """Continuing a run (same run_name) must not split its dashboard over two W&B runs."""
    args = ["train.py", *CLI_SMALL, "run_name=continued", "test=false", "trainer.max_steps=-1"]
    first = run([*args, "trainer.max_epochs=1"], data_dir, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run([*args, "trainer.max_epochs=2"], data_dir, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    wandb_dir = tmp_path / "outputs" / "continued" / "wandb"
    runs = sorted(wandb_dir.glob("offline-run-*"))
    assert len(runs) == 2, runs  # one folder per process...
    run_ids = {r.name.rsplit("-", 1)[1] for r in runs}
    assert len(run_ids) == 1, runs  # ...both the same W&B run, which `wandb sync` joins
    assert f"W&B: continuing run {run_ids.pop()}" in second.stdout + second.stderr
    assert "val/loss" in wandb_history_keys(runs[1])
