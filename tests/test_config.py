"""Every config group composes, and every option builds the object it names."""

from __future__ import annotations

import itertools
from pathlib import Path

import lightning as L
import pytest
from hydra.utils import instantiate

from encdec.cli.common import CONF_DIR
from encdec.models import BahdanauAttention, LuongAttention, Seq2Seq, TransformerSeq2Seq
from tests.helpers import compose_train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


TASKS = options("task")
RNNS = [r for r in options("rnn") if r != "transformer"]  # the recurrent cells
ATTENTIONS = options("attention")


def test_groups_have_the_documented_options() -> None:
    assert TASKS == ["translation"]
    assert options("rnn") == ["gru", "lstm", "rnn", "transformer"]
    assert options("tokenizer") == ["bpe", "word"]
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


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_transformer_composes_with_every_attention_option(attention: str) -> None:
    """rnn=transformer builds the Transformer whatever `attention` says (it is ignored)."""
    cfg = compose_train(["rnn=transformer", f"attention={attention}"])
    net = instantiate(cfg.model, vocab_size=40, pad_id=0)
    assert isinstance(net, TransformerSeq2Seq)
    assert len(net.encoder.layers) == 3 and len(net.decoder.layers) == 3
    assert net.hidden_dim == 256 and net.decoder.layers[0].self_attn.num_heads == 4


def test_transformer_recipe_composes_and_builds() -> None:
    cfg = compose_train(["experiment=multi30k_en_de_transformer"])
    net = instantiate(cfg.model, vocab_size=8000, pad_id=0)
    assert isinstance(net, TransformerSeq2Seq)
    assert net.src_embedding is net.tgt_embedding and net.output.weight is net.src_embedding.weight
    assert cfg.data.tokenizer_type == "bpe" and cfg.data.vocab_size == 8000
    # The RNN recipe with rnn=transformer (the command) builds too.
    cfg = compose_train(["experiment=multi30k_en_de", "rnn=transformer"])
    assert isinstance(instantiate(cfg.model, vocab_size=8000, pad_id=0), TransformerSeq2Seq)


@pytest.mark.parametrize(
    ("overrides", "kind", "size"),
    [
        ([], "bpe", 8000),
        (["tokenizer=word"], "word", 16000),
        (["experiment=multi30k_en_de", "tokenizer=word"], "word", 16000),
        (["tokenizer=word", "data.vocab_size=500"], "word", 500),
    ],
)
def test_tokenizer_group(overrides: list[str], kind: str, size: int) -> None:
    cfg = compose_train(overrides)
    assert cfg.data.tokenizer_type == kind and cfg.data.vocab_size == size


def test_embedding_options_compose() -> None:
    cfg = compose_train(["model.embedding.pretrained=/v.bin", "model.embedding.freeze=true"])
    net = instantiate(cfg.model, vocab_size=40, pad_id=0)
    assert not net.encoder.embedding.weight.requires_grad
    assert net.decoder.rnn.weight_hh_l0.requires_grad


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
