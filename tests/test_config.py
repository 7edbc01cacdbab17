"""Every config group composes, and every option builds the object it names."""

from __future__ import annotations

import itertools
from pathlib import Path

import lightning as L
import pytest
from hydra.utils import instantiate

from encdec.cli.common import CONF_DIR
from encdec.models import BahdanauAttention, LuongAttention, Seq2Seq
from tests.helpers import compose_train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


TASKS = options("task")
RNNS = options("rnn")
ATTENTIONS = options("attention")


def test_groups_have_the_documented_options() -> None:
    assert TASKS == ["summarization", "translation"]
    assert RNNS == ["gru", "lstm", "rnn"]
    assert ATTENTIONS == ["bahdanau", "luong_concat", "luong_dot", "luong_general", "none"]
    assert {"cpu", "gpu", "ddp"} <= set(options("hardware"))
    assert options("logger") == ["csv", "none", "tensorboard", "wandb"]
    assert options("debug") == ["fast_dev_run", "limit", "overfit"]


@pytest.mark.parametrize(
    ("task", "rnn", "attention"), list(itertools.product(TASKS, RNNS, ATTENTIONS))
)
def test_task_rnn_attention_compose_and_build(task: str, rnn: str, attention: str) -> None:
    cfg = compose_train([f"task={task}", f"rnn={rnn}", f"attention={attention}"])
    assert cfg.model.rnn_type == rnn
    net = instantiate(cfg.model, vocab_size=40, pad_id=0)
    assert isinstance(net, Seq2Seq)
    assert net.encoder.rnn_type == rnn and net.decoder.rnn_type == rnn
    expected = {
        "none": type(None),
        "bahdanau": BahdanauAttention,
        "luong_dot": LuongAttention,
        "luong_general": LuongAttention,
        "luong_concat": LuongAttention,
    }[attention]
    assert isinstance(net.decoder.attention, expected)
    if attention.startswith("luong_"):
        assert net.decoder.attention.score_name == attention.removeprefix("luong_")


@pytest.mark.parametrize("logger", options("logger"))
def test_logger_options_build(logger: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cfg = compose_train([f"logger={logger}"], output_dir=tmp_path)
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    assert len(loggers) == (0 if logger == "none" else 1)


@pytest.mark.parametrize("hardware", options("hardware"))
def test_hardware_options_compose(hardware: str) -> None:
    cfg = compose_train([f"hardware={hardware}"])
    assert cfg.trainer.accelerator in {"cpu", "gpu"}
    if hardware == "cpu":
        trainer = instantiate(
            cfg.trainer, logger=False, enable_checkpointing=False, default_root_dir="/tmp"
        )
        assert isinstance(trainer, L.Trainer)


@pytest.mark.parametrize("debug", options("debug"))
def test_debug_options_compose(debug: str) -> None:
    cfg = compose_train([f"debug={debug}"])
    assert (
        cfg.trainer.fast_dev_run or cfg.trainer.overfit_batches or cfg.trainer.limit_train_batches
    )


def test_callbacks_and_task_build(tmp_path: Path) -> None:
    cfg = compose_train([], output_dir=tmp_path)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    assert {type(c).__name__ for c in callbacks} >= {
        "ModelCheckpoint",
        "LearningRateMonitor",
        "SampleTable",
    }
    assert cfg.optimized_metric == "val/bleu"


def test_experiment_recipe_composes() -> None:
    cfg = compose_train(["experiment=multi30k_en_de"])
    assert cfg.model.rnn_type == "lstm"
    assert cfg.model.attention._target_.endswith("BahdanauAttention")
    assert cfg.data.src_lang == "en" and cfg.data.tgt_lang == "de"


def test_command_line_overrides_win_over_the_recipe() -> None:
    cfg = compose_train(["experiment=multi30k_en_de", "rnn=gru", "attention=luong_general"])
    assert cfg.model.rnn_type == "gru"
    assert cfg.model.attention.score == "general"


def test_data_dir_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", "/some/where")
    cfg = compose_train([])
    assert cfg.data.data_dir == "/some/where/multi30k"


def test_summarization_recipe_turns_on_copy_and_coverage() -> None:
    cfg = compose_train(["experiment=dialogsum_pointer_generator"])
    assert cfg.model.copy and cfg.model.coverage and cfg.data.copy_oov  # copy ids follow the model
    assert cfg.task.metric == "rouge" and cfg.optimized_metric == "val/rouge1"
    assert (
        cfg.callbacks.model_checkpoint.filename
        == "epoch{epoch:02d}-step{step}-rouge{val/rouge1:.2f}"
    )
    net = instantiate(cfg.model, vocab_size=40, pad_id=0)
    assert net.copy and net.decoder.generate_gate is not None
    assert net.decoder.attention.additive.coverage_layer is not None
    plain = compose_train(["experiment=dialogsum_pointer_generator", "model.copy=false"])
    assert not plain.data.copy_oov


def test_summarization_data_reads_dialogsum(monkeypatch) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", "/some/where")
    cfg = compose_train(["task=summarization"])
    assert cfg.data._target_.endswith("DialogSumDataModule")
    assert cfg.data.data_dir == "/some/where/dialogsum"
