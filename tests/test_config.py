"""Every config group composes, and every option builds the object it names."""

from __future__ import annotations

import itertools
from pathlib import Path

import lightning as L
import pytest
from hydra.utils import instantiate

from encdec.cli.common import CONF_DIR
from encdec.models import BahdanauAttention, DocumentReader, LuongAttention, Seq2Seq
from tests.helpers import compose_train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


TASKS = options("task")
RNNS = options("rnn")
ATTENTIONS = options("attention")


def test_groups_have_the_documented_options() -> None:
    assert TASKS == ["qa", "translation"]
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
    if task == "qa":  # the reader aligns passage with question by the configured attention
        assert isinstance(net, DocumentReader)
        assert net.passage_encoder.rnn_type == rnn and net.question_encoder.rnn_type == rnn
        attention_module = net.align
    else:
        assert isinstance(net, Seq2Seq)
        assert net.encoder.rnn_type == rnn and net.decoder.rnn_type == rnn
        attention_module = net.decoder.attention
    expected = {
        "none": type(None),
        "bahdanau": BahdanauAttention,
        "luong_dot": LuongAttention,
        "luong_general": LuongAttention,
        "luong_concat": LuongAttention,
    }[attention]
    assert isinstance(attention_module, expected)
    if attention.startswith("luong_"):
        assert attention_module.score_name == attention.removeprefix("luong_")


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


def test_qa_recipe_composes(tmp_path: Path) -> None:
    cfg = compose_train(["experiment=squad_reader"], output_dir=tmp_path)
    assert cfg.task._target_ == "encdec.tasks.QATask" and cfg.model.rnn_type == "lstm"
    assert cfg.optimized_metric == cfg.callbacks.model_checkpoint.monitor == "val/f1"
    assert cfg.callbacks.model_checkpoint.filename.endswith("f1{val/f1:.2f}")
    assert cfg.data.data_dir.endswith("/squad")


def test_command_line_overrides_win_over_the_recipe() -> None:
    cfg = compose_train(["experiment=multi30k_en_de", "rnn=gru", "attention=luong_general"])
    assert cfg.model.rnn_type == "gru"
    assert cfg.model.attention.score == "general"


def test_data_dir_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", "/some/where")
    cfg = compose_train([])
    assert cfg.data.data_dir == "/some/where/multi30k"
