"""upgrade_v3 rewrites a version-2 saved task node into the version-3 layout: the checkpoints
kept from before the change (tests/fixtures/legacy) come out in today's layout, and a config
already in it comes back equal."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from encdec import artifacts
from encdec.tasks.upgrade import upgrade_v3
from tests.support.behaviour_runs import LEGACY
from tests.support.helpers import compose_train


def saved_task(name: str) -> tuple[dict, dict]:
    """A kept checkpoint's task node as saved (version 1 or 2) and as upgraded to today's."""
    extras = artifacts.torch_load(LEGACY / f"{name}.ckpt", "Checkpoint")["encdec"]
    upgraded = artifacts.upgrade_config(extras["config"], extras.get("version", 1))
    return extras["config"]["task"], upgraded["task"]


@pytest.mark.parametrize(
    ("name", "metric", "monitor"),
    [
        (
            "translation_lstm_bahdanau",
            {"_target_": "encdec.metrics.Bleu", "tokenize": "13a"},
            "bleu",
        ),
        (
            "summarization_copy_coverage",
            {"_target_": "encdec.metrics.Rouge", "stemmer": True},
            "rouge1",
        ),
        ("qa", {"_target_": "encdec.metrics.SquadMetrics"}, "f1"),
    ],
)
def test_a_version_2_task_node_in_the_version_3_layout(
    name: str, metric: dict, monitor: str
) -> None:
    old, task = saved_task(name)
    assert task["metric"] == {**metric, "monitor": monitor}
    for gone in ("monitor", "scheduler_interval", "num_samples", "bleu_tokenize", "rouge_stemmer"):
        assert gone not in task
    if old.get("scheduler") is None:
        assert task["scheduler"] is None
    else:
        assert task["scheduler"] == {
            "_target_": "encdec.tasks.LRSchedule",
            "scheduler": old["scheduler"],
            "interval": old.get("scheduler_interval", "epoch"),
        }
    if name != "qa":
        assert task["loss"]["label_smoothing"] == old.get("label_smoothing", 0.0)
        assert task["loss"]["coverage_weight"] == old.get("coverage_loss_weight", 1.0)
        assert "label_smoothing" not in task and "coverage_loss_weight" not in task


@pytest.mark.parametrize("task", ["translation", "summarization", "qa"])
def test_a_version_3_config_comes_back_equal(task: str) -> None:
    config = OmegaConf.to_container(compose_train([f"task={task}"]).task)
    assert upgrade_v3({"task": config})["task"] == config
