"""Shared helpers for tests: composing the real config with small, fast settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf, open_dict

from encdec.cli.common import CONF_DIR, ROOT

#: Overrides that keep a real run tiny: a 300-pair slice of the real corpus and a small model.
SMALL = [
    "data.limit_train=300",
    "data.tokenizer.vocab_size=500",
    "data.max_tokens=1024",
    "model.embedding_dim=16",
    "model.hidden_dim=32",
    "trainer.max_steps=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "logger=none",
]

#: SMALL for the QA task: real slices of SQuAD (300 training, 60 evaluation questions).
QA_SMALL = [
    "task=qa",
    *(o for o in SMALL if not o.startswith(("data.limit_train", "data.max_tokens"))),
    "data.limit_train=300",
    "data.limit_eval=60",
    "data.max_tokens=2000",
]


def compose_train(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """Compose conf/train.yaml as `python train.py <overrides>` would (without running Hydra)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
            cfg.paths.cache_dir = str(ROOT / ".cache")
    return cfg


def build_task(cfg: DictConfig, **task_options):
    """The prepared DataModule and the task (with its network) that `cfg` describes, built as
    train.py builds them (encdec.build.assemble); `task_options` change task.* first."""
    from encdec import build

    if task_options:
        with open_dict(cfg):
            cfg.task = OmegaConf.merge(cfg.task, task_options)
    parts = build.assemble(cfg)
    parts.datamodule.setup()
    return parts.datamodule, parts.task


def overfit(task, batch, steps: int = 300, lr: float = 3e-3) -> float:
    """Train `task` on one batch until its loss is below 0.01 (or `steps` run out); the last loss."""
    import torch

    optimizer = torch.optim.Adam(task.net.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = task.loss(batch, 0.0).cross_entropy
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    task.net.eval()
    return loss.item()


def wandb_records(run_dir: Path) -> list:
    """The records (protobuf `Record`s) an offline W&B run wrote to its `run-<id>.wandb` file.

    wandb no longer ships a Python reader for this file (its Go core writes it), so this follows
    the format: a 7-byte header, then 32 KiB blocks of chunks `crc32 (4) | length (2, little
    endian) | type (1) | data`, type 1 a whole record, 2/3/4 its first/middle/last piece.
    """
    from wandb.proto.wandb_internal_pb2 import Record

    (path,) = run_dir.glob("run-*.wandb")
    data, block = path.read_bytes(), 32 * 1024
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def wandb_history_keys(run_dir: Path) -> set[str]:
    """Every metric key the run logged with `log` (its history)."""
    return {
        item.key or "/".join(item.nested_key)
        for record in wandb_records(run_dir)
        if record.WhichOneof("record_type") == "history"
        for item in record.history.item
    }


# -- trained models for the inference tests --------------------------------------------------------
LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"
TRANSLATION_CKPT = LEGACY / "translation_lstm_bahdanau.ckpt"
TRANSLATION_MODEL = LEGACY / "translation_lstm_bahdanau.pt"
SUMMARIZATION_CKPT = LEGACY / "summarization_copy_coverage.ckpt"
QA_CKPT = LEGACY / "qa.ckpt"

DIALOGUES = [
    ("#Person1#: Where is the station? #Person2#: Two streets north.", "#Person1# asks the way."),
    ("#Person1#: Do you like tea? #Person2#: Yes, with milk.", "#Person2# likes tea with milk."),
    ("#Person1#: It is raining again. #Person2#: Take my umbrella.", "#Person2# lends one."),
    ("#Person1#: When does it open? #Person2#: At nine.", "The shop opens at nine."),
]


def summarizer_model_file(root: Path) -> Path:
    """A model file of a summarizer built on data=text_pairs (a CSV of dialogues and summaries;
    untrained: its kind is what the tests look at, not its quality)."""
    import csv

    from encdec import build

    with (root / "train.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["dialogue", "summary"])
        writer.writerows(DIALOGUES * 15)
    overrides = [
        o for o in SMALL if not o.startswith(("data.limit_train", "data.tokenizer.vocab_size"))
    ]
    overrides += [
        "task=summarization",
        "data=text_pairs",
        "data.splits.train=train.csv",
        "data.held_out_size=6",
        "data.tokenizer.vocab_size=120",
        "data.tokenizer.min_frequency=1",
        f"paths.data_dir={root}",
    ]
    task = build.assemble(compose_train(overrides, root / "run")).task
    return build.write_model_file(task, root / "summarizer.pt")


def retriever_model_file(root: Path, data_dir: Path) -> Path:
    """A model file of a dual encoder (task=retrieval) with its tokenizer learnt on a 300-question
    SQuAD slice (untrained: the tests look at indexing, hashes and refusals, not quality)."""
    from encdec import build

    overrides = [
        "task=retrieval",
        "data.limit_train=300",
        "data.limit_eval=60",
        "data.tokenizer.vocab_size=500",
        "model.embedding_dim=16",
        "model.hidden_dim=32",
        f"paths.data_dir={data_dir}",
    ]
    task = build.assemble(compose_train(overrides, root / "run")).task
    return build.write_model_file(task, root / "retriever.pt")


def run_bench(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python bench/<script> ARGS` as a user types it, with this checkout's src/ importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip
