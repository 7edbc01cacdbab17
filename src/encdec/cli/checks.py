"""Checks of user-facing options and checkpoints, before any work starts.

Each mistake ends in one paragraph naming the option, the bad value, what is allowed and the fix
(`run_friendly` prints it without a traceback). Unknown config-group names (`attention=foo`) are
caught earlier by Hydra, which lists the available options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

RNN_TYPES = ("lstm", "gru", "rnn", "transformer")


class ConfigError(ValueError):
    """An option with a value that cannot work; the message says which and how to fix it."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here (not encdec's, unreadable, or another config)."""


def _example(key: str) -> int:
    return {"task.beam_size": 5, "task.val_beam_size": 1, "beam_size": 5}.get(key, 256)


def encoder_output_dim(model: DictConfig) -> int:
    """The size of the encoder's per-token states, as encdec.models.Seq2Seq computes it."""
    directions = 2 if model.get("bidirectional", False) else 1
    return (model.get("encoder_hidden_dim") or model.hidden_dim // directions) * directions


def check_model(model: DictConfig) -> None:
    """Sizes, cell and attention of an RNN encoder-decoder (keys another model lacks are skipped)."""
    for key in ("hidden_dim", "encoder_layers", "decoder_layers", "num_heads"):
        if key in model:
            _positive_in(model, "model", key)
    # null: the default (encoder_hidden_dim) or the size of pretrained vectors (embedding_dim)
    for key in ("encoder_hidden_dim", "embedding_dim"):
        _positive_in(model, "model", key, allow_null=True)
    if "rnn_type" in model and model.rnn_type not in RNN_TYPES:
        raise ConfigError(
            f"model.rnn_type={model.rnn_type} is not a known recurrent cell. Allowed: "
            f"{', '.join(RNN_TYPES)}. Choose one with rnn=lstm (or gru, rnn, transformer)."
        )
    if "dropout" in model and not 0.0 <= float(model.dropout) < 1.0:
        raise ConfigError(
            f"model.dropout={model.dropout} is not a probability below 1. Use a value in "
            f"[0, 1), e.g. model.dropout=0.3."
        )
    if "num_heads" in model and model.hidden_dim % model.num_heads:
        raise ConfigError(
            f"model.hidden_dim={model.hidden_dim} cannot be split over model.num_heads="
            f"{model.num_heads} attention heads: it must be a multiple of it. Change either, "
            f"e.g. model.hidden_dim={model.num_heads * max(1, model.hidden_dim // model.num_heads)}."
        )
    attention = model.get("attention")
    if model.get("copy") or model.get("coverage"):
        if model.get("rnn_type") == "transformer" or attention is None:
            raise ConfigError(
                f"model.copy={model.get('copy')} / model.coverage={model.get('coverage')} act on "
                f"the attention of the RNN decoder; use rnn=lstm (or gru, rnn) with an attention "
                f"(e.g. attention=bahdanau), or set model.copy=false model.coverage=false."
            )
    if model.get("rnn_type") == "transformer":
        return  # the Transformer's attention is its own (num_heads, above)
    if attention is not None and attention.get("score") == "dot" and "hidden_dim" in model:
        key_dim, query_dim = encoder_output_dim(model), model.hidden_dim
        if key_dim != query_dim:
            raise ConfigError(
                f"attention=luong_dot compares decoder states (model.hidden_dim={query_dim}) with "
                f"encoder states of size {key_dim} (model.encoder_hidden_dim="
                f"{model.encoder_hidden_dim}, model.bidirectional={model.bidirectional}); the dot "
                f"score needs equal sizes. Make them equal (e.g. model.encoder_hidden_dim=null "
                f"with an even model.hidden_dim), or use attention=luong_general, which learns a "
                f"projection between the two sizes."
            )


def _positive_in(section: DictConfig, prefix: str, key: str, allow_null: bool = False) -> None:
    value = section.get(key)
    if value is None and allow_null:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        null = " (or null for the default)" if allow_null else ""
        name = f"{prefix}.{key}" if prefix else key
        raise ConfigError(
            f"{name}={value} is not allowed: it must be a positive whole number{null}. "
            f"Set it on the command line, e.g. {name}={_example(name)}."
        )


def check_train_config(cfg: DictConfig) -> None:
    """Every option `train.py` reads that a typo can break, checked before the data is loaded."""
    if cfg.model.get("rnn_type") == "transformer" and not cfg.task.get("_target_", "").endswith(
        "Seq2SeqTask"
    ):
        raise ConfigError(
            f"rnn=transformer builds a Transformer encoder-decoder; {cfg.task._target_} cannot "
            f"use it: its model is built from RNN encoders. Use rnn=lstm (or gru, rnn) with "
            f"this task, or rnn=transformer with task=translation or task=summarization."
        )
    check_model(cfg.model)
    for key in ("beam_size", "val_beam_size"):
        if key in cfg.task:
            _positive_in(cfg.task, "task", key)
    for key in ("vocab_size", "max_tokens", "max_len"):
        if key in cfg.data:
            _positive_in(cfg.data, "data", key)
    _positive_in(cfg.data, "data", "limit_train", allow_null=True)
    data_dir = Path(cfg.data.get("data_dir") or ".")
    # Only for corpora fetched from `download_url` (others, e.g. SQuAD, may come from the hub).
    if not data_dir.is_dir() and "download_url" in cfg.data and not cfg.data.download_url:
        raise ConfigError(
            f"paths.data_dir: the data folder {data_dir} does not exist. Set ENCDEC_DATA_DIR (or "
            f"paths.data_dir=...) to the folder holding the corpus, or set data.download_url to "
            f"fetch it."
        )


def check_decoding_options(cfg: DictConfig) -> None:
    """beam_size / max_length of eval.py and predict.py (null keeps the checkpoint's value)."""
    for key in ("beam_size", "max_length", "batch_size"):
        if key in cfg:
            _positive_in(cfg, "", key, allow_null=True)


def check_compatible(ckpt_path: str, saved: dict[str, Any], cfg: DictConfig) -> None:
    """Refuse to resume from a checkpoint whose task or model does not match this run's config."""
    current = OmegaConf.to_container(cfg, resolve=True)
    diffs = [
        f"{section}.{key}: checkpoint {saved_value!r}, this run {now_value!r}"
        for section in ("task", "model")
        for key in sorted(set(saved.get(section, {})) | set(current.get(section, {})))
        if key in ("_target_", *_SHAPE_KEYS.get(section, ()))
        and (saved_value := saved.get(section, {}).get(key))
        != (now_value := current.get(section, {}).get(key))
    ]
    if diffs:
        raise CheckpointError(
            f"Cannot resume from {ckpt_path}: it was trained with another task or model config "
            f"({'; '.join(diffs)}). Resume with the same settings, or start afresh with "
            f"resume=never (or another run_name)."
        )


#: The options whose change makes a checkpoint's weights unusable (other shapes or classes).
_SHAPE_KEYS = {
    "task": (),
    "model": (
        "vocab_size",
        "embedding_dim",
        "hidden_dim",
        "encoder_hidden_dim",
        "encoder_layers",
        "decoder_layers",
        "bidirectional",
        "rnn_type",
        "attention",
        "input_feeding",
        "bridge",
        "share_embeddings",
        "tie_embeddings",
        "num_heads",
        "ff_dim",
        "positions",
        "max_positions",
    ),
}
