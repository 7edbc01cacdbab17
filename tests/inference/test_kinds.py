"""encdec.inference.kinds: the task kind is recorded in checkpoints and model files, and derived
from the saved config for files written before it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from encdec import build
from encdec.errors import CheckpointError
from encdec.inference.kinds import kind_of_config, recorded_kind, saved_kind
from tests.support.helpers import (
    QA_CKPT,
    SUMMARIZATION_CKPT,
    TRANSLATION_CKPT,
    TRANSLATION_MODEL,
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (TRANSLATION_CKPT, "translation"),
        (SUMMARIZATION_CKPT, "summarization"),
        (QA_CKPT, "qa"),
    ],
)
def test_old_checkpoints_get_their_kind_from_their_config(path: Path, kind: str) -> None:
    saved = torch.load(path, weights_only=True)["encdec"]
    assert "task_kind" not in saved  # written before the kind was recorded
    assert kind_of_config(saved["config"]) == kind
    assert build.load_checkpoint(path).kind == kind


def test_an_old_model_file_gets_its_kind_from_its_config() -> None:
    assert build.load_model_file(TRANSLATION_MODEL).kind == "translation"


def test_the_kind_of_a_config() -> None:
    assert kind_of_config({"task": {"_target_": "encdec.tasks.QATask"}}) == "qa"
    assert kind_of_config({"task": {"_target_": "encdec.tasks.RetrievalTask"}}) == "retrieval"
    seq2seq = {"_target_": "encdec.tasks.Seq2SeqTask"}
    assert kind_of_config({"task": {**seq2seq, "metric": "rouge"}}) == "summarization"
    assert kind_of_config({"task": {**seq2seq, "metric": "bleu"}}) == "translation"
    assert kind_of_config({"task": seq2seq}) == "translation"
    metric = {"_target_": "encdec.metrics.Rouge"}  # a metric object's config
    assert kind_of_config({"task": {**seq2seq, "metric": metric}}) == "summarization"
    # without Hydra running, the content decides
    assert recorded_kind({"task": {**seq2seq, "metric": "rouge"}}) == "summarization"


def test_a_recorded_kind_is_used_and_an_unknown_one_ignored() -> None:
    config = {"task": {"_target_": "encdec.tasks.Seq2SeqTask", "metric": "bleu"}}
    assert saved_kind({"task_kind": "summarization"}, config) == "summarization"
    assert saved_kind({"task_kind": "os.system"}, config) == "translation"
    assert saved_kind({}, config) == "translation"


def test_a_new_file_records_its_kind(summarizer_file: Path, tmp_path: Path) -> None:
    package = torch.load(summarizer_file, weights_only=True)
    assert package["task_kind"] == "summarization"
    assert package["config"]["data"]["_target_"].endswith("Seq2SeqDataModule")
    # written again from the loaded model, it keeps it
    again = build.write_model_file(build.load_model_file(summarizer_file).task, tmp_path / "a.pt")
    assert torch.load(again, weights_only=True)["task_kind"] == "summarization"


def test_a_kind_the_task_cannot_do_is_refused(tmp_path: Path) -> None:
    import encdec

    package = torch.load(TRANSLATION_MODEL, weights_only=True)
    path = tmp_path / "claims_qa.pt"
    torch.save({**package, "task_kind": "qa"}, path)
    with pytest.raises(CheckpointError, match="records the task kind 'qa'"):
        encdec.load(str(path))
