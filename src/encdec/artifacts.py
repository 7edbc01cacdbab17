"""What encdec writes to disk and reads back: checkpoints and model files, their format
versions, and the migration of saved configs from earlier versions.

- `SavedModel`: the one record of what a checkpoint or model file carries besides the weights
  (config, tokenizer JSON and its hash, task kind, format version, ...). train.py, export, average
  and every loader write and read it through `to_dict` / `from_dict`.
- `read_checkpoint` / `read_model_file`: the file on the CPU (`torch.load(weights_only=True,
  mmap=True)`: tensors and plain values only, sizes known before anything is read), checked by
  encdec.trust before anything in it is built. Building the task is encdec.build's job.
- `upgrade_config`: a saved config of an earlier version in today's layout, by `UPGRADES`, an
  ordered list of steps (plain dict surgery: nothing is built).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from encdec.data.migrations import upgrade_v3 as upgrade_data_v3
from encdec.errors import CheckpointError
from encdec.files import atomic_save
from encdec.tasks.upgrade import upgrade_v3 as upgrade_task_v3
from encdec.trust import check_saved_config, check_state_dict, check_tokenizer_json

#: Version of the saved config layout in checkpoints and model files. 1: before the `model`
#: group chose the architecture; 2: before each config group built one object and data came from
#: sources (encdec.tasks.upgrade, encdec.data.migrations); 3: today's.
#: Each older version has a step in `UPGRADES`.
FORMAT_VERSION = 3
MODEL_FILE_FORMAT = "encdec-model"


def tokenizer_hash(tokenizer: Tokenizer) -> str:
    return hashlib.sha256(tokenizer.to_str().encode()).hexdigest()


@dataclass(frozen=True)
class SavedModel:
    """What a checkpoint (its "encdec" entry) or a model file carries besides the weights."""

    config: dict[str, Any]  # the resolved config it was trained with (today's layout once read)
    tokenizer: str  # the tokenizer's JSON
    tokenizer_sha256: str
    version: int = FORMAT_VERSION
    task_kind: str | None = None  # e.g. "translation"; None in files written before it was kept
    wandb_run_id: str | None = None  # the W&B run a resumed training continues
    averaged_from: tuple[str, ...] | None = None  # encdec.average: the checkpoints averaged

    @classmethod
    def new(
        cls, config: dict[str, Any], tokenizer: Tokenizer, task_kind: str | None = None
    ) -> SavedModel:
        """The record for a task being trained or just rebuilt (always today's version)."""
        return cls(config, tokenizer.to_str(), tokenizer_hash(tokenizer), task_kind=task_kind)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for torch.save (None entries are left out: older readers never had them)."""
        raw = dataclasses.asdict(self)
        if self.averaged_from is not None:
            raw["averaged_from"] = list(self.averaged_from)
        return {k: v for k, v in raw.items() if v is not None}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str) -> SavedModel:
        """The record of a file, checked (encdec.trust) and its config upgraded to today's."""
        version = raw.get("version", 1)
        if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
            raise CheckpointError(
                f"{source} was written in encdec format version {version!r}; this encdec reads "
                f"versions 1 to {FORMAT_VERSION}. Use the encdec that wrote it, or upgrade encdec."
            )
        config, tokenizer = raw.get("config"), raw.get("tokenizer")
        if not isinstance(config, dict) or not isinstance(tokenizer, str):
            raise CheckpointError(f"{source}: the config or the tokenizer is missing or malformed.")
        check_saved_config(config, source)
        check_tokenizer_json(tokenizer, source)
        optional = {k: raw.get(k) for k in ("task_kind", "wandb_run_id")}
        for key, value in optional.items():
            if value is not None and not isinstance(value, str):
                raise CheckpointError(f"{source}: {key} is not a string; the file is refused.")
        averaged = raw.get("averaged_from")
        return cls(
            config=upgrade_config(config, version),
            tokenizer=tokenizer,
            tokenizer_sha256=hashlib.sha256(tokenizer.encode()).hexdigest(),
            version=FORMAT_VERSION,
            averaged_from=tuple(map(str, averaged)) if isinstance(averaged, list) else None,
            **optional,
        )


# -- migration -------------------------------------------------------------------------------------
#: Decoding options a version-1 Seq2SeqTask config held at its top level.
_DECODING_KEYS = (
    "beam_size",
    "val_beam_size",
    "length_penalty",
    "max_len_ratio",
    "max_len_offset",
    "max_len_cap",
    "min_length",
    "no_repeat_ngram_size",
)
#: Options a version-1 Transformer config carried (and ignored) for the RNN's sake.
_RNN_ONLY = (
    "rnn_type",
    "attention",
    "encoder_hidden_dim",
    "bidirectional",
    "input_feeding",
    "bridge",
    "copy",
    "coverage",
)


def upgrade_v2(config: dict[str, Any]) -> dict[str, Any]:
    """Version 1 -> 2: the `model` group chooses the architecture; embeddings, compile and the
    decoding options moved out of the model / task top level."""
    model, task = config.setdefault("model", {}), config.setdefault("task", {})
    embedding = model.pop("embedding", None) or {}
    model["freeze_embeddings"] = bool(embedding.get("freeze", False))
    config.setdefault(
        "embeddings",
        {"vectors": embedding.get("pretrained"), "word2vec": embedding.get("word2vec")},
    )
    task.setdefault("compile", bool(model.pop("compile", False)))
    if model.get("_target_") == "encdec.models.TransformerSeq2Seq":
        for key in _RNN_ONLY:
            model.pop(key, None)
    if task.get("_target_") == "encdec.tasks.Seq2SeqTask":
        decoding = {k: task.pop(k) for k in _DECODING_KEYS if k in task}
        task["decoding"] = {"_target_": "encdec.decoding.DecodingSettings", **decoding}
    config.pop("checkpoint_filename", None)
    return config


#: (version a step reads, the step): applied in order to every saved config older than
#: FORMAT_VERSION. A new layout adds its step here (e.g. (2, upgrade_v3): version 2 -> 3, whose
#: node upgrades live with their owners: data, task) and raises FORMAT_VERSION.
UPGRADES: list[tuple[int, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    (1, upgrade_v2),
    (2, lambda config: upgrade_data_v3(upgrade_task_v3(config))),  # the task node, the data node
]


def upgrade_config(config: dict[str, Any], version: int) -> dict[str, Any]:
    """A saved config of an earlier layout in today's (plain dict surgery: nothing is built)."""
    config = copy.deepcopy(config)
    for reads, step in UPGRADES:
        if version <= reads:
            config = step(config)
    return config


# -- files -----------------------------------------------------------------------------------------
def torch_load(path: Path, what: str, map_location: Any = "cpu") -> Any:
    """Tensors and plain values only; memory-mapped, so a tensor's declared size costs nothing
    until it is read (encdec.trust checks the sizes first)."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}.")
    try:
        try:
            return torch.load(path, map_location=map_location, weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):  # the legacy (non-zip) format cannot be mapped
                raise
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        found = [line for line in lines if "GLOBAL" in line]
        if not found:  # no object to build, just bytes that are not a file torch wrote
            reason = next((line for line in lines if line.startswith("Unsupported")), lines[-1])
            raise CheckpointError(
                f"{path} is not a readable {what.lower()} ({reason}). It may be truncated or not "
                f"a {what.lower()} at all."
            ) from None
        raise CheckpointError(
            f"{path} holds more than tensors and plain values, so it is refused unread: loading "
            f"it could run code ({found[0].strip()}). Use a file written by encdec."
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, RecursionError) as err:
        raise CheckpointError(
            f"{path} is not a readable {what.lower()} ({str(err)[:300]}). It may be truncated or "
            f"not a {what.lower()} at all."
        ) from None


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], SavedModel]:
    """A train.py checkpoint on the CPU and its record, checked (nothing built)."""
    path = Path(path)
    ckpt = torch_load(path, "Checkpoint")
    extras = ckpt.get("encdec") if isinstance(ckpt, dict) else None
    if not isinstance(extras, dict) or "config" not in extras or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} was not written by encdec's train.py (it has no 'encdec' entry with the "
            f"config and tokenizer). Pass a checkpoint from a train.py run's checkpoints/ folder."
        )
    saved = SavedModel.from_dict(extras, str(path))
    ckpt["state_dict"] = check_state_dict(ckpt["state_dict"], str(path))
    return ckpt, saved


def read_model_file(
    path: str | Path, map_location: Any = "cpu"
) -> tuple[dict[str, Any], SavedModel]:
    """A file written by `write_model_file` (any version this encdec reads), checked."""
    path = Path(path)
    package = torch_load(path, "Model file", map_location)
    fmt = package.get("format") if isinstance(package, dict) else None
    if fmt == f"{MODEL_FILE_FORMAT}/1":  # version 1 named its version in the format string
        package = {**package, "version": 1}
    elif fmt != MODEL_FILE_FORMAT:
        raise CheckpointError(
            f"{path} is not an exported encdec model. Export a train.py checkpoint with: "
            f"python -m encdec.export ckpt_path=<file>.ckpt out={path}"
        )
    saved = SavedModel.from_dict(package, str(path))
    package["state_dict"] = check_state_dict(package.get("state_dict") or {}, str(path))
    return package, saved


def write_model_file(
    saved: SavedModel, state_dict: Mapping[str, torch.Tensor], out: str | Path
) -> Path:
    """One file with the weights, the tokenizer and the config (no trainer state)."""
    package = {"format": MODEL_FILE_FORMAT, **saved.to_dict(), "state_dict": dict(state_dict)}
    package.pop("tokenizer_sha256", None)
    out = Path(out)
    atomic_save(package, out)
    return out


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (by device and inode: hard links and symlinks too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_overwriting(inputs: list[Path], out: Path, option: str) -> None:
    """A command never writes over one of its own inputs (compared by identity, not name)."""
    for source in inputs:
        if same_file(source, out):
            raise CheckpointError(
                f"{option}={out} is the input {source} (the same file): writing it would destroy "
                f"the input. Choose another {option}."
            )
