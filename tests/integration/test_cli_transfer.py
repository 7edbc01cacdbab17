"""`python train.py task=qa init.encoder_from=<ckpt>` as a user types it: the translation model's
encoder starts the QA reader (frozen throughout here, so the trained reader still holds it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from encdec import build
from tests.integration.test_cli import best_checkpoint, only, run
from tests.integration.test_cli_qa import CLI_QA
from tests.support.helpers import TRANSLATION_CKPT

#: Subprocess runs of the CLI or the server: `make test-slow`.
pytestmark = pytest.mark.slow

#: The reader in the source encoder's shape (16-dim embedding, 1 layer of 16 units each way).
FITS = ["model.hidden_dim=16", "model.num_layers=1"]


def test_train_qa_from_a_translation_encoder(data_dir: Path, tmp_path: Path) -> None:
    args = [
        "train.py",
        *CLI_QA,
        f"init.encoder_from={TRANSLATION_CKPT}",
        "init.freeze_encoder_steps=-1",
        *FITS,
    ]
    result = run(args, data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    reader = build.load_checkpoint(best_checkpoint(run_dir)).task
    source = build.load_checkpoint(TRANSLATION_CKPT).task
    assert reader.tokenizer.to_str() == source.tokenizer.to_str()
    enc = source.net.encoder
    assert torch.equal(reader.net.embedding.weight, enc.embedding.weight)
    for name, weight in enc.rnn.named_parameters():
        assert torch.equal(getattr(reader.net.question_encoder.rnn, name), weight), name
    assert (run_dir / "metrics.json").is_file()  # trained and tested as any run


def test_an_encoder_that_does_not_fit_stops_with_one_line(data_dir: Path, tmp_path: Path) -> None:
    result = run(["train.py", *CLI_QA, f"init.encoder_from={TRANSLATION_CKPT}"], data_dir, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    (line,) = [x for x in output.splitlines() if "init.encoder_from=" in x]
    assert "passage_encoder.rnn.weight_ih_l0 is (64, 16) in the source and (128, 34) here" in line
    assert "model.hidden_dim=16 model.num_layers=1" in line
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("*.ckpt"))
