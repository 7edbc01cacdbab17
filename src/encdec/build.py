"""The one assembly path: a config becomes a datamodule, a network and a task; a checkpoint or a
model file becomes a ready task.

Training, evaluation, prediction, export, `encdec.load` and the tests all build through here, and
nothing else instantiates model or task configs. Files are data, never code: tensors are read with
`torch.load(weights_only=True)`, and a saved config is built only when every `_target_` in it names
a class on this module's allowlist (`ALLOWED_TARGETS`, or a torch optimizer / LR scheduler);
anything else is refused before anything is built, naming the key and the value.

To add a model, a task or a data source of your own: write the class, give it a config file with
its `_target_`, and add its dotted name to `ALLOWED_TARGETS` (docs/extending.md).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import logging
import pickle
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from tokenizers import Tokenizer
from torch import nn

from encdec.data.base import BucketedDataModule
from encdec.data.migrations import upgrade_v3
from encdec.data.tokenization import PAD, placeholder_tokenizer
from encdec.data.word2vec import Word2VecSettings, cached_word2vec
from encdec.errors import CheckpointError, ConfigError
from encdec.files import atomic_save
from encdec.models.embedding import EmbeddingFileError, load_pretrained, sniff_format
from encdec.tasks.base import Task

log = logging.getLogger(__name__)

#: The classes a config (a checkpoint's or model file's above all) may name in `_target_`.
ALLOWED_TARGETS = frozenset(
    {
        # this project's own
        "encdec.models.Seq2Seq",
        "encdec.models.TransformerSeq2Seq",
        "encdec.models.DocumentReader",
        "encdec.models.attention.BahdanauAttention",
        "encdec.models.attention.LuongAttention",
        "encdec.tasks.Seq2SeqTask",
        "encdec.tasks.QATask",
        "encdec.decoding.DecodingSettings",
        "encdec.data.seq2seq.Seq2SeqDataModule",
        "encdec.data.qa.QADataModule",
        "encdec.data.sources.Files",
        "encdec.data.sources.Hub",
        "encdec.data.sources.QAFiles",
        # written by encdec before format 3 (rewritten by encdec.data.migrations.upgrade_v3)
        "encdec.data.datamodule.TranslationDataModule",
        "encdec.data.datamodule.DialogSumDataModule",
        "encdec.data.squad.SquadDataModule",
        "encdec.data.pairs.TextPairsDataModule",
        "encdec.data.pairs.HFPairsDataModule",
        "encdec.checkpoint_io.AtomicCheckpointIO",
        "encdec.callbacks.AttentionHeatmaps",
        "encdec.callbacks.GradNormMonitor",
        "encdec.callbacks.InterruptCheckpoint",
        "encdec.callbacks.RngState",
        "encdec.callbacks.SampleTable",
        "encdec.callbacks.StopOnNonFiniteLoss",
        "encdec.callbacks.TokenThroughput",
        "encdec.loggers.WandbLogger",
        # Lightning's, as this project's config uses them
        "lightning.pytorch.Trainer",
        "lightning.pytorch.callbacks.ModelCheckpoint",
        "lightning.pytorch.callbacks.LearningRateMonitor",
        "lightning.pytorch.callbacks.RichProgressBar",
        "lightning.pytorch.callbacks.RichModelSummary",
        "lightning.pytorch.callbacks.EarlyStopping",
        "lightning.pytorch.strategies.DDPStrategy",
        "lightning.pytorch.loggers.CSVLogger",
        "lightning.pytorch.loggers.TensorBoardLogger",
        # written by encdec before model format 2 (dropped by `upgrade_config`)
        "encdec.models.EmbeddingInit",
    }
)

#: The Hydra keys a saved config may hold.
_HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_"}


def allowed_target(target: object) -> bool:
    """On the allowlist, or a torch optimizer / LR scheduler class by its public name."""
    if not isinstance(target, str):
        return False
    if target in ALLOWED_TARGETS:
        return True
    module, _, name = target.rpartition(".")
    if module == "torch.optim":
        candidate = getattr(torch.optim, name, None)
        base: type = torch.optim.Optimizer
    elif module == "torch.optim.lr_scheduler":
        candidate = getattr(torch.optim.lr_scheduler, name, None)
        base = torch.optim.lr_scheduler.LRScheduler
        if name == "ReduceLROnPlateau":
            return True
    else:
        return False
    # LambdaLR only makes sense with a function, which a saved config has no business naming.
    return isinstance(candidate, type) and issubclass(candidate, base) and name != "LambdaLR"


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, key, value) of every entry of nested dicts / lists."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, key, value
            yield from _walk(value, child)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def check_targets(config: Any, source: str) -> None:
    """Refuse a config that names anything but allowlisted classes (nothing is built yet)."""
    for key_path, key, value in _walk(config, ""):
        if isinstance(value, str) and "${" in value:  # a resolver could read the environment
            raise CheckpointError(
                f"{source}: {key_path}={value!r} is an interpolation; encdec saves resolved "
                f"values only, so the file is refused."
            )
        if key == "_target_" and not allowed_target(value):
            raise CheckpointError(
                f"{source}: {key_path}={value!r} is not a class encdec builds, so the file is "
                f"refused (a shared file could run code this way). Nothing was built. Use a "
                f"file written by encdec's own train.py / export, or add your class to "
                f"encdec.build.ALLOWED_TARGETS if you wrote it."
            )
        hydra_key = isinstance(key, str) and key.startswith("_") and key.endswith("_")
        if hydra_key and key not in _HYDRA_KEYS:  # _args_ could smuggle positional values
            raise CheckpointError(
                f"{source}: {key_path} is not an option encdec writes; the file is refused."
            )


def check_options(section: Any, name: str) -> None:
    """Every key of every `_target_` block must be an argument of its class: a message naming
    the unknown option and the class's options (e.g. an RNN-only option given to the
    Transformer), before anything is built."""
    container = (
        OmegaConf.to_container(section, resolve=True)
        if isinstance(section, DictConfig)
        else section
    )
    blocks = [(name, container)] + [
        (f"{name}.{path}", value)
        for path, _, value in _walk(container, "")
        if isinstance(value, Mapping) and "_target_" in value
    ]
    for where, block in blocks:
        if not isinstance(block, Mapping) or "_target_" not in block:
            continue
        try:
            cls = get_class(block["_target_"])
        except Exception:  # a function or a bad name: instantiate says what is wrong
            continue
        params = inspect.signature(cls).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        unknown = [k for k in block if k not in params and k not in _HYDRA_KEYS]
        if unknown:
            options = ", ".join(p for p in params if p not in ("self", "net", "tokenizer"))
            raise ConfigError(
                f"{', '.join(f'{where}.{k}' for k in unknown)}: not an option of "
                f"{block['_target_']} (its options: {options}). Remove it, or choose the "
                f"model / task that takes it."
            )


def _instantiate(section: Any, name: str, **kwargs: Any) -> Any:
    """instantiate, with its errors (a constructor's own checks) as one ConfigError line."""
    try:
        return instantiate(section, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, ValueError) and type(cause) is not ValueError:
            raise cause from None  # already one of encdec's messages (ConfigError, DataError...)
        where = ".".join(p for p in (name, getattr(err, "full_key", "")) if p)
        message = str(cause)
        raise ConfigError(
            message if message.startswith(f"{name}.") else f"{where}: {message}"
        ) from None


# -- config -> objects ------------------------------------------------------------------------------
@dataclass
class Embeddings:
    """How the token embeddings start (`embeddings.*` of train.yaml): random, from a vectors file
    (Word2Vec / GloVe, text or binary), or from Word2Vec learnt on the training text first."""

    vectors: str | None = None
    word2vec: dict | None = None

    def __post_init__(self) -> None:
        if self.vectors and self.word2vec is not None:
            raise EmbeddingFileError(
                "embeddings.vectors and embeddings.word2vec are both set: the vectors come either "
                "from a file or from Word2Vec on the training text. Set one to null."
            )

    @classmethod
    def from_config(cls, cfg: DictConfig) -> Embeddings:
        section = cfg.get("embeddings") or {}
        options = OmegaConf.to_container(section, resolve=True) if section else {}
        return cls(**options)

    def word2vec_settings(self) -> Word2VecSettings | None:
        if self.word2vec is None:
            return None
        try:
            return Word2VecSettings(**self.word2vec)
        except TypeError as err:
            raise EmbeddingFileError(
                f"embeddings.word2vec: {err}; the options are epochs, window, min_count, "
                f"workers, seed."
            ) from None

    def dimension(self, configured: int | None) -> int:
        """`model.embedding_dim=null` takes the dimension of the vectors file."""
        if configured is not None:
            return configured  # a number: load_pretrained checks that the file agrees
        if not self.vectors:
            raise EmbeddingFileError(
                "model.embedding_dim=null takes the size from embeddings.vectors, which is not "
                "set: give a number (model.embedding_dim=256; embeddings.word2vec needs one) or "
                "a vectors file."
            )
        return sniff_format(self.vectors)[2]

    def apply(self, net: nn.Module, datamodule: BucketedDataModule, dim: int) -> None:
        """Fill the network's embedding matrices (training only: a checkpoint holds them)."""
        path = self.vectors
        settings = self.word2vec_settings()
        if settings is not None:
            path = cached_word2vec(
                datamodule.training_texts(),
                datamodule.tokenizer,
                dim,
                settings,
                datamodule.cache_dir,
            )
        if path:
            load_pretrained(net.embeddings(), datamodule.tokenizer.get_vocab(), path)


def build_datamodule(data: DictConfig, **overrides: Any) -> BucketedDataModule:
    return _instantiate(data, "data", **overrides)


def build_network(
    model: DictConfig, tokenizer: Tokenizer, embedding_dim: int | None = None
) -> nn.Module:
    """The network of `model` for this tokenizer's vocabulary."""
    extra = {} if embedding_dim is None else {"embedding_dim": embedding_dim}
    return _instantiate(
        model,
        "model",
        vocab_size=tokenizer.get_vocab_size(),
        pad_id=tokenizer.token_to_id(PAD),
        **extra,
    )


def build_task(task: DictConfig, net: nn.Module, tokenizer: Tokenizer) -> Task:
    return _instantiate(task, "task", net=net, tokenizer=tokenizer)


def check_config(cfg: DictConfig) -> None:
    """Every constructor's own checks, run before any data loads: the datamodule is constructed
    (it reads nothing yet), the network and task are built once on a placeholder vocabulary.
    A mistake ends here as one ConfigError line. Random state is left as it was."""
    for name in ("data", "model", "task"):
        check_options(cfg[name], name)
    build_datamodule(cfg.data)
    embeddings = Embeddings.from_config(cfg)
    embeddings.word2vec_settings()
    with torch.random.fork_rng(devices=[]):
        tok = placeholder_tokenizer()
        net = build_network(cfg.model, tok, embeddings.dimension(cfg.model.embedding_dim))
        build_task(cfg.task, net, tok)


@dataclass
class Assembled:
    """What training needs: the prepared datamodule (its tokenizer trained) and the task."""

    datamodule: BucketedDataModule
    task: Task


def assemble(cfg: DictConfig) -> Assembled:
    """Config -> datamodule (data prepared, tokenizer trained or loaded), network (embeddings
    initialised as `embeddings.*` says) and task, for training."""
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    embeddings = Embeddings.from_config(cfg)
    dim = embeddings.dimension(cfg.model.embedding_dim)
    net = build_network(cfg.model, datamodule.tokenizer, dim)
    embeddings.apply(net, datamodule, dim)
    task = build_task(cfg.task, net, datamodule.tokenizer)
    task.checkpoint_extras = {
        "version": FORMAT_VERSION,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "tokenizer_sha256": tokenizer_hash(datamodule.tokenizer),
    }
    return Assembled(datamodule, task)


# -- files -> task --------------------------------------------------------------------------------
#: Version of the saved config layout in checkpoints and model files. 1: before the `model`
#: group chose the architecture (read by `upgrade_config`); 2: five datamodule classes, before
#: data sources (encdec.data.migrations); 3: today's.
FORMAT_VERSION = 3
MODEL_FILE_FORMAT = "encdec-model"
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


def tokenizer_hash(tokenizer: Tokenizer) -> str:
    return hashlib.sha256(tokenizer.to_str().encode()).hexdigest()


def upgrade_config(config: dict[str, Any], version: int) -> dict[str, Any]:
    """A saved config of an earlier layout in today's (plain dict surgery: nothing is built)."""
    config = copy.deepcopy(config)
    if version >= 2:
        return upgrade_v3(config) if version < 3 else config
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
    return upgrade_v3(config)


@dataclass
class Loaded:
    """A trained task rebuilt from a file, its (upgraded) config, and the datamodule if asked."""

    task: Task
    config: DictConfig
    datamodule: BucketedDataModule | None = None


def _torch_load(path: Path, what: str, map_location: Any = "cpu") -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}.")
    try:
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
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise CheckpointError(
            f"{path} is not a readable {what.lower()} ({err}). It may be truncated or not a "
            f"{what.lower()} at all."
        ) from None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A train.py checkpoint on the CPU, its config checked against the allowlist."""
    path = Path(path)
    ckpt = _torch_load(path, "Checkpoint")
    extras = ckpt.get("encdec") if isinstance(ckpt, dict) else None
    if not isinstance(extras, dict) or "config" not in extras or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} was not written by encdec's train.py (it has no 'encdec' entry with the "
            f"config and tokenizer). Pass a checkpoint from a train.py run's checkpoints/ folder."
        )
    _check_saved(extras, str(path))
    return ckpt


def _check_saved(saved: Mapping[str, Any], source: str) -> None:
    """The parts of a file that get built: the config's targets, the version, the tokenizer."""
    version = saved.get("version", 1)
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"{source} was written in encdec format version {version!r}; this encdec reads "
            f"versions 1 to {FORMAT_VERSION}. Use the encdec that wrote it, or upgrade encdec."
        )
    if not isinstance(saved.get("config"), dict) or not isinstance(saved.get("tokenizer"), str):
        raise CheckpointError(f"{source}: the config or the tokenizer is missing or malformed.")
    check_targets(saved["config"], source)


def _rebuild(
    saved: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    task_overrides: Mapping[str, Any] | None = None,
) -> tuple[Task, DictConfig]:
    """Network + task of a saved config (upgraded to today's layout) with the saved weights."""
    version = saved.get("version", 1)
    config = OmegaConf.create(upgrade_config(saved["config"], version))
    if task_overrides:  # only options the saved task has (a QA task has no decoding)
        known = {k: v for k, v in task_overrides.items() if k in config.task}
        config.task = OmegaConf.merge(config.task, known)
    try:
        tok = Tokenizer.from_str(saved["tokenizer"])
    except Exception as err:  # the Rust parser's own error types
        raise CheckpointError(f"{source}: the saved tokenizer is unreadable ({err}).") from None
    try:
        check_options(config.model, "model")
        check_options(config.task, "task")
        task = build_task(config.task, build_network(config.model, tok), tok)
    except ConfigError as err:
        raise CheckpointError(f"{source}: {err}") from None
    try:
        task.load_state_dict(state_dict)
    except RuntimeError as err:  # missing / unexpected keys, other shapes
        raise CheckpointError(f"{source}: the weights do not fit the saved config: {err}") from None
    task.checkpoint_extras = {
        "version": FORMAT_VERSION,
        "config": OmegaConf.to_container(config),
        "tokenizer_sha256": tokenizer_hash(tok),
    }
    return task.eval(), config


def load_checkpoint(
    path: str | Path,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    with_data: bool = False,
    task_overrides: Mapping[str, Any] | None = None,
    data_overrides: Mapping[str, Any] | None = None,
) -> Loaded:
    """A train.py checkpoint -> the trained task (and, `with_data`, its datamodule with the
    checkpoint's tokenizer; `data_dir` re-points the data at this machine's copy, keeping the
    corpus sub-folder). `task_overrides` change task options, e.g. {"decoding": {...}}, before
    the task is built, so the trained task is never changed under anyone. `data_overrides`
    (the user's own, e.g. {"splits": {"test": "val"}}: trusted) are merged over the saved data
    options, e.g. to score another test set."""
    ckpt = read_checkpoint(path)
    extras = ckpt["encdec"]
    task, config = _rebuild(extras, ckpt["state_dict"], str(path), task_overrides)
    datamodule = None
    if with_data:
        overrides: dict[str, Any] = {}
        if data_dir is not None:
            overrides["data_dir"] = str(Path(data_dir) / corpus_folder(config))
        if cache_dir is not None:
            overrides["cache_dir"] = cache_dir
        data = config.data
        if data_overrides:
            data = OmegaConf.merge(data, OmegaConf.create(dict(data_overrides)))
        datamodule = build_datamodule(data, **overrides)
        datamodule.tokenizer = task.tokenizer
    return Loaded(task, config, datamodule)


def corpus_folder(config: DictConfig) -> Path:
    """Where a saved config's data lives relative to its data root (`multi30k` for Multi30k,
    `.` for a user's corpus read from `paths.data_dir` itself)."""
    folder = Path(config.data.data_dir)
    root = OmegaConf.select(config, "paths.data_dir")
    if root is not None and folder.is_relative_to(root):
        return folder.relative_to(root)
    return Path(folder.name)


def load_model_file(path: str | Path, map_location: Any = "cpu") -> Loaded:
    """A file written by `write_model_file` (any version this encdec reads) -> the task."""
    path = Path(path)
    package = _torch_load(path, "Model file", map_location)
    fmt = package.get("format") if isinstance(package, dict) else None
    if fmt == f"{MODEL_FILE_FORMAT}/1":  # version 1 named its version in the format string
        package = {**package, "version": 1}
    elif fmt != MODEL_FILE_FORMAT:
        raise CheckpointError(
            f"{path} is not an exported encdec model. Export a train.py checkpoint with: "
            f"python -m encdec.export ckpt_path=<file>.ckpt out={path}"
        )
    _check_saved(package, str(path))
    task, config = _rebuild(package, package.get("state_dict") or {}, str(path))
    return Loaded(task.to(map_location), config)


def write_model_file(task: Task, out: str | Path) -> Path:
    """One file with the weights, the tokenizer and the config (no trainer state)."""
    extras = task.checkpoint_extras
    package = {
        "format": MODEL_FILE_FORMAT,
        "version": FORMAT_VERSION,
        "config": extras["config"],
        "tokenizer": task.tokenizer.to_str(),
        "state_dict": task.state_dict(),
    }
    out = Path(out)
    atomic_save(package, out)
    return out


def export_model(ckpt_path: str | Path, out: str | Path) -> Path:
    """The model of a train.py checkpoint as one file (what `python -m encdec.export` does)."""
    return write_model_file(load_checkpoint(ckpt_path).task, out)


def check_resume(ckpt: Mapping[str, Any], path: str, task: Task) -> None:
    """A checkpoint to resume (or fine-tune) from must hold this run's network and tokenizer:
    weights paired with other token ids would train on silently."""
    saved = ckpt["encdec"]
    saved_tok = Tokenizer.from_str(saved["tokenizer"])
    if tokenizer_hash(saved_tok) != tokenizer_hash(task.tokenizer):
        raise CheckpointError(
            f"Cannot resume from {path}: it was trained with another tokenizer (its vocabulary "
            f"or token ids differ from this run's, e.g. another data.tokenizer.vocab_size, tokenizer= or "
            f"corpus). Resume with the same data settings, or start afresh with resume=never."
        )
    try:
        task.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"Cannot resume from {path}: it was trained with another model config ({err}). "
            f"Resume with the same settings, or start afresh with resume=never (or another "
            f"run_name)."
        ) from None
