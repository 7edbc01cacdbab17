"""Every config group composes, and every option builds the object it names."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger

from encdec import build, trust
from encdec.callbacks import SampleTable
from encdec.cli.common import CONF_DIR, ROOT
from encdec.cli.renamed import renamed_message
from encdec.data.tokenization import placeholder_tokenizer
from encdec.errors import ConfigError
from encdec.models import (
    BahdanauAttention,
    DocumentReader,
    LuongAttention,
    Seq2Seq,
    TransformerSeq2Seq,
)
from encdec.tasks import LRSchedule
from tests.support.helpers import compose_train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


def build_net(model):
    """The network of a model config, on a placeholder vocabulary (as build.check_config does)."""
    return build.build_network(model, placeholder_tokenizer())


TASKS = options("task")
RNNS = options("rnn")  # the recurrent cells
ATTENTIONS = options("attention")


def test_groups_have_the_documented_options() -> None:
    assert TASKS == ["qa", "retrieval", "summarization", "translation"]
    assert options("preset") == TASKS  # what each task starts with
    assert options("model") == ["reader", "retriever", "seq2seq", "transformer"]
    assert RNNS == ["gru", "lstm", "rnn"]
    assert options("tokenizer") == ["bpe", "lower_word", "word"]
    assert ATTENTIONS == ["bahdanau", "luong_concat", "luong_dot", "luong_general", "none"]
    assert {"cpu", "gpu", "ddp", "ddp_cpu", "multinode"} <= set(options("hardware"))
    assert options("logger") == ["csv", "none", "tensorboard", "wandb"]
    assert options("debug") == ["fast_dev_run", "limit", "overfit"]
    assert options("scheduler") == ["cosine", "inverse_sqrt", "none", "plateau"]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("scheduler", options("scheduler"))
def test_scheduler_options_build(task: str, scheduler: str) -> None:
    """Every task takes every schedule; cosine spans the run's epochs; inverse_sqrt steps
    after every optimizer step."""
    cfg = compose_train([f"task={task}", f"scheduler={scheduler}", "trainer.max_epochs=7"])
    if scheduler == "none":
        assert cfg.task.scheduler is None
        return
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = instantiate(cfg.task.scheduler)  # one node: the factory and its interval
    interval = "step" if scheduler == "inverse_sqrt" else "epoch"
    assert isinstance(schedule, LRSchedule) and schedule.interval == interval
    built = schedule.scheduler(optimizer=optimizer)
    expected = {
        "plateau": "ReduceLROnPlateau",
        "cosine": "CosineAnnealingLR",
        "inverse_sqrt": "InverseSqrt",
    }[scheduler]
    assert type(built).__name__ == expected
    if scheduler == "cosine":
        assert built.T_max == 7


#: The tasks whose networks attend (the retriever's two encoders do not: its own test below).
ATTENDING = [t for t in TASKS if t != "retrieval"]


@pytest.mark.parametrize(
    ("task", "rnn", "attention"), list(itertools.product(ATTENDING, RNNS, ATTENTIONS))
)
def test_task_rnn_attention_compose_and_build(task: str, rnn: str, attention: str) -> None:
    cfg = compose_train([f"task={task}", f"rnn={rnn}", f"attention={attention}"])
    assert cfg.model.rnn_type == rnn
    net = build_net(cfg.model)
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


@pytest.mark.parametrize("rnn", RNNS)
def test_the_retriever_takes_every_cell_and_no_attention(rnn: str) -> None:
    net = build_net(compose_train(["task=retrieval", f"rnn={rnn}"]).model)
    assert net.question_encoder.rnn_type == rnn and net.passage_encoder.rnn_type == rnn
    with pytest.raises(ConfigError, match="model.attention: not an option of"):
        trust.check_options(compose_train(["task=retrieval", "attention=bahdanau"]).model, "model")


@pytest.mark.parametrize("task", ["translation", "summarization"])
def test_the_transformer_takes_no_rnn_or_attention(task: str) -> None:
    """model=transformer: no rnn_type / attention in its config; giving one is refused by name."""
    cfg = compose_train([f"task={task}", "model=transformer"])
    assert "rnn_type" not in cfg.model and "attention" not in cfg.model
    net = build_net(cfg.model)
    assert isinstance(net, TransformerSeq2Seq)
    assert len(net.encoder.layers) == 3 and len(net.decoder.layers) == 3
    assert net.hidden_dim == 256 and net.decoder.layers[0].self_attn.num_heads == 4
    for override in ("rnn=gru", "attention=luong_general", "+model.bidirectional=true"):
        bad = compose_train([f"task={task}", "model=transformer", override])
        with pytest.raises(
            ConfigError, match=r"model\.(rnn_type|attention|bidirectional).*not an option"
        ):
            build.check_config(bad)


def test_the_reader_belongs_to_qa_only() -> None:
    with pytest.raises(ConfigError, match="model=reader"):
        build.check_config(compose_train(["task=qa", "model=transformer"]))


def test_transformer_recipe_composes_and_builds() -> None:
    cfg = compose_train(["experiment=multi30k_en_de_transformer"])
    net = build_net(cfg.model)
    assert isinstance(net, TransformerSeq2Seq)
    assert net.src_embedding is net.tgt_embedding and net.output.weight is net.src_embedding.weight
    assert cfg.data.tokenizer.kind == "bpe" and cfg.data.tokenizer.vocab_size == 8000
    # The RNN recipe's RNN options do not fit the Transformer: refused, naming them.
    cfg = compose_train(["experiment=multi30k_en_de", "model=transformer"])
    with pytest.raises(ConfigError, match=r"model\.rnn_type.*not an option of"):
        build.check_config(cfg)


@pytest.mark.parametrize(
    ("overrides", "kind", "size"),
    [
        ([], "bpe", 8000),
        (["tokenizer=word"], "word", 16000),
        (["experiment=multi30k_en_de", "tokenizer=word"], "word", 16000),
        (["tokenizer=word", "data.tokenizer.vocab_size=500"], "word", 500),
    ],
)
def test_tokenizer_group(overrides: list[str], kind: str, size: int) -> None:
    cfg = compose_train(overrides)
    assert cfg.data.tokenizer.kind == kind and cfg.data.tokenizer.vocab_size == size


def test_embedding_options_compose() -> None:
    cfg = compose_train(["embeddings.vectors=/v.bin", "model.freeze_embeddings=true"])
    assert cfg.embeddings.vectors == "/v.bin"
    net = build_net(cfg.model)
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
    assert cfg.data.source.src_lang == "en" and cfg.data.source.tgt_lang == "de"
    assert cfg.model.encoder_layers == 2  # the layout behind the README's test BLEU
    assert cfg.callbacks.averaging.num == 8  # the test scores the last 8 epochs' mean


def test_qa_recipe_composes(tmp_path: Path) -> None:
    cfg = compose_train(["experiment=squad_reader"], output_dir=tmp_path)
    assert cfg.task._target_ == "encdec.tasks.QATask" and cfg.model.rnn_type == "lstm"
    assert cfg.optimized_metric == cfg.callbacks.model_checkpoint.monitor == "val/f1"

    assert cfg.data.data_dir.endswith("/squad")
    assert cfg.task.scheduler.scheduler._target_.endswith("CosineAnnealingLR")
    assert cfg.task.scheduler.scheduler.T_max == cfg.trainer.max_epochs == 9
    assert cfg.embeddings.word2vec.min_count == 3 and cfg.embeddings.vectors is None


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
    assert cfg.task.metric._target_ == "encdec.metrics.Rouge"
    assert cfg.optimized_metric == "val/rouge1"
    assert cfg.model.encoder_layers == 2
    assert "CosineAnnealingLR" in cfg.task.scheduler.scheduler._target_
    net = build_net(cfg.model)
    assert net.copy and net.decoder.generate_gate is not None
    assert net.decoder.attention.additive.coverage_layer is not None
    plain = compose_train(["experiment=dialogsum_pointer_generator", "model.copy=false"])
    assert not plain.data.copy_oov


def test_summarization_data_reads_dialogsum(monkeypatch) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", "/some/where")
    cfg = compose_train(["task=summarization"])
    assert cfg.data.source.fallback.name == "knkarthick/dialogsum"
    assert cfg.data.data_dir == "/some/where/dialogsum"


def test_hardware_and_throughput_options_compose(tmp_path: Path) -> None:
    """ddp_cpu, the multi-node SLURM setup and the throughput knobs a user sets from the CLI."""
    ddp = compose_train(["hardware=ddp_cpu"]).trainer
    assert (ddp.accelerator, ddp.devices, ddp.strategy.process_group_backend) == ("cpu", 2, "gloo")
    assert compose_train(["hardware=gpu"]).trainer.precision == "bf16-mixed"
    knobs = compose_train(
        [
            "trainer.precision=bf16-mixed",
            "trainer.accumulate_grad_batches=4",
            "data.num_workers=2",
            "trainer.deterministic=true",
            "task.compile=true",
        ],
        tmp_path,
    )
    assert knobs.trainer.deterministic is True  # (a Trainer would switch it on process-wide)
    trainer = instantiate(knobs.trainer, deterministic=False, logger=False)
    assert trainer.accumulate_grad_batches == 4 and trainer.precision == "bf16-mixed"
    assert instantiate(knobs.data).num_workers == 2
    task = build.build_task(knobs.task, build_net(knobs.model), placeholder_tokenizer())
    task.setup("fit")  # compiled when training starts, as the Lightning-Hydra template does
    assert task.net._compiled_call_impl is not None
    plain = build.build_task(
        compose_train([]).task, build_net(knobs.model), placeholder_tokenizer()
    )
    plain.setup("fit")
    assert plain.net._compiled_call_impl is None
    assert task.state_dict().keys() == plain.state_dict().keys()  # checkpoints load either way


def test_the_docs_multinode_command_submits_one_slurm_task_per_gpu() -> None:
    readme = (ROOT / "docs" / "training.md").read_text()
    start = readme.index("python train.py -m hardware=multinode")
    command = readme[start : readme.index("\n```", start)].replace("\\\n", " ").split()
    assert command[:3] == ["python", "train.py", "-m"]
    overrides = [o.replace("<partition>", "gpu") for o in command[3:]]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    launcher, trainer = cfg.hydra.launcher, cfg.trainer
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 8, 8)
    assert launcher.partition == "gpu"
    assert (trainer.strategy, trainer.num_nodes, trainer.devices) == ("ddp", 2, 8)
    assert (trainer.accelerator, trainer.precision) == ("gpu", "bf16-mixed")


def test_optuna_search_space_and_sqlite_storage() -> None:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            config_name="train", overrides=["hparams_search=optuna"], return_hydra_config=True
        )
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert sweeper.storage.startswith("sqlite:///") and cfg.optimized_metric == "val/bleu"
    assert set(sweeper.params) == {
        "task.optimizer.lr",
        "model.hidden_dim",
        "model.dropout",
        "attention",
    }


def test_copy_and_coverage_with_the_transformer_are_a_clear_error() -> None:
    cfg = compose_train(["task=summarization", "model=transformer"])
    assert "copy" not in cfg.model  # copy / coverage are options of the RNN model
    bad = compose_train(["task=summarization", "model=transformer", "+model.copy=true"])
    with pytest.raises(ConfigError, match=r"model\.copy: not an option of .*TransformerSeq2Seq"):
        build.check_config(bad)
    plain = compose_train(["task=summarization", "model=transformer"])
    assert build_net(plain.model).hidden_dim == 256


def test_copy_without_attention_is_refused_before_training() -> None:
    cfg = compose_train(
        ["task=summarization", "model.copy=true", "model.coverage=true", "attention=none"]
    )
    with pytest.raises(ConfigError, match="model.copy=false model.coverage=false"):
        build.check_config(cfg)
    build.check_config(compose_train(["experiment=dialogsum_pointer_generator"]))


def test_every_target_in_the_config_is_on_the_allowlist() -> None:
    """Checkpoints of every config this project ships load: no legitimate target is refused."""
    targets = {
        line.split(":", 1)[1].split("#")[0].strip()
        for path in Path(CONF_DIR).rglob("*.yaml")
        for line in path.read_text().splitlines()
        if line.strip().startswith("_target_:")
    }
    assert targets and all(trust.allowed_target(t) for t in targets), sorted(
        t for t in targets if not trust.allowed_target(t)
    )
    assert not trust.allowed_target("os.system")
    assert not trust.allowed_target("torch.optim.lr_scheduler.LambdaLR")  # takes a function
    assert trust.allowed_target("torch.optim.SGD")


@pytest.mark.parametrize(
    ("task", "monitor"), [("translation", "bleu"), ("summarization", "rouge1"), ("qa", "f1")]
)
def test_the_monitor_is_a_figure_of_the_tasks_metric(task: str, monitor: str, tmp_path) -> None:
    cfg = compose_train([f"task={task}"], tmp_path)
    assert cfg.optimized_metric == cfg.callbacks.model_checkpoint.monitor == f"val/{monitor}"
    net = build_net(cfg.model)
    assert build.build_task(cfg.task, net, placeholder_tokenizer()).monitor == f"val/{monitor}"
    other = compose_train([f"task={task}", "task.metric.monitor=nonsense"])
    with pytest.raises(ConfigError, match=r"^task\.metric\.monitor='nonsense': .* choose one"):
        build.check_config(other)


@pytest.mark.parametrize(
    ("typed", "now"),
    [
        ("task.label_smoothing=0.0", "task.loss.label_smoothing=..."),
        ("task.coverage_loss_weight=2", "task.loss.coverage_weight=..."),
        ("task.bleu_tokenize=zh", "task.metric.tokenize=..."),
        ("task.rouge_stemmer=false", "task.metric.stemmer=..."),
        ("task.monitor=val/rouge2", "task.metric.monitor=rouge2"),
        ("task.scheduler_interval=step", "task.scheduler.interval=..."),
        ("task.num_samples=4", "callbacks.samples.num_samples=..."),
    ],
)
def test_options_moved_in_version_3_name_their_new_place(typed: str, now: str) -> None:
    """An old spelling stops with one line naming the new one; the new one composes and builds."""
    message = renamed_message(typed)
    assert message and "\n" not in message and f"write {now}" in message
    value = typed.split("=", 1)[1]
    value = "rouge2" if now.startswith("task.metric.monitor") else value
    task = "summarization" if "rouge" in typed or "coverage" in typed else "translation"
    build.check_config(compose_train([f"task={task}", f"{now.split('=')[0]}={value}"]))


def test_the_sample_table_logs_its_own_number_of_rows(monkeypatch) -> None:
    logged: list = []
    monkeypatch.setattr(WandbLogger, "__init__", lambda self: None)
    monkeypatch.setattr(WandbLogger, "log_table", lambda self, **kw: logged.append(kw["data"]))
    trainer = SimpleNamespace(sanity_checking=False, loggers=[WandbLogger()], global_step=3)
    module = SimpleNamespace(samples=[[str(i), "p", "r"] for i in range(20)])
    SampleTable(num_samples=5).on_validation_end(trainer, module)
    assert logged == [[[str(i), "p", "r"] for i in range(5)]]
